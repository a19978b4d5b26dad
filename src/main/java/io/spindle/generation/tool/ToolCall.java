package io.spindle.generation.tool;

/**
 * One call as the model wrote it.
 *
 * @param arguments the arguments' JSON text as generated (cut short when the output was)
 */
public record ToolCall(String id, String name, String arguments) {
}
