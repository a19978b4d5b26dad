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
 */
public record EngineConfig(int maxBatchSize, int maxTokensPerStep, long kvCacheBytes, int maxWaiting) {
    public EngineConfig {
        if (maxBatchSize < 1 || maxTokensPerStep < 1 || kvCacheBytes < 1 || maxWaiting < 0) {
            throw new IllegalArgumentException("engine limits must be positive: maxBatchSize=" + maxBatchSize
                    + " maxTokensPerStep=" + maxTokensPerStep + " kvCacheBytes=" + kvCacheBytes + " maxWaiting=" + maxWaiting);
        }
    }
}
