package io.spindle.engine.request;

/**
 * An error with a {@link ErrorKind} and, for invalid requests, the offending parameter as the API
 * spells it. The message is safe to show to a client: it never carries a stack trace or internals.
 */
public class SpindleException extends RuntimeException {
    private final ErrorKind kind;
    private final String param;

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

    public ErrorKind kind() {
        return kind;
    }

    /** The request field at fault, or null. */
    public String param() {
        return param;
    }
}
