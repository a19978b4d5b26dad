package io.spindle.engine.exec;

/**
 * A runner that can start a sequence from a copy of another's cache, so that {@code n} samples of
 * one prompt prefill it once. Confined to the engine thread.
 */
public interface CacheForking {
    /**
     * Gives {@code childId} a copy of {@code parentId}'s cache as it stands (every position the
     * parent has computed); the child's next step starts at that length.
     */
    void fork(long parentId, long childId);
}
