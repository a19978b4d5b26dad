package io.spindle.engine.exec;

import java.util.List;

/**
 * Executes forward passes for a batch of sequences and owns their KV caches. Every call is one
 * forward pass over all rows, however many sequences that is.
 * Confined to the engine thread.
 */
public interface ModelRunner extends AutoCloseable {
    int vocabSize();

    /** The longest sequence (prompt + generated) the model can attend over. */
    int contextLength();

    /** The longest prompt accepted: for a decoder-only model, the context less one token to generate. */
    default int maxPromptTokens() {
        return contextLength() - 1;
    }

    /**
     * Whether a prompt may be fed in chunks over several steps. An encoder reads its whole source at
     * once, so an encoder-decoder runner says false and gets each prompt in one step.
     */
    default boolean chunkedPrefill() {
        return true;
    }

    /** KV-cache bytes one token of one sequence occupies (all layers, keys and values). */
    long kvBytesPerToken();

    /** Runs one forward pass; rows of the output follow {@code batch}'s order. */
    StepOutput execute(List<StepInput> batch) throws ModelExecutionException;

    /** Frees a sequence's cache; a no-op for an unknown id. */
    void release(long sequenceId);

    /** Sequences whose cache the runner holds now; 0 once every sequence was released. */
    int numCachedSequences();

    /**
     * Bytes the runner holds for caches and step buffers now (native and heap), so that a leak shows
     * in production, not only in a test. 0 when it does not know.
     */
    default long allocatedBytes() {
        return 0;
    }

    /**
     * Where the KV cache lives: {@code host} (main memory; also where a GPU session's official-API path
     * keeps it, copying it to the device every step) or {@code device} (the accelerator's memory, which
     * the KV budget then counts).
     */
    default String kvCacheLocation() {
        return "host";
    }

    /**
     * The KV cache's element type as {@code /v1/models} names it ({@code float32}, {@code float16}): what
     * {@link #kvBytesPerToken()} counts in.
     */
    default String kvCacheDtype() {
        return "float32";
    }

    @Override
    void close();
}
