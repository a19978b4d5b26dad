package io.spindle.generation.tool;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;

/**
 * Reads calls out of free text in the Hermes syntax that Qwen2.5/Qwen3 and Hermes chat templates
 * teach their models: {@code <tool_call>{"name": …, "arguments": {…}}</tool_call>}, any number of
 * them, with text around. For {@code tool_choice: "auto"} on such a model: text outside the tags is
 * content, streamed as it comes except a tail that may be the start of a tag (held until it is known
 * not to be); a block becomes one whole call when its closing tag arrives. A block that is not
 * a JSON object with a string {@code name} stays content, as does an unclosed one at the end.
 * Not thread-safe: one per generated sequence.
 */
public final class TaggedToolCallReader implements ToolCallReader {
    static final String OPEN = "<tool_call>";
    static final String CLOSE = "</tool_call>";
    private static final ObjectMapper JSON = new ObjectMapper();

    private final Supplier<String> ids;
    private final StringBuilder pending = new StringBuilder();
    private final List<ToolCall> calls = new ArrayList<>();
    private final StringBuilder content = new StringBuilder();
    private boolean inCall;

    public TaggedToolCallReader(Supplier<String> ids) {
        this.ids = ids;
    }

    public TaggedToolCallReader() {
        this(ToolCallParser.OPENAI_IDS);
    }

    /** Whether a chat template teaches this syntax (it writes or describes {@code <tool_call>} blocks). */
    public static boolean taughtBy(String chatTemplate) {
        return chatTemplate != null && chatTemplate.contains(OPEN) && chatTemplate.contains(CLOSE);
    }

    @Override
    public Output read(String text) {
        pending.append(text);
        StringBuilder out = new StringBuilder();
        List<ToolCallParser.Delta> done = new ArrayList<>();
        while (true) {
            if (inCall) {
                int close = pending.indexOf(CLOSE);
                if (close < 0) {
                    break;
                }
                String body = pending.substring(0, close);
                pending.delete(0, close + CLOSE.length());
                inCall = false;
                ToolCall call = parse(body);
                if (call == null) {
                    out.append(OPEN).append(body).append(CLOSE);
                } else {
                    calls.add(call);
                    done.add(new ToolCallParser.Delta(calls.size() - 1, call.id(), call.name(), call.arguments()));
                }
                continue;
            }
            int open = pending.indexOf(OPEN);
            if (open >= 0) {
                out.append(pending, 0, open);
                pending.delete(0, open + OPEN.length());
                inCall = true;
                continue;
            }
            // Hold back the longest tail that could still grow into the opening tag.
            int keep = 0;
            for (int k = Math.min(OPEN.length() - 1, pending.length()); k > 0; k--) {
                if (OPEN.startsWith(pending.substring(pending.length() - k))) {
                    keep = k;
                    break;
                }
            }
            out.append(pending, 0, pending.length() - keep);
            pending.delete(0, pending.length() - keep);
            break;
        }
        content.append(out);
        return new Output(out.toString(), done);
    }

    /** The end of the text: what was held back (an unfinished tag or block) is content after all. */
    @Override
    public Output end() {
        String rest = (inCall ? OPEN : "") + pending;
        pending.setLength(0);
        inCall = false;
        content.append(rest);
        return new Output(rest, List.of());
    }

    @Override
    public List<ToolCall> calls() {
        return List.copyOf(calls);
    }

    @Override
    public String content() {
        return content.toString();
    }

    private ToolCall parse(String body) {
        try {
            JsonNode n = JSON.readTree(body.strip());
            if (n == null || !n.isObject() || !n.path("name").isTextual()) {
                return null;
            }
            JsonNode args = n.has("arguments") ? n.get("arguments") : n.get("parameters");
            String arguments = args == null || args.isNull() ? "{}" : args.isTextual() ? args.asText() : args.toString();
            return new ToolCall(ids.get(), n.get("name").asText(), arguments);
        } catch (java.io.IOException e) {
            return null;
        }
    }
}
