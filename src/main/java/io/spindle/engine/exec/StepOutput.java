package io.spindle.engine.exec;

/** The logits of the last fed position of each row, valid until the runner's next call. */
public interface StepOutput {
    /** Copies row {@code row}'s vocabulary logits into {@code dst} (length ≥ vocabulary size). */
    void copyLogits(int row, float[] dst);
}
