package io.spindle.generation.tool;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;

/**
 * Reads the {@link ToolCallFormat} text as it is generated and says what each piece adds, in the
 * shape OpenAI streams calls: a call's first delta carries its index, id and name (with empty
 * arguments), later ones carry argument fragments. The text is compact JSON held to the format's
 * schema, so a character-level reader suffices: it tracks nesting and strings, takes the value of
 * {@code name} and passes the value of {@code arguments} through verbatim. Not thread-safe: one per
 * generated sequence.
 */
public final class ToolCallParser {
    /**
     * What one piece of text added to call {@code index}: {@code id} and {@code name} are set on its
     * first delta only, {@code arguments} is the fragment (empty on the first delta).
     */
    public record Delta(int index, String id, String name, String arguments) {
    }

    private final Supplier<String> ids;
    private final List<ToolCall> calls = new ArrayList<>();
    private final List<StringBuilder> arguments = new ArrayList<>();

    private int depth;
    private boolean inString;
    private boolean escaped;
    /** At depth 2 (inside a call): the key being read or last read, and whether its value is next. */
    private StringBuilder key;
    private String lastKey;
    private boolean expectingValue;
    private StringBuilder name;
    private boolean inArguments;

    public ToolCallParser(Supplier<String> ids) {
        this.ids = ids;
    }

    /** With OpenAI-style ids ({@code call_} and 24 hex digits). */
    public ToolCallParser() {
        this(() -> "call_" + java.util.UUID.randomUUID().toString().replace("-", "").substring(0, 24));
    }

    /** Reads the next piece of generated text; the deltas it completes, fragments of one call joined. */
    public List<Delta> feed(String text) {
        List<Delta> out = new ArrayList<>();
        StringBuilder fragment = new StringBuilder();
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if (inArguments && !inString && depth == 2 && (c == ',' || c == '}')) {
                inArguments = false;
                flush(out, fragment);
            }
            if (inArguments) {
                fragment.append(c);
                arguments.getLast().append(c);
            }
            if (inString) {
                readStringChar(c, out);
                continue;
            }
            switch (c) {
                case '"' -> {
                    inString = true;
                    if (depth == 2 && !inArguments) {
                        if (expectingValue && "name".equals(lastKey)) {
                            name = new StringBuilder();
                        } else if (!expectingValue) {
                            key = new StringBuilder();
                        }
                    }
                }
                case '{', '[' -> {
                    depth++;
                    if (depth == 2 && c == '{') {
                        expectingValue = false;
                        lastKey = null;
                    }
                }
                case '}', ']' -> depth--;
                case ':' -> {
                    if (depth == 2 && !inArguments) {
                        expectingValue = true;
                        if ("arguments".equals(lastKey) && !calls.isEmpty()) {
                            inArguments = true;
                        }
                    }
                }
                case ',' -> {
                    if (depth == 2) {
                        expectingValue = false;
                    }
                }
                default -> {
                }
            }
        }
        flush(out, fragment);
        return out;
    }

    private void readStringChar(char c, List<Delta> out) {
        if (escaped) {
            escaped = false;
            append(c);
            return;
        }
        if (c == '\\') {
            escaped = true;
            append(c);
            return;
        }
        if (c != '"') {
            append(c);
            return;
        }
        inString = false;
        if (key != null) {
            lastKey = key.toString();
            key = null;
        } else if (name != null) {
            // The format's names are [a-zA-Z0-9_-], never escaped: the raw text is the name.
            ToolCall call = new ToolCall(ids.get(), name.toString(), "");
            name = null;
            calls.add(call);
            arguments.add(new StringBuilder());
            out.add(new Delta(calls.size() - 1, call.id(), call.name(), ""));
        }
    }

    private void append(char c) {
        if (key != null) {
            key.append(c);
        } else if (name != null) {
            name.append(c);
        }
    }

    private void flush(List<Delta> out, StringBuilder fragment) {
        if (!fragment.isEmpty()) {
            int index = calls.size() - 1;
            Delta last = out.isEmpty() ? null : out.getLast();
            if (last != null && last.index() == index) {
                // One delta per call and piece: the call's first delta then carries its first fragment too.
                out.set(out.size() - 1, new Delta(index, last.id(), last.name(), last.arguments() + fragment));
            } else {
                out.add(new Delta(index, null, null, fragment.toString()));
            }
            fragment.setLength(0);
        }
    }

    /** The calls read so far, with their arguments as generated. */
    public List<ToolCall> calls() {
        List<ToolCall> out = new ArrayList<>(calls.size());
        for (int i = 0; i < calls.size(); i++) {
            out.add(new ToolCall(calls.get(i).id(), calls.get(i).name(), arguments.get(i).toString()));
        }
        return out;
    }
}
