package io.spindle.engine.sched;

import java.util.List;

/** The rows of one forward pass, in order. Empty when there is nothing to run. */
public record StepPlan(List<ScheduledChunk> chunks) {
    public boolean isEmpty() {
        return chunks.isEmpty();
    }

    public int numTokens() {
        int n = 0;
        for (ScheduledChunk c : chunks) {
            n += c.numTokens();
        }
        return n;
    }
}
