package io.spindle.generation;

/** How a generation request ended, as metrics count it. */
public enum RequestOutcome {
    /** Ended by EOS, a stop string or its length limit. */
    FINISHED,
    /** The client cancelled or went away. */
    CANCELLED,
    /** Turned away before it was queued: invalid, unknown model, overloaded or draining. */
    REJECTED,
    /** The model or the server failed while running it. */
    FAILED
}
