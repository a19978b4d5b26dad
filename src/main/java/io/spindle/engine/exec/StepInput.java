package io.spindle.engine.exec;

/**
 * One row of a forward pass: feed {@code tokens[from, to)} of a sequence whose first {@code from}
 * tokens are already in the runner's cache. The array is the sequence's own and is only read; its
 * first {@code numPromptTokens} entries are the prompt (an encoder-decoder's source).
 */
public record StepInput(long sequenceId, int[] tokens, int from, int to, int numPromptTokens) {
    /** A row for a runner that does not need to know where the prompt ends (decoder-only). */
    public StepInput(long sequenceId, int[] tokens, int from, int to) {
        this(sequenceId, tokens, from, to, 0);
    }

    public int length() {
        return to - from;
    }
}
