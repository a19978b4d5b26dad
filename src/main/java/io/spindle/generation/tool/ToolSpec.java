package io.spindle.generation.tool;

import com.fasterxml.jackson.databind.JsonNode;

import java.util.regex.Pattern;

/**
 * A function the model may call: OpenAI's {@code tools[i].function}.
 *
 * @param name        what the call names ({@code ^[a-zA-Z0-9_-]{1,64}$}, as OpenAI requires)
 * @param description for the chat template; may be null
 * @param parameters  a JSON Schema of the arguments object; null when the function takes none
 */
public record ToolSpec(String name, String description, JsonNode parameters) {
    /** OpenAI's rule for function names; it also keeps names free of anything JSON would escape. */
    public static final Pattern NAME = Pattern.compile("[a-zA-Z0-9_-]{1,64}");
}
