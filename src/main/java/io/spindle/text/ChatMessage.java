package io.spindle.text;

import java.util.List;

/**
 * One turn of a conversation, with its content already flattened to text.
 *
 * @param name       the participant's name, or null
 * @param toolCallId for a {@code tool} message: the call it answers, or null
 * @param toolCalls  for an {@code assistant} message: the calls it made (empty when none)
 */
public record ChatMessage(String role, String content, String name, String toolCallId, List<ToolCallMessage> toolCalls) {
    public ChatMessage {
        toolCalls = toolCalls == null ? List.of() : List.copyOf(toolCalls);
    }

    public ChatMessage(String role, String content) {
        this(role, content, null, null, List.of());
    }

    /**
     * A call an assistant message made, as chat templates read it.
     *
     * @param arguments the arguments as a JSON value of plain Java maps and lists when they parse
     *                  (templates write them with {@code tojson}), else the text as sent
     */
    public record ToolCallMessage(String id, String name, Object arguments) {
    }
}
