package io.spindle.engine;

/** A point-in-time view of an engine, safe to read from any thread. */
public record EngineStats(int numWaiting, int numRunning, int kvUsedTokens, int kvCapacityTokens,
                          int numCachedSequences, long numSteps, boolean loopAlive, long nanosSinceProgress) {
}
