package io.spindle.engine.exec;

/**
 * One row of a forward pass: feed {@code tokens[from, to)} of a sequence whose first {@code from}
 * tokens are already in the runner's cache. The array is the sequence's own and is only read.
 */
public record StepInput(long sequenceId, int[] tokens, int from, int to) {
    public int length() {
        return to - from;
    }
}
