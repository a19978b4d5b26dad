package io.spindle.generation.tool;

import java.util.List;

/**
 * Turns one sequence's generated text, piece by piece, into content and tool calls: the forced
 * format ({@link ToolCallParser}) or a model's own syntax for {@code auto} ({@link TaggedToolCallReader}).
 */
public interface ToolCallReader {
    /** What a piece of text added: content to pass on (maybe empty) and call deltas. */
    record Output(String content, List<ToolCallParser.Delta> calls) {
    }

    Output read(String text);

    /** The text has ended: whatever was held back. */
    Output end();

    /** The calls read so far, with their arguments as generated. */
    List<ToolCall> calls();

    /** The text outside the calls, so far. */
    String content();
}
