package io.spindle.engine.exec;

/** The logits of the last fed position of each row, valid until the runner's next call. */
public interface StepOutput {
    /** Copies row {@code row}'s vocabulary logits into {@code dst} (length ≥ vocabulary size). */
    void copyLogits(int row, float[] dst);

    /**
     * The output of a runner that also keeps the logits of every position a row fed (decoder-only
     * graphs compute them), for prompt log-probabilities.
     */
    interface EveryPosition extends StepOutput {
        /** Copies the logits after the {@code position}-th token row {@code row} fed this step (0-based). */
        void copyLogits(int row, int position, float[] dst);
    }
}
