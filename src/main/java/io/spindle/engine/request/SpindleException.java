package io.spindle.engine.request;

/**
 * An error with a {@link ErrorKind} and, for invalid requests, the offending parameter as the API
 * spells it. The message is safe to show to a client: it never carries a stack trace or internals.
 */
public class SpindleException extends RuntimeException {
    private final ErrorKind kind;
    private final String param;
    private int retryAfterSeconds;

    public SpindleException(ErrorKind kind, String message) {
        this(kind, message, null, null);
    }

    public SpindleException(ErrorKind kind, String message, String param) {
        this(kind, message, param, null);
    }

    public SpindleException(ErrorKind kind, String message, String param, Throwable cause) {
        super(message, cause);
        this.kind = kind;
        this.param = param;
    }

    public static SpindleException invalid(String param, String message) {
        return new SpindleException(ErrorKind.INVALID_REQUEST, message, param);
    }

    /** An OVERLOADED error that says when to try again. */
    public static SpindleException overloaded(String message, int retryAfterSeconds) {
        SpindleException e = new SpindleException(ErrorKind.OVERLOADED, message);
        e.retryAfterSeconds = retryAfterSeconds;
        return e;
    }

    /** An UNAVAILABLE error (the server is going away) that says when to try again. */
    public static SpindleException unavailable(String message, int retryAfterSeconds) {
        SpindleException e = new SpindleException(ErrorKind.UNAVAILABLE, message);
        e.retryAfterSeconds = retryAfterSeconds;
        return e;
    }

    /** Seconds after which a retry is likely to be admitted; 0 when not known. */
    public int retryAfterSeconds() {
        return retryAfterSeconds;
    }

    public ErrorKind kind() {
        return kind;
    }

    /** The request field at fault, or null. */
    public String param() {
        return param;
    }
}
