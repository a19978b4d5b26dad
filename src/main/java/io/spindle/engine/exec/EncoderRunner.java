package io.spindle.engine.exec;

import java.util.List;

/**
 * Runs an encoder graph (BERT family) over a batch of token sequences and returns one pooled,
 * post-processed vector per sequence, as the model declares. Rows of different lengths are padded
 * and masked; a row's vector does not depend on what else is in the batch.
 * Confined to its encoder engine's thread.
 */
public interface EncoderRunner extends AutoCloseable {
    /** Length of each returned vector. */
    int dimensions();

    /** The longest input, in tokens (special tokens included), the graph accepts. */
    int maxInputTokens();

    /** One vector per input, in order. */
    float[][] embed(List<int[]> inputs) throws ModelExecutionException;

    @Override
    void close();
}
