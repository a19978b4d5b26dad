package io.spindle.text;

/** One turn of a conversation, with its content already flattened to text. */
public record ChatMessage(String role, String content) {
}
