package io.spindle.engine;

/**
 * Limits of one encoder engine.
 *
 * @param maxBatchSize     inputs per forward pass; for a masked-LM model also mask positions per pass
 *                         (rows of vocabulary logits), except that an input is never split
 * @param maxQueuedInputs  inputs allowed to wait before encode answers OVERLOADED
 * @param maxTokensPerPass rows × padded length per forward pass: what an encoder's activations grow
 *                         with, so it bounds the memory one pass takes; an input longer than this can
 *                         never run and is refused before it is queued
 */
public record EncoderConfig(int maxBatchSize, int maxQueuedInputs, int maxTokensPerPass) {
    public EncoderConfig {
        if (maxBatchSize < 1 || maxQueuedInputs < 1 || maxTokensPerPass < 1) {
            throw new IllegalArgumentException("encoder limits must be positive: maxBatchSize=" + maxBatchSize
                    + " maxQueuedInputs=" + maxQueuedInputs + " maxTokensPerPass=" + maxTokensPerPass);
        }
    }
}
