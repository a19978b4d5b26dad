package io.spindle.engine;

import io.spindle.engine.request.EngineRequest;
import io.spindle.engine.request.TokenListener;

/** The only way other threads talk to an engine: submit and abort are commands, applied between steps. */
public interface EngineClient {
    /**
     * Queues a request; events follow on {@code listener}. Throws {@link SpindleException} at once
     * (INVALID_REQUEST, OVERLOADED) when the request can never run or the queue is full.
     */
    SequenceHandle submit(EngineRequest request, TokenListener listener);

    /**
     * Queues {@code requests.size()} samples of one prompt that share its prefill: the first request
     * prefills, the others start from a copy of its cache and draw their first token from the same
     * logits, each with its own sampling. The group is admitted whole. Same failures as
     * {@link #submit}; INVALID_REQUEST also when the model cannot share a prefill or the group
     * exceeds the batch.
     */
    java.util.List<SequenceHandle> submitGroup(java.util.List<EngineRequest> requests, java.util.List<? extends TokenListener> listeners);

    /** Stops a sequence at the next step and frees its cache; a no-op for finished sequences. */
    void abort(long sequenceId);
}
