package io.spindle.runtime.onnx.capi;

/**
 * A non-null {@code OrtStatus*} returned by a C API call: ONNX Runtime's error code and message,
 * read with {@code GetErrorCode} and {@code GetErrorMessage} before the status is released.
 */
public final class OrtStatusException extends RuntimeException {
    private final int errorCode;

    OrtStatusException(String call, int errorCode, String message) {
        super(call + " failed (OrtErrorCode " + errorCode + "): " + message);
        this.errorCode = errorCode;
    }

    /** ONNX Runtime's {@code OrtErrorCode}: 1 ORT_FAIL, 2 ORT_INVALID_ARGUMENT, 6 ORT_RUNTIME_EXCEPTION, … */
    public int errorCode() {
        return errorCode;
    }
}
