package io.spindle.engine;

/**
 * Limits of one engine.
 *
 * @param maxBatchSize      sequences per forward pass
 * @param maxTokensPerStep  tokens fed per forward pass (decode tokens first, then prompt chunks)
 * @param kvCacheBytes      KV-cache budget in bytes; divided by the runner's bytes per token it gives
 *                          the token budget from which each request reserves prompt + max new tokens
 *                          at admission
 * @param maxWaiting        requests allowed to wait for admission before submit answers OVERLOADED
 * @param maxPrefillTokensWhileDecoding prompt tokens per step while other sequences are decoding:
 *                          a smaller share keeps their inter-token latency down at the cost of the
 *                          new request's time to first token
 * @param prefixCache       the automatic prefix cache's settings
 */
public record EngineConfig(int maxBatchSize, int maxTokensPerStep, long kvCacheBytes, int maxWaiting,
                           int maxPrefillTokensWhileDecoding, PrefixCacheSettings prefixCache) {
    /**
     * The automatic prefix cache: prompts' keys and values kept, in blocks of {@code blockSize}
     * tokens, after their sequences leave, using at most {@code maxShare} of the KV budget (and only
     * what admitted sequences do not reserve).
     */
    public record PrefixCacheSettings(boolean enabled, int blockSize, double maxShare) {
        public static final PrefixCacheSettings DEFAULT = new PrefixCacheSettings(true, 16, 0.5);
        public static final PrefixCacheSettings OFF = new PrefixCacheSettings(false, 16, 0);

        public PrefixCacheSettings {
            if (blockSize < 1 || !(maxShare >= 0 && maxShare <= 1)) {
                throw new IllegalArgumentException("spindle.engine.prefix-cache.block-size must be >= 1 and "
                        + "spindle.engine.prefix-cache.max-share within [0, 1]; got " + blockSize + " and " + maxShare);
            }
        }
    }

    /** With the default prefix cache. */
    public EngineConfig(int maxBatchSize, int maxTokensPerStep, long kvCacheBytes, int maxWaiting,
                        int maxPrefillTokensWhileDecoding) {
        this(maxBatchSize, maxTokensPerStep, kvCacheBytes, maxWaiting, maxPrefillTokensWhileDecoding,
                PrefixCacheSettings.DEFAULT);
    }

    /** Prompt chunks may use the whole per-step budget even while others decode. */
    public EngineConfig(int maxBatchSize, int maxTokensPerStep, long kvCacheBytes, int maxWaiting) {
        this(maxBatchSize, maxTokensPerStep, kvCacheBytes, maxWaiting, maxTokensPerStep);
    }

    public EngineConfig {
        if (maxBatchSize < 1 || maxTokensPerStep < 1 || kvCacheBytes < 1 || maxWaiting < 0
                || maxPrefillTokensWhileDecoding < 1) {
            throw new IllegalArgumentException("engine limits must be positive: maxBatchSize=" + maxBatchSize
                    + " maxTokensPerStep=" + maxTokensPerStep + " kvCacheBytes=" + kvCacheBytes + " maxWaiting=" + maxWaiting
                    + " maxPrefillTokensWhileDecoding=" + maxPrefillTokensWhileDecoding);
        }
    }
}
