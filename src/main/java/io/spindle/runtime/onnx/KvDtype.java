package io.spindle.runtime.onnx;

import ai.onnxruntime.OnnxJavaType;

import java.util.Locale;

/**
 * The element type of the in-place KV form's cache and attention ({@code spindle.models.kv-dtype}):
 * weights and every other operator stay float32 whichever it is. ONNX Runtime's CUDA
 * {@code GroupQueryAttention} exists only for float16 and bfloat16, so a float32 in-place graph would
 * run its attention on the CPU provider; on CPU both run (1.29).
 */
public enum KvDtype {
    FLOAT32("float32", OnnxJavaType.FLOAT, 4),
    FLOAT16("float16", OnnxJavaType.FLOAT16, 2);

    /** The setting's default: {@code auto} picks by provider ({@link #resolve}). */
    public static final String AUTO = "auto";

    private final String id;
    private final OnnxJavaType javaType;
    private final int bytes;

    KvDtype(String id, OnnxJavaType javaType, int bytes) {
        this.id = id;
        this.javaType = javaType;
        this.bytes = bytes;
    }

    /** The name the setting, the cache key and {@code /v1/models} use. */
    public String id() {
        return id;
    }

    public OnnxJavaType javaType() {
        return javaType;
    }

    public int bytes() {
        return bytes;
    }

    /**
     * The setting's value on {@code provider}: {@code float32}, {@code float16}, or {@code auto}, which is
     * float16 on CUDA (where attention stays on the GPU only in float16) and float32 on CPU.
     */
    public static KvDtype resolve(String setting, OrtRuntime.Provider provider) {
        String v = setting.strip().toLowerCase(Locale.ROOT);
        if (v.equals(AUTO)) {
            return provider == OrtRuntime.Provider.CUDA ? FLOAT16 : FLOAT32;
        }
        for (KvDtype d : values()) {
            if (d.id.equals(v)) {
                return d;
            }
        }
        throw new IllegalArgumentException("spindle.models.kv-dtype is auto, float32 or float16, not " + setting);
    }

    /** The cache element type of a graph (its past inputs' type), for reporting; null when it is neither. */
    public static KvDtype of(OnnxJavaType type) {
        for (KvDtype d : values()) {
            if (d.javaType == type) {
                return d;
            }
        }
        return null;
    }
}
