package io.spindle.engine;

/**
 * A point-in-time view of an engine, safe to read from any thread.
 *
 * @param stepNanos    total time spent in steps (schedule, forward pass, sampling, events)
 * @param forwardNanos the part of {@code stepNanos} spent in the model runner's forward passes
 * @param allocatedBytes what the model runner holds for caches and step buffers
 * @param nanosSinceProgress since the loop last began an iteration (an idle loop begins one every half second)
 * @param prefixBlockSize  the prefix cache's block size in tokens, 0 when there is no prefix cache
 * @param prefixCacheTokens tokens held in cached prefix blocks (evictable, not counted in kvUsedTokens)
 * @param prefixCacheBytes  bytes those blocks hold (not counted in allocatedBytes)
 */
public record EngineStats(int numWaiting, int numRunning, int kvUsedTokens, int kvCapacityTokens,
                          int numCachedSequences, long allocatedBytes, long numSteps, long stepNanos, long forwardNanos,
                          boolean loopAlive, long nanosSinceProgress, int prefixBlockSize, int prefixCacheTokens,
                          long prefixCacheBytes) {

    /** The loop has had work and made no progress for longer than {@code timeout}: a hung step. */
    public boolean stalled(java.time.Duration timeout) {
        return numRunning + numWaiting > 0 && nanosSinceProgress > timeout.toNanos();
    }
}
