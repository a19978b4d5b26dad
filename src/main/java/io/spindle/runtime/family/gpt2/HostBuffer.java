package io.spindle.runtime.family.gpt2;

import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * A growable direct buffer of one element type that ONNX Runtime reads in place (no copy), reused
 * step after step for the small integer inputs (ids, positions, mask).
 * Confined to the engine thread.
 */
final class HostBuffer {
    private final OnnxJavaType type;
    private final int width;
    private ByteBuffer buffer = ByteBuffer.allocateDirect(0);

    HostBuffer(OnnxJavaType type) {
        this.type = type;
        this.width = switch (type) {
            case INT64 -> 8;
            case INT32, FLOAT -> 4;
            default -> throw new IllegalArgumentException("unsupported input element type " + type);
        };
    }

    /** Makes room for {@code n} elements; previous contents are not kept. */
    void reset(int n) {
        if (buffer.capacity() < n * width) {
            buffer = ByteBuffer.allocateDirect(Math.max(n * width, buffer.capacity() * 2)).order(ByteOrder.nativeOrder());
        }
    }

    void put(int index, long value) {
        switch (type) {
            case INT64 -> buffer.putLong(index * 8, value);
            case INT32 -> buffer.putInt(index * 4, (int) value);
            default -> buffer.putFloat(index * 4, value);
        }
    }

    /** The first {@code n} elements as native memory, for a tensor bound through the C API. */
    java.lang.foreign.MemorySegment segment(long n) {
        return java.lang.foreign.MemorySegment.ofBuffer(buffer).asSlice(0, n * width);
    }

    OnnxJavaType type() {
        return type;
    }

    OnnxTensor tensor(OrtEnvironment env, long... shape) throws OrtException {
        long n = 1;
        for (long d : shape) {
            n *= d;
        }
        ByteBuffer view = buffer.duplicate().order(ByteOrder.nativeOrder()).position(0).limit((int) n * width);
        return switch (type) {
            case INT64 -> OnnxTensor.createTensor(env, view.asLongBuffer(), shape);
            case INT32 -> OnnxTensor.createTensor(env, view.asIntBuffer(), shape);
            default -> OnnxTensor.createTensor(env, view.asFloatBuffer(), shape);
        };
    }
}
