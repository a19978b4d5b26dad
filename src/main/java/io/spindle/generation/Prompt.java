package io.spindle.generation;

import io.spindle.text.ChatMessage;

import java.util.List;

/** What to continue: text, token ids, or a conversation rendered through the model's chat template. */
public sealed interface Prompt {
    record Text(String text) implements Prompt {
    }

    record Tokens(int[] ids) implements Prompt {
    }

    record Chat(List<ChatMessage> messages) implements Prompt {
    }
}
