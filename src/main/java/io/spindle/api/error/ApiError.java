package io.spindle.api.error;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonMappingException;
import io.spindle.api.dto.WsMessages;
import io.spindle.engine.request.ErrorKind;
import io.spindle.engine.request.SpindleException;
import jakarta.ws.rs.WebApplicationException;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * The one place errors become wire formats: HTTP status, OpenAI and TGI bodies, WebSocket frames.
 * Anything that is not a {@link SpindleException} is classified first; unexpected exceptions are
 * logged here with their stack trace and reach the client only as a generic message.
 */
public final class ApiError {
    private static final Logger LOG = Logger.getLogger(ApiError.class.getName());
    /** Seconds a client is told to wait after OVERLOADED or UNAVAILABLE when the server has no estimate. */
    private static final int DEFAULT_RETRY_AFTER_SECONDS = 1;

    private ApiError() {
    }

    public static SpindleException classify(Throwable t) {
        if (t instanceof SpindleException s) {
            return s;
        }
        if (t instanceof JsonMappingException m && !m.getPath().isEmpty()) {
            String field = m.getPath().getFirst().getFieldName();
            StringBuilder path = new StringBuilder();
            for (JsonMappingException.Reference r : m.getPath()) {
                if (r.getFieldName() != null) {
                    path.append(path.isEmpty() ? "" : ".").append(r.getFieldName());
                } else {
                    path.append('[').append(r.getIndex()).append(']');
                }
            }
            return SpindleException.invalid(field, "'" + path + "' must be " + expected(m));
        }
        if (t instanceof JsonProcessingException j) {
            return malformed("the request body is not valid JSON: " + j.getOriginalMessage());
        }
        if (t instanceof WebApplicationException w) {
            int status = w.getResponse().getStatus();
            ErrorKind kind = status == 404 ? ErrorKind.NOT_FOUND : status >= 500 ? ErrorKind.MODEL_FAILURE : ErrorKind.INVALID_REQUEST;
            return new SpindleException(kind, w.getMessage() == null ? "HTTP " + status : w.getMessage());
        }
        LOG.log(Level.SEVERE, "unexpected error while serving a request", t);
        return new SpindleException(ErrorKind.MODEL_FAILURE, "internal error; see the server log");
    }

    private static String expected(JsonMappingException m) {
        Class<?> t = m instanceof com.fasterxml.jackson.databind.exc.MismatchedInputException mi ? mi.getTargetType() : null;
        if (t == null) {
            return "of another type";
        }
        if (t == Integer.class || t == int.class || t == Long.class || t == long.class) {
            return "an integer";
        }
        if (t == Double.class || t == double.class || t == Float.class) {
            return "a number";
        }
        if (t == Boolean.class || t == boolean.class) {
            return "a boolean";
        }
        if (t == String.class) {
            return "a string";
        }
        if (java.util.Collection.class.isAssignableFrom(t)) {
            return "an array";
        }
        return "an object";
    }

    /** A body that is not JSON at all, as opposed to JSON with invalid values (TGI tells the two apart). */
    private static final class MalformedBody extends SpindleException {
        MalformedBody(String message) {
            super(ErrorKind.INVALID_REQUEST, message);
        }
    }

    public static SpindleException malformed(String message) {
        return new MalformedBody(message);
    }

    /**
     * The HTTP status of an error in an API's dialect. TGI answers 422 for a well-formed JSON body
     * with invalid or mistyped values (its validation errors and its JSON extractor's data errors)
     * and 400 only for a body that is not JSON; OpenAI answers 400 for both.
     */
    public static int status(ApiDialect dialect, SpindleException e) {
        if (dialect == ApiDialect.TGI && e.kind() == ErrorKind.INVALID_REQUEST && !(e instanceof MalformedBody)) {
            return 422;
        }
        return status(e.kind());
    }

    /** Whether an error of this kind tells the client when to retry (429 and 503). */
    public static boolean hasRetryAfter(ErrorKind kind) {
        return kind == ErrorKind.OVERLOADED || kind == ErrorKind.UNAVAILABLE;
    }

    /** The Retry-After value for an OVERLOADED or UNAVAILABLE error: the server's estimate, else a second. */
    public static int retryAfter(SpindleException e) {
        return e.retryAfterSeconds() > 0 ? e.retryAfterSeconds() : DEFAULT_RETRY_AFTER_SECONDS;
    }

    public static int status(ErrorKind kind) {
        return switch (kind) {
            case INVALID_REQUEST -> 400;
            case NOT_FOUND -> 404;
            case OVERLOADED -> 429;
            case UNAVAILABLE -> 503;
            case TIMEOUT -> 504;
            case CANCELLED -> 499;
            case MODEL_FAILURE -> 500;
        };
    }

    /** OpenAI's {@code error.type}. */
    public static String openAiType(ErrorKind kind) {
        return switch (kind) {
            case INVALID_REQUEST -> "invalid_request_error";
            case NOT_FOUND -> "not_found_error";
            case OVERLOADED -> "overloaded_error";
            case UNAVAILABLE -> "unavailable_error";
            case TIMEOUT -> "timeout_error";
            case CANCELLED -> "cancelled";
            case MODEL_FAILURE -> "server_error";
        };
    }

    /** TGI's {@code error_type}. */
    public static String tgiType(ErrorKind kind) {
        return switch (kind) {
            case INVALID_REQUEST -> "validation";
            case NOT_FOUND -> "not_found";
            case OVERLOADED -> "overloaded";
            case UNAVAILABLE -> "unavailable";
            case TIMEOUT -> "timeout";
            case CANCELLED -> "cancelled";
            case MODEL_FAILURE -> "generation";
        };
    }

    public static Object body(ApiDialect dialect, SpindleException e) {
        Map<String, Object> body = new LinkedHashMap<>();
        if (dialect == ApiDialect.TGI) {
            body.put("error", e.getMessage());
            body.put("error_type", tgiType(e.kind()));
            return body;
        }
        Map<String, Object> error = new LinkedHashMap<>();
        error.put("message", e.getMessage());
        error.put("type", openAiType(e.kind()));
        error.put("param", e.param());
        error.put("code", e.kind() == ErrorKind.NOT_FOUND && "model".equals(e.param()) ? "model_not_found" : null);
        body.put("error", error);
        return body;
    }

    public static WsMessages.Error ws(String id, SpindleException e) {
        return new WsMessages.Error(id, new WsMessages.Body(e.getMessage(), openAiType(e.kind())));
    }
}
