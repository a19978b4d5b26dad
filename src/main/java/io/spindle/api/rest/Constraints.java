package io.spindle.api.rest;

import com.fasterxml.jackson.databind.JsonNode;
import io.spindle.engine.request.SpindleException;
import io.spindle.generation.OutputConstraint;
import io.spindle.sampling.constraint.ConstraintSpec;

import java.util.ArrayList;
import java.util.List;

/**
 * The structured-output fields of each API, read into one {@link OutputConstraint}: OpenAI's
 * {@code response_format} ({@code json_object}, {@code json_schema}), vLLM's {@code guided_json},
 * {@code guided_regex} and {@code guided_choice}, TGI's {@code grammar} ({@code json}, {@code regex}).
 * At most one per request; the constraint itself is checked when it is compiled (a 400 naming the field).
 */
final class Constraints {
    private Constraints() {
    }

    /** OpenAI completions and chat (with vLLM's extensions); null when none is asked for. */
    static OutputConstraint openAi(JsonNode responseFormat, JsonNode guidedJson, String guidedRegex, List<String> guidedChoice) {
        List<OutputConstraint> found = new ArrayList<>();
        if (responseFormat != null && !responseFormat.isNull()) {
            OutputConstraint c = responseFormat(responseFormat);
            if (c != null) {
                found.add(c);
            }
        }
        if (guidedJson != null && !guidedJson.isNull()) {
            found.add(new OutputConstraint("guided_json", new ConstraintSpec.JsonSchema(schemaText(guidedJson, "guided_json"))));
        }
        if (guidedRegex != null) {
            found.add(new OutputConstraint("guided_regex", new ConstraintSpec.Regex(guidedRegex)));
        }
        if (guidedChoice != null) {
            found.add(new OutputConstraint("guided_choice", new ConstraintSpec.Choice(guidedChoice)));
        }
        if (found.size() > 1) {
            throw SpindleException.invalid(found.get(1).field(), "send one of response_format, guided_json, "
                    + "guided_regex and guided_choice; this request sets " + found.get(0).field() + " and "
                    + found.get(1).field());
        }
        return found.isEmpty() ? null : found.getFirst();
    }

    private static OutputConstraint responseFormat(JsonNode f) {
        String type = f.path("type").asText("");
        return switch (type) {
            case "text" -> null;
            case "json_object" -> new OutputConstraint("response_format", new ConstraintSpec.JsonObject());
            case "json_schema" -> {
                JsonNode schema = f.path("json_schema").path("schema");
                if (!schema.isObject() && !schema.isBoolean()) {
                    throw SpindleException.invalid("response_format", "response_format of type json_schema needs "
                            + "json_schema.schema, a JSON Schema object");
                }
                yield new OutputConstraint("response_format", new ConstraintSpec.JsonSchema(schema.toString()));
            }
            default -> throw SpindleException.invalid("response_format", "response_format.type must be text, "
                    + "json_object or json_schema; got '" + type + "'");
        };
    }

    /** TGI's {@code parameters.grammar}: {@code {"type": "json", "value": schema}} or {@code {"type": "regex", "value": "…"}}. */
    static OutputConstraint tgi(JsonNode grammar) {
        if (grammar == null || grammar.isNull()) {
            return null;
        }
        String type = grammar.path("type").asText("");
        JsonNode value = grammar.get("value");
        if (value == null || value.isNull()) {
            throw SpindleException.invalid("grammar", "grammar needs a value (a JSON Schema for type json, a "
                    + "regular expression for type regex)");
        }
        return switch (type) {
            case "json", "json_schema" -> new OutputConstraint("grammar", new ConstraintSpec.JsonSchema(schemaText(value, "grammar")));
            case "regex" -> {
                if (!value.isTextual()) {
                    throw SpindleException.invalid("grammar", "a regex grammar's value must be a string");
                }
                yield new OutputConstraint("grammar", new ConstraintSpec.Regex(value.asText()));
            }
            default -> throw SpindleException.invalid("grammar", "grammar.type must be json or regex; got '" + type + "'");
        };
    }

    /**
     * The WebSocket protocol's {@code constraint}: {@code {"type": "json_schema", "schema": …}},
     * {@code {"type": "json_object"}}, {@code {"type": "regex", "pattern": "…"}} or
     * {@code {"type": "choice", "choices": […]}}.
     */
    static OutputConstraint ws(JsonNode c) {
        if (c == null || c.isNull()) {
            return null;
        }
        String type = c.path("type").asText("");
        return switch (type) {
            case "json_schema" -> {
                JsonNode schema = c.get("schema");
                if (schema == null || schema.isNull()) {
                    throw SpindleException.invalid("constraint", "a json_schema constraint needs a schema");
                }
                yield new OutputConstraint("constraint", new ConstraintSpec.JsonSchema(schemaText(schema, "constraint")));
            }
            case "json_object" -> new OutputConstraint("constraint", new ConstraintSpec.JsonObject());
            case "regex" -> {
                if (!c.path("pattern").isTextual()) {
                    throw SpindleException.invalid("constraint", "a regex constraint needs a pattern (a string)");
                }
                yield new OutputConstraint("constraint", new ConstraintSpec.Regex(c.get("pattern").asText()));
            }
            case "choice" -> {
                JsonNode choices = c.path("choices");
                if (!choices.isArray()) {
                    throw SpindleException.invalid("constraint", "a choice constraint needs choices (a list of strings)");
                }
                List<String> list = new ArrayList<>();
                for (JsonNode s : choices) {
                    if (!s.isTextual()) {
                        throw SpindleException.invalid("constraint", "every choice must be a string");
                    }
                    list.add(s.asText());
                }
                yield new OutputConstraint("constraint", new ConstraintSpec.Choice(list));
            }
            default -> throw SpindleException.invalid("constraint", "constraint.type must be json_schema, json_object, "
                    + "regex or choice; got '" + type + "'");
        };
    }

    /** A schema given as a JSON object, or as a string holding one (vLLM and TGI accept both). */
    private static String schemaText(JsonNode schema, String field) {
        if (schema.isObject() || schema.isBoolean()) {
            return schema.toString();
        }
        if (schema.isTextual()) {
            return schema.asText();
        }
        throw SpindleException.invalid(field, field + " must be a JSON Schema (an object, or a string holding one)");
    }
}
