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
 * {@code guided_regex}, {@code guided_choice} and {@code structured_outputs}, TGI's {@code grammar}
 * ({@code json}, {@code regex}) and its chat {@code response_format} with a {@code value}.
 * At most one per request; the constraint itself is checked when it is compiled (a 400 naming the field).
 */
final class Constraints {
    private Constraints() {
    }

    /**
     * OpenAI completions and chat, with vLLM's extensions and the TGI {@code grammar} that Hugging
     * Face's client carries into these bodies; null when none is asked for.
     */
    static OutputConstraint openAi(JsonNode responseFormat, JsonNode guidedJson, String guidedRegex, List<String> guidedChoice,
                                   JsonNode structuredOutputs, JsonNode grammar) {
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
        if (structuredOutputs != null && !structuredOutputs.isNull()) {
            found.add(structuredOutputs(structuredOutputs));
        }
        OutputConstraint tgi = tgi(grammar);
        if (tgi != null) {
            found.add(tgi);
        }
        if (found.size() > 1) {
            throw SpindleException.invalid(found.get(1).field(), "send one of response_format, guided_json, "
                    + "guided_regex, guided_choice, structured_outputs and grammar; this request sets "
                    + found.get(0).field() + " and " + found.get(1).field());
        }
        return found.isEmpty() ? null : found.getFirst();
    }

    /**
     * vLLM's {@code structured_outputs}: exactly one of {@code json}, {@code regex}, {@code choice},
     * {@code json_object}; {@code grammar} and {@code structural_tag} are refused by name, and so is
     * a {@code whitespace_pattern} (Spindle writes compact JSON, which {@code disable_any_whitespace} asks for).
     */
    private static OutputConstraint structuredOutputs(JsonNode so) {
        String field = "structured_outputs";
        if (!so.isObject()) {
            throw SpindleException.invalid(field, "structured_outputs must be an object with one of json, regex, choice, json_object");
        }
        for (String refused : List.of("grammar", "structural_tag", "whitespace_pattern")) {
            JsonNode v = so.get(refused);
            if (v != null && !v.isNull()) {
                throw SpindleException.invalid(field, "structured_outputs." + refused + " is not supported: Spindle "
                        + "constrains output with JSON Schema, regular expressions and choices; leave it out");
            }
        }
        List<OutputConstraint> kinds = new ArrayList<>();
        JsonNode json = so.get("json");
        if (json != null && !json.isNull()) {
            kinds.add(new OutputConstraint(field, new ConstraintSpec.JsonSchema(schemaText(json, field + ".json"))));
        }
        JsonNode regex = so.get("regex");
        if (regex != null && !regex.isNull()) {
            if (!regex.isTextual()) {
                throw SpindleException.invalid(field, "structured_outputs.regex must be a string");
            }
            kinds.add(new OutputConstraint(field, new ConstraintSpec.Regex(regex.asText())));
        }
        JsonNode choice = so.get("choice");
        if (choice != null && !choice.isNull()) {
            kinds.add(new OutputConstraint(field, new ConstraintSpec.Choice(strings(choice, field + ".choice"))));
        }
        if (so.path("json_object").asBoolean(false)) {
            kinds.add(new OutputConstraint(field, new ConstraintSpec.JsonObject()));
        }
        if (kinds.size() != 1) {
            throw SpindleException.invalid(field, "structured_outputs must set exactly one of json, regex, choice, "
                    + "json_object; it sets " + kinds.size());
        }
        return kinds.getFirst();
    }

    private static List<String> strings(JsonNode array, String field) {
        if (!array.isArray()) {
            throw SpindleException.invalid(field, field + " must be a list of strings");
        }
        List<String> list = new ArrayList<>();
        for (JsonNode s : array) {
            if (!s.isTextual()) {
                throw SpindleException.invalid(field, "every item of " + field + " must be a string");
            }
            list.add(s.asText());
        }
        return list;
    }

    /**
     * OpenAI's {@code text}, {@code json_object}, {@code json_schema}; and TGI's chat forms
     * {@code {"type": "json" | "json_object", "value": schema}} and {@code {"type": "regex", "value": …}}.
     */
    private static OutputConstraint responseFormat(JsonNode f) {
        String type = f.path("type").asText("");
        JsonNode value = f.get("value");
        if (value != null && !value.isNull() && List.of("json", "json_object", "regex").contains(type)) {
            return retag(tgi(f), "response_format");
        }
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

    private static OutputConstraint retag(OutputConstraint c, String field) {
        return new OutputConstraint(field, c.spec());
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
            case "json", "json_object", "json_schema" -> new OutputConstraint("grammar", new ConstraintSpec.JsonSchema(schemaText(value, "grammar")));
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
                yield new OutputConstraint("constraint", new ConstraintSpec.Choice(strings(choices, "constraint.choices")));
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
