package io.spindle.engine;

/**
 * Limits of one engine.
 *
 * @param maxBatchSize      sequences per forward pass
 * @param maxTokensPerStep  tokens fed per forward pass (decode tokens first, then prompt chunks)
 * @param kvCacheTokens     KV-cache budget, in tokens summed over sequences; a request reserves
 *                          prompt + max new tokens at admission
 * @param maxWaiting        requests allowed to wait for admission before submit answers OVERLOADED
 */
public record EngineConfig(int maxBatchSize, int maxTokensPerStep, int kvCacheTokens, int maxWaiting) {
    public EngineConfig {
        if (maxBatchSize < 1 || maxTokensPerStep < 1 || kvCacheTokens < 1 || maxWaiting < 0) {
            throw new IllegalArgumentException("engine limits must be positive: maxBatchSize=" + maxBatchSize
                    + " maxTokensPerStep=" + maxTokensPerStep + " kvCacheTokens=" + kvCacheTokens + " maxWaiting=" + maxWaiting);
        }
    }
}
