package io.spindle.api.rest;

import com.fasterxml.jackson.databind.JsonNode;
import io.spindle.engine.request.SpindleException;
import io.spindle.generation.OutputConstraint;
import io.spindle.generation.tool.ToolCallFormat;
import io.spindle.generation.tool.ToolChoice;
import io.spindle.generation.tool.ToolSpec;
import io.spindle.sampling.constraint.ConstraintSpec;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * OpenAI's {@code tools}, {@code tool_choice} and {@code parallel_tool_calls}, read and checked
 * before anything is queued.
 *
 * <p>A forced choice ({@code required}, or a named function) holds the output to
 * {@link ToolCallFormat}'s call list, answered as {@code tool_calls}. {@code auto} is answered as
 * {@code none}: the tools reach the chat template, but Spindle does not read calls out of free text
 * (a model's own tool-call syntax differs per model family), and the response says so in
 * {@link #ANSWERED_AS_HEADER}.
 *
 * @param tools         the offered functions, in request order
 * @param templateTools the same as plain maps in OpenAI's shape, for chat templates
 * @param choice        what the request asks for ({@code auto} when tools are offered and it does not say)
 * @param parallel      {@code parallel_tool_calls} (default true)
 */
record Tools(List<ToolSpec> tools, List<Object> templateTools, ToolChoice choice, boolean parallel) {
    /** The most functions one request may offer (OpenAI's own limit). */
    static final int MAX_TOOLS = 128;

    /** Set when a request's {@code tool_choice} was answered as another: {@code none} for {@code auto}. */
    static final String ANSWERED_AS_HEADER = "X-Spindle-Tool-Choice";

    static final Tools NONE = new Tools(List.of(), List.of(), new ToolChoice.None(), true);

    static Tools read(JsonNode tools, JsonNode toolChoice, Boolean parallelToolCalls) {
        List<ToolSpec> specs = specs(tools);
        ToolChoice choice = choice(toolChoice, specs);
        if (specs.isEmpty()) {
            return NONE;
        }
        List<Object> plain = new ArrayList<>(specs.size());
        for (JsonNode t : tools) {
            plain.add(Json.MAPPER.convertValue(t, Object.class));
        }
        return new Tools(specs, plain, choice, parallelToolCalls == null || parallelToolCalls);
    }

    /** True when the output must be calls. */
    boolean forced() {
        return choice instanceof ToolChoice.Required || choice instanceof ToolChoice.Named;
    }

    /** The constraint a forced choice puts on the output, or null. */
    OutputConstraint constraint() {
        String schema = ToolCallFormat.schema(tools, choice, parallel);
        return schema == null ? null : new OutputConstraint("tools", new ConstraintSpec.JsonSchema(schema));
    }

    private static List<ToolSpec> specs(JsonNode tools) {
        if (tools == null || tools.isNull()) {
            return List.of();
        }
        if (!tools.isArray()) {
            throw SpindleException.invalid("tools", "tools must be a list of {\"type\": \"function\", \"function\": {...}}");
        }
        if (tools.size() > MAX_TOOLS) {
            throw SpindleException.invalid("tools", "at most " + MAX_TOOLS + " tools per request; got " + tools.size());
        }
        List<ToolSpec> out = new ArrayList<>(tools.size());
        Set<String> names = new HashSet<>();
        for (int i = 0; i < tools.size(); i++) {
            JsonNode t = tools.get(i);
            String at = "tools[" + i + "]";
            if (!t.isObject() || !"function".equals(t.path("type").asText())) {
                throw SpindleException.invalid("tools", at + ".type must be \"function\" (the only tool type there is)");
            }
            JsonNode f = t.get("function");
            if (f == null || !f.isObject()) {
                throw SpindleException.invalid("tools", at + ".function is required: {\"name\": …, \"parameters\": …}");
            }
            String name = f.path("name").isTextual() ? f.get("name").asText() : null;
            if (name == null || !ToolSpec.NAME.matcher(name).matches()) {
                throw SpindleException.invalid("tools", at + ".function.name must be 1 to 64 letters, digits, "
                        + "underscores or dashes; got " + (name == null ? "none" : "'" + abbreviate(name) + "'"));
            }
            if (!names.add(name)) {
                throw SpindleException.invalid("tools", at + ".function.name '" + name + "' is offered twice");
            }
            JsonNode params = f.get("parameters");
            if (params != null && !params.isNull() && !params.isObject()) {
                throw SpindleException.invalid("tools", at + ".function.parameters must be a JSON Schema object");
            }
            JsonNode description = f.get("description");
            out.add(new ToolSpec(name, description != null && description.isTextual() ? description.asText() : null,
                    params == null || params.isNull() ? null : params));
        }
        return out;
    }

    private static ToolChoice choice(JsonNode c, List<ToolSpec> tools) {
        ToolChoice choice;
        if (c == null || c.isNull()) {
            return tools.isEmpty() ? new ToolChoice.None() : new ToolChoice.Auto();
        } else if (c.isTextual()) {
            choice = switch (c.asText()) {
                case "none" -> new ToolChoice.None();
                case "auto" -> new ToolChoice.Auto();
                case "required" -> new ToolChoice.Required();
                default -> throw SpindleException.invalid("tool_choice", "tool_choice must be \"none\", \"auto\", "
                        + "\"required\" or {\"type\": \"function\", \"function\": {\"name\": …}}; got '"
                        + abbreviate(c.asText()) + "'");
            };
        } else if (c.isObject() && "function".equals(c.path("type").asText()) && c.path("function").path("name").isTextual()) {
            String name = c.get("function").get("name").asText();
            if (tools.stream().noneMatch(t -> t.name().equals(name))) {
                throw SpindleException.invalid("tool_choice", "tool_choice names function '" + abbreviate(name)
                        + "', which is not among the tools");
            }
            choice = new ToolChoice.Named(name);
        } else {
            throw SpindleException.invalid("tool_choice", "tool_choice must be \"none\", \"auto\", \"required\" or "
                    + "{\"type\": \"function\", \"function\": {\"name\": …}}");
        }
        if (tools.isEmpty() && choice instanceof ToolChoice.Required) {
            throw SpindleException.invalid("tool_choice", "tool_choice needs tools to choose from; this request offers none");
        }
        return choice;
    }

    private static String abbreviate(String s) {
        return s.length() > 40 ? s.substring(0, 40) + "…" : s;
    }
}
