package io.spindle.engine.sched;

import io.spindle.engine.request.Sequence;

/** Feed the next {@code numTokens} uncomputed tokens of {@code sequence} in this step. */
public record ScheduledChunk(Sequence sequence, int numTokens) {
    /** True when this chunk reaches the sequence's last token, so the step's logits yield a new token. */
    public boolean completesSequence() {
        return sequence.numComputed() + numTokens == sequence.numTokens();
    }
}
