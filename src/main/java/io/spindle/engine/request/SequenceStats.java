package io.spindle.engine.request;

/**
 * Counts and timings of one sequence, all durations in nanoseconds measured on the engine thread.
 *
 * @param queueNanos     from submit until admitted into the running batch
 * @param firstTokenNanos from submit until the first generated token (time to first token)
 * @param decodeNanos    from the first generated token to the last one
 * @param numCachedPromptTokens prompt tokens whose keys and values came from the prefix cache
 */
public record SequenceStats(int numPromptTokens, int numGeneratedTokens, long queueNanos,
                            long firstTokenNanos, long decodeNanos, int numCachedPromptTokens) {

    public SequenceStats(int numPromptTokens, int numGeneratedTokens, long queueNanos, long firstTokenNanos,
                         long decodeNanos) {
        this(numPromptTokens, numGeneratedTokens, queueNanos, firstTokenNanos, decodeNanos, 0);
    }

    /** Decode throughput after the first token, or 0 with fewer than two tokens. */
    public double decodeTokensPerSecond() {
        return numGeneratedTokens > 1 && decodeNanos > 0 ? (numGeneratedTokens - 1) * 1e9 / decodeNanos : 0;
    }
}
