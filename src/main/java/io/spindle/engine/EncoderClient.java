package io.spindle.engine;

import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * How the rest of Spindle asks an encoder model to encode inputs: an embedding model answers one
 * vector per input, a masked-LM model the vocabulary logits at each mask position (see
 * {@link io.spindle.engine.exec.EncoderRunner}). Thread-safe.
 */
public interface EncoderClient {
    /** Length of an embedding, or the vocabulary size of a masked-LM model. */
    int dimensions();

    /** The longest input, in tokens, that can run: the graph's positions, or a pass's token budget when less. */
    int maxInputTokens();

    /**
     * Queues the inputs; the future completes with one result row per input, or fails with a
     * {@link io.spindle.engine.request.SpindleException} (OVERLOADED when the queue is full).
     */
    CompletableFuture<float[][]> encode(List<int[]> inputs);
}
