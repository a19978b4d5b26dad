package io.spindle.engine;

import java.util.List;
import java.util.concurrent.CompletableFuture;

/** How the rest of Spindle asks an encoder model for vectors. Thread-safe. */
public interface EmbeddingClient {
    int dimensions();

    int maxInputTokens();

    /**
     * Queues the inputs; the future completes with one vector per input, or fails with a
     * {@link io.spindle.engine.request.SpindleException} (OVERLOADED when the queue is full).
     */
    CompletableFuture<float[][]> embed(List<int[]> inputs);
}
