package io.spindle.runtime.onnx.capi;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;

/**
 * An {@code OrtMemoryInfo}: which device and kind of memory a tensor's data lives in. CPU memory
 * ({@code CreateCpuMemoryInfo}) or CUDA device memory ({@code CreateMemoryInfo("Cuda", …)}); the
 * same code binds either, which is what lets CI run the device path on CPU.
 */
public final class MemoryInfo extends NativeHandle {
    /** The names ONNX Runtime gives these memories (onnxruntime/core/framework/allocator.h). */
    public static final String CPU = "Cpu";
    public static final String CUDA = "Cuda";
    public static final String CUDA_PINNED = "CudaPinned";
    /** {@code OrtAllocatorType}: OrtDeviceAllocator. */
    static final int DEVICE_ALLOCATOR = 0;
    /** {@code OrtMemType}: OrtMemTypeDefault. */
    static final int MEM_TYPE_DEFAULT = 0;
    /** {@code OrtMemType}: OrtMemTypeCPUOutput, what CUDA pinned host memory is described as. */
    static final int MEM_TYPE_CPU_OUTPUT = -1;

    private final String name;
    private final int deviceId;

    private MemoryInfo(OrtCapi api, NativeLedger ledger, MemorySegment handle) {
        super(api, ledger, NativeLedger.Kind.MEMORY_INFO, handle);
        String n;
        int id;
        try {
            n = readName();
            id = readId();
        } catch (RuntimeException e) {
            close();
            throw e;
        }
        this.name = n;
        this.deviceId = id;
    }

    /** Host memory, as ONNX Runtime's CPU provider reads it. */
    public static MemoryInfo cpu(OrtCapi api, NativeLedger ledger) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = OrtCapi.outPointer(arena);
            MemorySegment status;
            try {
                status = (MemorySegment) api.fn(OrtCapi.CREATE_CPU_MEMORY_INFO,
                        FunctionDescriptor.of(ADDRESS, JAVA_INT, JAVA_INT, ADDRESS))
                        .invokeExact(DEVICE_ALLOCATOR, MEM_TYPE_DEFAULT, out);
            } catch (Throwable t) {
                throw new IllegalStateException("CreateCpuMemoryInfo failed", t);
            }
            api.check("CreateCpuMemoryInfo", status);
            return new MemoryInfo(api, ledger, out.get(ADDRESS, 0));
        }
    }

    /** Device memory of CUDA device {@code deviceId} (what the CUDA provider allocates and reads). */
    public static MemoryInfo cuda(OrtCapi api, NativeLedger ledger, int deviceId) {
        return create(api, ledger, CUDA, deviceId, MEM_TYPE_DEFAULT);
    }

    /** Page-locked host memory the CUDA provider copies from and to without staging. */
    public static MemoryInfo cudaPinned(OrtCapi api, NativeLedger ledger) {
        return create(api, ledger, CUDA_PINNED, 0, MEM_TYPE_CPU_OUTPUT);
    }

    static MemoryInfo create(OrtCapi api, NativeLedger ledger, String name, int deviceId, int memType) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = OrtCapi.outPointer(arena);
            MemorySegment status;
            try {
                status = (MemorySegment) api.fn(OrtCapi.CREATE_MEMORY_INFO,
                        FunctionDescriptor.of(ADDRESS, ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS))
                        .invokeExact(arena.allocateFrom(name), DEVICE_ALLOCATOR, deviceId, memType, out);
            } catch (Throwable t) {
                throw new IllegalStateException("CreateMemoryInfo failed", t);
            }
            api.check("CreateMemoryInfo(" + name + ")", status);
            return new MemoryInfo(api, ledger, out.get(ADDRESS, 0));
        }
    }

    /** {@code MemoryInfoGetName}: "Cpu", "Cuda", "CudaPinned", … */
    public String name() {
        return name;
    }

    /** {@code MemoryInfoGetId}: the device ordinal (0 for the CPU). */
    public int deviceId() {
        return deviceId;
    }

    /** Memory the host can read and write directly (CPU or pinned), so that Java may view it as a segment. */
    public boolean hostAccessible() {
        return name.equals(CPU) || name.equals(CUDA_PINNED);
    }

    /** {@code MemoryInfoGetMemType} ({@code OrtMemType}: 0 default, -1 CPU output, -2 CPU input). */
    public int memType() {
        return readInt("MemoryInfoGetMemType", OrtCapi.MEMORY_INFO_GET_MEM_TYPE);
    }

    /** {@code MemoryInfoGetType} ({@code OrtAllocatorType}: 0 device, 1 arena). */
    public int allocatorType() {
        return readInt("MemoryInfoGetType", OrtCapi.MEMORY_INFO_GET_TYPE);
    }

    private String readName() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = OrtCapi.outPointer(arena);
            api.call2("MemoryInfoGetName", OrtCapi.MEMORY_INFO_GET_NAME, handle(), out);
            return OrtCapi.cString(out.get(ADDRESS, 0));
        }
    }

    private int readId() {
        return readInt("MemoryInfoGetId", OrtCapi.MEMORY_INFO_GET_ID);
    }

    private int readInt(String call, int index) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(JAVA_INT);
            api.call2(call, index, handle(), out);
            return out.get(JAVA_INT, 0);
        }
    }

    @Override
    void release(MemorySegment handle) {
        api.releaseWith(OrtCapi.RELEASE_MEMORY_INFO, handle);
    }

    @Override
    public String toString() {
        return "MemoryInfo[" + name + ":" + deviceId + "]";
    }
}
