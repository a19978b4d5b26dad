package io.spindle.engine.exec;

/**
 * A runner that keeps the KV cache of token prefixes after the sequences that computed them leave, so
 * that a later prompt with the same start copies them instead of computing them (see
 * {@link io.spindle.kvcache.PrefixCache}). The engine decides when: it restores at admission,
 * offers when a prompt is in and when a sequence leaves, and bounds the cache by the KV budget.
 * Confined to the engine thread.
 */
public interface PrefixCaching {
    /** Starts caching prefixes in blocks of {@code blockSize} tokens. */
    void enablePrefixCache(int blockSize);

    /**
     * Gives sequence {@code sequenceId}, which has no cache yet, a copy of the cached keys and values of
     * the longest cached whole-block prefix of {@code tokens} of at most {@code maxTokens} tokens.
     * Returns its length: the tokens the sequence need not compute (0 when none is cached).
     */
    int restorePrefix(long sequenceId, int[] tokens, int maxTokens);

    /** Caches the whole blocks of {@code tokens[0, n)}, which sequence {@code sequenceId} has computed; a no-op for a sequence the runner does not hold. */
    void offerPrefix(long sequenceId, int[] tokens, int n);

    /** Tokens held in cached blocks. */
    int prefixCacheTokens();

    /** Evicts least recently used blocks until at most {@code tokens} tokens remain cached. */
    void evictPrefixesTo(int tokens);

    /** Bytes the cached blocks hold. */
    long prefixCacheBytes();
}
