package io.spindle.generation.tool;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.util.Iterator;
import java.util.List;
import java.util.Map;

/**
 * The text a forced tool call is generated as: a compact JSON array of calls,
 * {@code [{"name":"get_weather","arguments":{"city":"Paris"}}]}, held to a JSON Schema built from the
 * offered functions. One array form for every forced choice keeps one reader
 * ({@link ToolCallParser}): a named function is an array of exactly that one call; {@code required}
 * is one or more calls of any tool, or exactly one when parallel calls are off.
 *
 * <p>Each function's parameters go under the schema's {@code $defs} as
 * {@code tools[i].function.parameters} (so a problem in one is reported under that name), with the
 * {@code $ref}s inside rewritten to point below it, since a reference is resolved from the
 * document's root.
 */
public final class ToolCallFormat {
    private static final ObjectMapper JSON = new ObjectMapper();

    private ToolCallFormat() {
    }

    /**
     * The schema a {@code choice} holds the output to, or null when it does not force a call
     * ({@code none}, {@code auto}).
     *
     * @param tools    the offered functions, in request order
     * @param parallel OpenAI's {@code parallel_tool_calls}: more than one call allowed ({@code required} only)
     */
    public static String schema(List<ToolSpec> tools, ToolChoice choice, boolean parallel) {
        return switch (choice) {
            case ToolChoice.None n -> null;
            case ToolChoice.Auto a -> null;
            case ToolChoice.Required r -> arrayOf(tools, tools, parallel ? -1 : 1);
            case ToolChoice.Named named -> arrayOf(tools, tools.stream().filter(t -> t.name().equals(named.name())).toList(), 1);
        };
    }

    private static String arrayOf(List<ToolSpec> all, List<ToolSpec> callable, int maxItems) {
        ObjectNode root = JSON.createObjectNode();
        ObjectNode defs = JSON.createObjectNode();
        ArrayNode anyOf = JSON.createArrayNode();
        for (ToolSpec t : callable) {
            String def = "tools[" + all.indexOf(t) + "].function.parameters";
            defs.set(def, parameters(t.parameters(), def));
            ObjectNode call = JSON.createObjectNode();
            call.put("type", "object");
            ObjectNode props = call.putObject("properties");
            props.putObject("name").put("const", t.name());
            props.putObject("arguments").put("$ref", "#/$defs/" + def);
            call.putArray("required").add("name").add("arguments");
            call.put("additionalProperties", false);
            anyOf.add(call);
        }
        root.put("type", "array");
        root.set("items", anyOf.size() == 1 ? anyOf.get(0) : JSON.createObjectNode().set("anyOf", anyOf));
        root.put("minItems", 1);
        if (maxItems > 0) {
            root.put("maxItems", maxItems);
        }
        root.set("$defs", defs);
        return root.toString();
    }

    /** A copy of one function's parameters (an empty object when none) whose local references point to where it now sits. */
    private static JsonNode parameters(JsonNode parameters, String def) {
        if (parameters == null || parameters.isNull()) {
            ObjectNode none = JSON.createObjectNode();
            none.put("type", "object");
            none.putObject("properties");
            none.put("additionalProperties", false);
            return none;
        }
        return rewriteRefs(parameters.deepCopy(), "#/$defs/" + def);
    }

    /** Every {@code $ref} that points into the document ({@code #/…}) now points into {@code base}. */
    private static JsonNode rewriteRefs(JsonNode node, String base) {
        if (node instanceof ObjectNode o) {
            JsonNode ref = o.get("$ref");
            if (ref != null && ref.isTextual() && (ref.asText().equals("#") || ref.asText().startsWith("#/"))) {
                o.put("$ref", base + ref.asText().substring(1));
            }
            for (Iterator<Map.Entry<String, JsonNode>> it = o.fields(); it.hasNext(); ) {
                rewriteRefs(it.next().getValue(), base);
            }
        } else if (node instanceof ArrayNode a) {
            for (JsonNode child : a) {
                rewriteRefs(child, base);
            }
        }
        return node;
    }
}
