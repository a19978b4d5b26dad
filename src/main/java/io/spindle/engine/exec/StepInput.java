package io.spindle.engine.exec;

/**
 * One row of a forward pass: feed {@code tokens[from, to)} of a sequence whose first {@code from}
 * tokens are already in the runner's cache. The array is the sequence's own and is only read; its
 * first {@code numPromptTokens} entries are the prompt (an encoder-decoder's source).
 *
 * @param logits which of the fed positions' logits the engine reads after the pass: a runner may skip
 *               computing the others (a prompt chunk that does not end the prompt needs none)
 */
public record StepInput(long sequenceId, int[] tokens, int from, int to, int numPromptTokens, Logits logits) {
    /** Which positions of a row the engine reads logits at. */
    public enum Logits {
        /** None: a prompt chunk that leaves more of the prompt to feed. */
        NONE,
        /** The last fed position's, to sample from. */
        LAST,
        /** Every fed position's (prompt log-probabilities). */
        EVERY
    }

    /** A row whose last position's logits are read. */
    public StepInput(long sequenceId, int[] tokens, int from, int to, int numPromptTokens) {
        this(sequenceId, tokens, from, to, numPromptTokens, Logits.LAST);
    }

    /** A row for a runner that does not need to know where the prompt ends (decoder-only). */
    public StepInput(long sequenceId, int[] tokens, int from, int to) {
        this(sequenceId, tokens, from, to, 0);
    }

    public int length() {
        return to - from;
    }
}
