package io.spindle.generation;

import io.spindle.text.ChatMessage;

import java.util.List;

/** What to continue: text, token ids, or a conversation rendered through the model's chat template. */
public sealed interface Prompt {
    record Text(String text) implements Prompt {
    }

    record Tokens(int[] ids) implements Prompt {
    }

    /**
     * @param tools the offered tools for the chat template, as plain maps in OpenAI's
     *              {@code {"type": "function", "function": {...}}} shape; empty for none
     */
    record Chat(List<ChatMessage> messages, List<Object> tools) implements Prompt {
        public Chat {
            tools = tools == null ? List.of() : List.copyOf(tools);
        }

        public Chat(List<ChatMessage> messages) {
            this(messages, List.of());
        }
    }
}
