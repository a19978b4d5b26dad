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

    /** Stops a sequence at the next step and frees its cache; a no-op for finished sequences. */
    void abort(long sequenceId);
}
