package io.spindle.generation;

import io.spindle.sampling.constraint.ConstraintCompiler;

/**
 * Told once about every generation request when it ends, and about each output constraint looked up
 * or compiled for one, for metrics. Called from request and text threads: implementations must be
 * thread-safe and return at once.
 */
public interface RequestObserver extends ConstraintCompiler.Listener {
    RequestObserver NONE = (model, transport, outcome, finish) -> {
    };

    /**
     * @param model  the served model's id, or {@code null} when the request named no served model
     * @param finish why a FINISHED request ended; {@code null} for the other outcomes
     */
    void requestEnded(String model, Transport transport, RequestOutcome outcome, GenerationFinish finish);
}
