package io.spindle.engine;

import io.spindle.engine.request.SequenceStats;

/**
 * What an engine reports as it works, for metrics. Called on the engine thread, so implementations
 * must be cheap and never block: record into thread-safe meters and return. (Requests turned away
 * before they reach the engine are counted by the generation layer.)
 */
public interface EngineObserver {
    /** Observes nothing. */
    EngineObserver NONE = new EngineObserver() {
    };

    /**
     * One forward pass and its sampling.
     *
     * @param numSequences    rows in the batch
     * @param promptTokens    prompt tokens computed in this step (0 for a pure decode step)
     * @param generatedTokens tokens sampled in this step
     */
    default void stepCompleted(int numSequences, int promptTokens, int generatedTokens, long nanos) {
    }

    /** A sequence's first generated token, {@code nanos} after it arrived. */
    default void firstToken(long nanos) {
    }

    /** A later token, {@code nanos} after the sequence's previous one. */
    default void nextToken(long nanos) {
    }

    /**
     * A sequence left the engine (finished, cancelled or failed).
     *
     * @param admitted  whether it ever left the queue ({@code stats.queueNanos()} is meaningful)
     * @param totalNanos from arrival to leaving
     */
    default void sequenceEnded(SequenceStats stats, boolean admitted, long totalNanos) {
    }

    /** An admitted prompt of {@code promptTokens} tokens found its first {@code cachedTokens} in the prefix cache (0: none). */
    default void prefixLookup(int promptTokens, int cachedTokens) {
    }

    /** An abort took effect {@code nanos} after it was asked for. */
    default void abortCompleted(long nanos) {
    }

    /**
     * A constrained row's logits were masked before sampling, in {@code nanos} (a DFA state's first
     * visit includes building its allowed-token set over the vocabulary).
     */
    default void constraintMasked(long nanos) {
    }
}
