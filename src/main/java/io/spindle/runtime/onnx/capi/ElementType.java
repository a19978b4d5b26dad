package io.spindle.runtime.onnx.capi;

/** {@code ONNXTensorElementDataType}: the element types this layer binds, with their C API codes and widths. */
public enum ElementType {
    FLOAT(1, 4), UINT8(2, 1), INT8(3, 1), INT32(6, 4), INT64(7, 8), BOOL(9, 1), FLOAT16(10, 2);

    final int code;
    private final int bytes;

    ElementType(int code, int bytes) {
        this.code = code;
        this.bytes = bytes;
    }

    public int bytes() {
        return bytes;
    }

    static ElementType ofCode(int code) {
        for (ElementType t : values()) {
            if (t.code == code) {
                return t;
            }
        }
        throw new IllegalArgumentException("element type " + code + " is not one this layer binds");
    }
}
