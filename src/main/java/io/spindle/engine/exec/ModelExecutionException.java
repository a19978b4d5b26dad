package io.spindle.engine.exec;

/** A forward pass failed; the sequences in that batch fail, the engine keeps serving. */
public final class ModelExecutionException extends Exception {
    public ModelExecutionException(String message, Throwable cause) {
        super(message, cause);
    }
}
