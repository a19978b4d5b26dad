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
 */
public record EngineConfig(int maxBatchSize, int maxTokensPerStep, long kvCacheBytes, int maxWaiting,
                           int maxPrefillTokensWhileDecoding) {
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
