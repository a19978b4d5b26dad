package io.spindle.engine.exec;

import java.util.List;

/**
 * Runs an encoder graph (BERT family) over a batch of token sequences and returns one result row per
 * sequence: for an embedding model, its pooled, post-processed vector, as the model declares; for a
 * masked-LM model, the vocabulary logits at each of its mask positions, one after the other. Rows of
 * different lengths are padded and masked; a row's result does not depend on what else is in the batch.
 * Confined to its encoder engine's thread.
 */
public interface EncoderRunner extends AutoCloseable {
    /** Length of an embedding, or the vocabulary size of a masked-LM model. */
    int dimensions();

    /** The longest input, in tokens (special tokens included), the graph accepts. */
    int maxInputTokens();

    /**
     * How many rows of {@link #dimensions()} floats this input's result holds: 1 for an embedding, the
     * number of mask tokens for a masked-LM model. The engine bounds their sum per pass.
     */
    int resultRows(int[] input);

    /** One result row per input, in order. */
    float[][] encode(List<int[]> inputs) throws ModelExecutionException;

    @Override
    void close();
}
