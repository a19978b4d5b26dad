package io.spindle.runtime.onnx.capi;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.List;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * An {@code OrtValue} tensor. Over Spindle's memory ({@link #over}: {@code CreateTensorWithDataAsOrtValue},
 * no copy; the memory must outlive the value and every binding it is bound to), or one ONNX Runtime
 * allocated and handed out ({@link IoBinding#outputs}). Closing releases the value
 * ({@code ReleaseValue}), never the memory it views.
 */
public final class Tensor extends NativeHandle {
    private final MemoryInfo memory;
    private final ElementType type;
    private final long[] shape;
    private final long bytes;

    private Tensor(OrtCapi api, NativeLedger ledger, MemorySegment handle, MemoryInfo memory, ElementType type,
                   long[] shape, long bytes) {
        super(api, ledger, NativeLedger.Kind.VALUE, handle);
        this.memory = memory;
        this.type = type;
        this.shape = shape;
        this.bytes = bytes;
    }

    /**
     * A tensor of {@code shape} over the first bytes of {@code data}, which {@code memory} describes.
     * The data must hold the whole tensor: ONNX Runtime would otherwise read past it.
     */
    public static Tensor over(OrtCapi api, NativeLedger ledger, MemoryInfo memory, MemorySegment data, ElementType type,
                              long... shape) {
        if (!data.isNative()) {
            throw new IllegalArgumentException("a tensor's data must be native memory");
        }
        long elements = 1;
        for (long d : shape) {
            if (d < 0) {
                throw new IllegalArgumentException("negative dimension in " + Arrays.toString(shape));
            }
            elements = Math.multiplyExact(elements, d);
        }
        long bytes = elements * type.bytes();
        if (bytes > data.byteSize()) {
            throw new IllegalArgumentException("a " + type + " tensor of shape " + Arrays.toString(shape) + " needs " + bytes
                    + " bytes; the memory holds " + data.byteSize());
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment dims = arena.allocateFrom(JAVA_LONG, shape.length == 0 ? new long[] {0} : shape);
            MemorySegment out = OrtCapi.outPointer(arena);
            MemorySegment status;
            try {
                status = (MemorySegment) api.fn(OrtCapi.CREATE_TENSOR_WITH_DATA_AS_ORT_VALUE,
                        FunctionDescriptor.of(ADDRESS, ADDRESS, ADDRESS, JAVA_LONG, ADDRESS, JAVA_LONG, JAVA_INT, ADDRESS))
                        .invokeExact(memory.handle(), data, bytes, dims, (long) shape.length, type.code, out);
            } catch (Throwable t) {
                throw new IllegalStateException("CreateTensorWithDataAsOrtValue failed", t);
            }
            api.check("CreateTensorWithDataAsOrtValue", status);
            return new Tensor(api, ledger, out.get(ADDRESS, 0), memory, type, shape.clone(), bytes);
        }
    }

    /** A value ONNX Runtime created (a bound output it allocated); its type and shape are read back. */
    static Tensor adopt(OrtCapi api, NativeLedger ledger, MemorySegment value, MemoryInfo memory) {
        MemorySegment info;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = OrtCapi.outPointer(arena);
            try {
                api.call2("GetTensorTypeAndShape", OrtCapi.GET_TENSOR_TYPE_AND_SHAPE, value, out);
            } catch (RuntimeException e) {
                api.releaseWith(OrtCapi.RELEASE_VALUE, value);
                throw e;
            }
            info = out.get(ADDRESS, 0);
            try {
                MemorySegment type = arena.allocate(JAVA_INT);
                api.call2("GetTensorElementType", OrtCapi.GET_TENSOR_ELEMENT_TYPE, info, type);
                MemorySegment count = arena.allocate(JAVA_LONG);
                api.call2("GetDimensionsCount", OrtCapi.GET_DIMENSIONS_COUNT, info, count);
                int n = (int) count.get(JAVA_LONG, 0);
                MemorySegment dims = arena.allocate(JAVA_LONG, Math.max(n, 1));
                MemorySegment status = (MemorySegment) api.fn(OrtCapi.GET_DIMENSIONS,
                        FunctionDescriptor.of(ADDRESS, ADDRESS, ADDRESS, JAVA_LONG)).invokeExact(info, dims, (long) n);
                api.check("GetDimensions", status);
                long[] shape = n == 0 ? new long[0] : dims.toArray(JAVA_LONG);
                shape = Arrays.copyOf(shape, n);
                ElementType t = ElementType.ofCode(type.get(JAVA_INT, 0));
                long elements = 1;
                for (long d : shape) {
                    elements *= d;
                }
                return new Tensor(api, ledger, value, memory, t, shape, elements * t.bytes());
            } catch (Throwable e) {
                api.releaseWith(OrtCapi.RELEASE_VALUE, value);
                if (e instanceof RuntimeException r) {
                    throw r;
                }
                throw new IllegalStateException("reading a bound output's shape failed", e);
            } finally {
                api.releaseWith(OrtCapi.RELEASE_TENSOR_TYPE_AND_SHAPE_INFO, info);
            }
        }
    }

    public MemoryInfo memory() {
        return memory;
    }

    public ElementType type() {
        return type;
    }

    public long[] shape() {
        return shape.clone();
    }

    /** Bytes of the tensor's data. */
    public long bytes() {
        return bytes;
    }

    /**
     * The tensor's data ({@code GetTensorMutableData}) as a segment of {@link #bytes()}; Java may read
     * it only where {@link MemoryInfo#hostAccessible()}.
     */
    public MemorySegment data() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = OrtCapi.outPointer(arena);
            api.call2("GetTensorMutableData", OrtCapi.GET_TENSOR_MUTABLE_DATA, handle(), out);
            return out.get(ADDRESS, 0).reinterpret(bytes);
        }
    }

    /**
     * {@code CopyTensors}: each {@code src[i]} into {@code dst[i]} (same type and size), all sources in one
     * memory and all destinations in one, with the data transfers registered with {@code env}: those of
     * execution-provider libraries registered with it ({@code RegisterExecutionProviderLibrary}). The jar's
     * environment has none, not even CPU to CPU (1.29: "Data transfer implementation between source and
     * destination device was not found"), and a session's {@code addCUDA} registers none, so the KV cache's
     * copies run through sessions instead ({@link DeviceCopy}); kept, checked by a test, for when one is.
     */
    public static void copy(OrtCapi api, ai.onnxruntime.OrtEnvironment env, List<Tensor> src, List<Tensor> dst) {
        if (src.size() != dst.size() || src.isEmpty()) {
            throw new IllegalArgumentException(src.size() + " sources for " + dst.size() + " destinations");
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment from = arena.allocate(ADDRESS, src.size());
            MemorySegment to = arena.allocate(ADDRESS, dst.size());
            for (int i = 0; i < src.size(); i++) {
                if (src.get(i).bytes() != dst.get(i).bytes()) {
                    throw new IllegalArgumentException("copy " + i + ": " + src.get(i) + " into " + dst.get(i));
                }
                from.setAtIndex(ADDRESS, i, src.get(i).handle());
                to.setAtIndex(ADDRESS, i, dst.get(i).handle());
            }
            MemorySegment status;
            try {
                status = (MemorySegment) api.fn(OrtCapi.COPY_TENSORS,
                        FunctionDescriptor.of(ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, JAVA_LONG))
                        .invokeExact(envHandle(env), from, to, MemorySegment.NULL, (long) src.size());
            } catch (Throwable t) {
                throw new IllegalStateException("CopyTensors failed", t);
            }
            api.check("CopyTensors", status);
        }
    }

    /** The {@code OrtEnv*} behind the jar's environment (its package-private field {@code nativeHandle}, 1.29). */
    private static MemorySegment envHandle(ai.onnxruntime.OrtEnvironment env) {
        try {
            java.lang.reflect.Field f = ai.onnxruntime.OrtEnvironment.class.getDeclaredField("nativeHandle");
            f.setAccessible(true);
            return MemorySegment.ofAddress(f.getLong(env));
        } catch (ReflectiveOperationException | RuntimeException e) {
            throw new IllegalStateException("cannot read OrtEnvironment.nativeHandle of this ONNX Runtime jar: " + e, e);
        }
    }

    @Override
    void release(MemorySegment handle) {
        api.releaseWith(OrtCapi.RELEASE_VALUE, handle);
    }

    @Override
    public String toString() {
        return "Tensor[" + type + Arrays.toString(shape) + " in " + memory + "]";
    }
}
