package io.spindle.sampling.constraint;

/**
 * A constraint that cannot be compiled: invalid syntax, an unsupported feature (named in the message),
 * or one that no text can satisfy. Raised before anything is queued; the API answers 400 with the message.
 */
public final class ConstraintException extends IllegalArgumentException {
    public ConstraintException(String message) {
        super(message);
    }

    public ConstraintException(String message, Throwable cause) {
        super(message, cause);
    }
}
