package io.spindle.engine.request;

/** What went wrong, independent of transport; api.error maps each kind to a status and a wire format. */
public enum ErrorKind {
    INVALID_REQUEST,
    NOT_FOUND,
    OVERLOADED,
    /** The server is shutting down (draining) and takes no new work; retry on another replica. */
    UNAVAILABLE,
    /** The request ran past its deadline (total, or idle between tokens). */
    TIMEOUT,
    CANCELLED,
    MODEL_FAILURE
}
