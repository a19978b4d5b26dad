package io.spindle.runtime.onnx.capi;

import ai.onnxruntime.OrtEnvironment;
import io.spindle.runtime.onnx.NoTelemetry;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.lang.reflect.Field;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * ONNX Runtime's C API ({@code OrtApi}) through Java's foreign function interface, on the very
 * {@code libonnxruntime} that the Microsoft jar loaded: the jar's JNI code and this layer share one
 * library, one environment and one session object.
 *
 * <p>Functions are taken from the {@code OrtApi} struct by index. The struct is append-only (ONNX
 * Runtime never reorders or removes an entry, so that a program built against an older header runs on
 * a newer library), so an index read from the header stays right in every later version. The indices
 * below were counted from {@code include/onnxruntime/core/session/onnxruntime_c_api.h} (struct
 * {@code OrtApi}, entry 0 = {@code CreateStatus}; the same order as the C# binding's
 * {@code NativeMethods.shared.cs}) and cross-checked against the 1.29 jar's own
 * {@code libonnxruntime4j_jni.so}, whose calls read the struct at byte offset 8 × index
 * ({@code objdump -d}; of the entries used here: GetErrorCode 1, GetErrorMessage 2, CreateRunOptions 39,
 * RunOptionsSetTerminate 46, RunOptionsUnsetTerminate 47, CreateTensorWithDataAsOrtValue 49,
 * GetTensorMutableData 51, GetTensorElementType 60, GetDimensionsCount 61, GetDimensions 62,
 * GetTensorTypeAndShape 65, AllocatorAlloc 75, AllocatorFree 76, ReleaseStatus 93, ReleaseValue 96,
 * ReleaseTensorTypeAndShapeInfo 99). At load, {@link #load()} also checks the library's version
 * string, that {@code GetApi} returns the very struct the jar uses, and that CreateCpuMemoryInfo,
 * MemoryInfoGetName and MemoryInfoGetId (68–72, not used by the jar) answer "Cpu" and 0, and that
 * GetBuildInfoString (254) answers "ORT Build Info…". CopyTensors (386) was counted from the 1.30 header
 * (entries 204–386 appended since SynchronizeBoundOutputs) and is checked by a test that copies with it.
 * The IoBinding entries (133–142, 202–203) are checked by the tests, which compare a bound run with
 * {@code OrtSession.run}.
 *
 * <p>Thread-safety: the handles are stateless; ONNX Runtime's own rules apply to the objects.
 */
public final class OrtCapi {
    /** {@code ORT_API_VERSION} of the 1.29 header: the struct version asked of {@code GetApi}. */
    static final int API_VERSION = 29;
    /** The library version this layer was written and checked against (the jar's). */
    static final String EXPECTED_VERSION_PREFIX = "1.29.";

    // Indices into struct OrtApi; each comment is the header's declaration.
    /** {@code OrtErrorCode GetErrorCode(const OrtStatus* status)} */
    static final int GET_ERROR_CODE = 1;
    /** {@code const char* GetErrorMessage(const OrtStatus* status)} */
    static final int GET_ERROR_MESSAGE = 2;
    /** {@code OrtStatus* CreateRunOptions(OrtRunOptions** out)} */
    static final int CREATE_RUN_OPTIONS = 39;
    /** {@code OrtStatus* RunOptionsSetTerminate(OrtRunOptions* options)} */
    static final int RUN_OPTIONS_SET_TERMINATE = 46;
    /** {@code OrtStatus* RunOptionsUnsetTerminate(OrtRunOptions* options)} */
    static final int RUN_OPTIONS_UNSET_TERMINATE = 47;
    /** {@code OrtStatus* CreateTensorWithDataAsOrtValue(const OrtMemoryInfo* info, void* p_data, size_t p_data_len, const int64_t* shape, size_t shape_len, ONNXTensorElementDataType type, OrtValue** out)} */
    static final int CREATE_TENSOR_WITH_DATA_AS_ORT_VALUE = 49;
    /** {@code OrtStatus* GetTensorMutableData(OrtValue* value, void** out)} */
    static final int GET_TENSOR_MUTABLE_DATA = 51;
    /** {@code OrtStatus* GetTensorElementType(const OrtTensorTypeAndShapeInfo* info, ONNXTensorElementDataType* out)} */
    static final int GET_TENSOR_ELEMENT_TYPE = 60;
    /** {@code OrtStatus* GetDimensionsCount(const OrtTensorTypeAndShapeInfo* info, size_t* out)} */
    static final int GET_DIMENSIONS_COUNT = 61;
    /** {@code OrtStatus* GetDimensions(const OrtTensorTypeAndShapeInfo* info, int64_t* dim_values, size_t dim_values_length)} */
    static final int GET_DIMENSIONS = 62;
    /** {@code OrtStatus* GetTensorTypeAndShape(const OrtValue* value, OrtTensorTypeAndShapeInfo** out)} */
    static final int GET_TENSOR_TYPE_AND_SHAPE = 65;
    /** {@code OrtStatus* CreateMemoryInfo(const char* name, OrtAllocatorType type, int id, OrtMemType mem_type, OrtMemoryInfo** out)} */
    static final int CREATE_MEMORY_INFO = 68;
    /** {@code OrtStatus* CreateCpuMemoryInfo(OrtAllocatorType type, OrtMemType mem_type, OrtMemoryInfo** out)} */
    static final int CREATE_CPU_MEMORY_INFO = 69;
    /** {@code OrtStatus* MemoryInfoGetName(const OrtMemoryInfo* ptr, const char** out)} */
    static final int MEMORY_INFO_GET_NAME = 71;
    /** {@code OrtStatus* MemoryInfoGetId(const OrtMemoryInfo* ptr, int* out)} */
    static final int MEMORY_INFO_GET_ID = 72;
    /** {@code OrtStatus* MemoryInfoGetMemType(const OrtMemoryInfo* ptr, OrtMemType* out)} */
    static final int MEMORY_INFO_GET_MEM_TYPE = 73;
    /** {@code OrtStatus* MemoryInfoGetType(const OrtMemoryInfo* ptr, OrtAllocatorType* out)} */
    static final int MEMORY_INFO_GET_TYPE = 74;
    /** {@code OrtStatus* AllocatorAlloc(OrtAllocator* ort_allocator, size_t size, void** out)} */
    static final int ALLOCATOR_ALLOC = 75;
    /** {@code OrtStatus* AllocatorFree(OrtAllocator* ort_allocator, void* p)} */
    static final int ALLOCATOR_FREE = 76;
    /** {@code void ReleaseStatus(OrtStatus* input)} */
    static final int RELEASE_STATUS = 93;
    /** {@code void ReleaseMemoryInfo(OrtMemoryInfo* input)} */
    static final int RELEASE_MEMORY_INFO = 94;
    /** {@code void ReleaseValue(OrtValue* input)} */
    static final int RELEASE_VALUE = 96;
    /** {@code void ReleaseRunOptions(OrtRunOptions* input)} */
    static final int RELEASE_RUN_OPTIONS = 97;
    /** {@code void ReleaseTensorTypeAndShapeInfo(OrtTensorTypeAndShapeInfo* input)} */
    static final int RELEASE_TENSOR_TYPE_AND_SHAPE_INFO = 99;
    /** {@code OrtStatus* CreateAllocator(const OrtSession* session, const OrtMemoryInfo* mem_info, OrtAllocator** out)} */
    static final int CREATE_ALLOCATOR = 131;
    /** {@code void ReleaseAllocator(OrtAllocator* allocator)} */
    static final int RELEASE_ALLOCATOR = 132;
    /** {@code OrtStatus* RunWithBinding(OrtSession* session, const OrtRunOptions* run_options, const OrtIoBinding* binding_ptr)} */
    static final int RUN_WITH_BINDING = 133;
    /** {@code OrtStatus* CreateIoBinding(OrtSession* session, OrtIoBinding** out)} */
    static final int CREATE_IO_BINDING = 134;
    /** {@code void ReleaseIoBinding(OrtIoBinding* input)} */
    static final int RELEASE_IO_BINDING = 135;
    /** {@code OrtStatus* BindInput(OrtIoBinding* binding_ptr, const char* name, const OrtValue* val_ptr)} */
    static final int BIND_INPUT = 136;
    /** {@code OrtStatus* BindOutput(OrtIoBinding* binding_ptr, const char* name, const OrtValue* val_ptr)} */
    static final int BIND_OUTPUT = 137;
    /** {@code OrtStatus* BindOutputToDevice(OrtIoBinding* binding_ptr, const char* name, const OrtMemoryInfo* mem_info_ptr)} */
    static final int BIND_OUTPUT_TO_DEVICE = 138;
    /** {@code OrtStatus* GetBoundOutputValues(const OrtIoBinding* binding_ptr, OrtAllocator* allocator, OrtValue*** output, size_t* output_count)} */
    static final int GET_BOUND_OUTPUT_VALUES = 140;
    /** {@code void ClearBoundInputs(OrtIoBinding* binding_ptr)} */
    static final int CLEAR_BOUND_INPUTS = 141;
    /** {@code void ClearBoundOutputs(OrtIoBinding* binding_ptr)} */
    static final int CLEAR_BOUND_OUTPUTS = 142;
    /** {@code OrtStatus* SynchronizeBoundInputs(OrtIoBinding* binding_ptr)} */
    static final int SYNCHRONIZE_BOUND_INPUTS = 202;
    /** {@code OrtStatus* SynchronizeBoundOutputs(OrtIoBinding* binding_ptr)} */
    static final int SYNCHRONIZE_BOUND_OUTPUTS = 203;
    /** {@code const char* GetBuildInfoString(void)}: checked at load, the first entry past the IoBinding ones. */
    static final int GET_BUILD_INFO_STRING = 254;
    /**
     * {@code OrtStatus* CopyTensors(const OrtEnv* env, const OrtValue* const* src_tensors, OrtValue* const* dst_tensors,
     * OrtSyncStream* stream, size_t num_tensors)} (1.23): copies with the data transfers registered with the
     * environment, those of execution-provider libraries ({@code RegisterExecutionProviderLibrary}); not those
     * of a provider appended to one session's options (see {@link Tensor#copy}).
     */
    static final int COPY_TENSORS = 386;
    /** The highest index used: the struct is read up to here. */
    private static final int LAST_INDEX = COPY_TENSORS;

    private static final Linker LINKER = Linker.nativeLinker();

    private final Path library;
    private final String version;
    private final MemorySegment apiStruct;
    private final MethodHandle[] functions = new MethodHandle[LAST_INDEX + 1];

    private OrtCapi(Path library, String version, MemorySegment apiStruct) {
        this.library = library;
        this.version = version;
        this.apiStruct = apiStruct;
    }

    /** The process's one instance, found and checked on first use. */
    public static OrtCapi load() {
        return Holder.INSTANCE;
    }

    private static final class Holder {
        static final OrtCapi INSTANCE = open();
    }

    /** Where the library this layer calls was loaded from (as the process maps it). */
    public Path library() {
        return library;
    }

    /** {@code OrtApiBase::GetVersionString()}, e.g. 1.29.0. */
    public String version() {
        return version;
    }

    private static OrtCapi open() {
        NoTelemetry.ensureDisabled();
        OrtEnvironment env = OrtEnvironment.getEnvironment();  // makes the jar load its libraries first
        List<String> tried = new ArrayList<>();
        for (String name : candidates()) {
            tried.add(name);
            Optional<MemorySegment> base;
            try {
                // By name, not Path: dlopen matches an already loaded object by the name it was loaded under
                // (or its soname) and returns that instance, even where the jar's temporary copy is deleted.
                base = SymbolLookup.libraryLookup(name, Arena.global()).find("OrtGetApiBase");
            } catch (IllegalArgumentException notLoadable) {
                continue;
            }
            if (base.isPresent()) {
                OrtCapi api = fromBase(Path.of(name), base.get());
                api.verify(env);
                return api;
            }
        }
        throw new IllegalStateException("cannot find the libonnxruntime the ONNX Runtime jar loaded; tried " + tried);
    }

    /** The loaded library's path from /proc/self/maps, then the jar's path properties, then the soname. */
    private static List<String> candidates() {
        List<String> out = new ArrayList<>();
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/maps"))) {
                int slash = line.indexOf('/');
                if (slash < 0) {
                    continue;
                }
                String path = line.substring(slash).replace(" (deleted)", "").trim();
                String file = path.substring(path.lastIndexOf('/') + 1);
                if ((file.equals("libonnxruntime.so") || file.startsWith("libonnxruntime.so.")) && !out.contains(path)) {
                    out.add(path);
                }
            }
        } catch (IOException | RuntimeException noProcfs) {
            // Not Linux: fall through to the other candidates.
        }
        String explicit = System.getProperty("onnxruntime.native.onnxruntime.path");
        if (explicit != null) {
            out.add(Path.of(explicit).toAbsolutePath().toString());
        }
        String dir = System.getProperty("onnxruntime.native.path");
        if (dir != null) {
            out.add(Path.of(dir).resolve(System.mapLibraryName("onnxruntime")).toAbsolutePath().toString());
        }
        out.add("libonnxruntime.so.1");
        out.add(System.mapLibraryName("onnxruntime"));
        return out;
    }

    private static OrtCapi fromBase(Path library, MemorySegment getApiBase) {
        try {
            MemorySegment base = (MemorySegment) LINKER.downcallHandle(getApiBase, FunctionDescriptor.of(ADDRESS))
                    .invokeExact();
            // struct OrtApiBase { const OrtApi* (*GetApi)(uint32_t version); const char* (*GetVersionString)(void); }
            base = base.reinterpret(2 * ADDRESS.byteSize());
            MemorySegment getApi = base.get(ADDRESS, 0);
            MemorySegment getVersion = base.get(ADDRESS, ADDRESS.byteSize());
            String version = cString((MemorySegment) LINKER.downcallHandle(getVersion, FunctionDescriptor.of(ADDRESS))
                    .invokeExact());
            if (!version.startsWith(EXPECTED_VERSION_PREFIX)) {
                throw new IllegalStateException(library + " is ONNX Runtime " + version + "; this layer's struct indices "
                        + "were checked against " + EXPECTED_VERSION_PREFIX + "x");
            }
            MemorySegment api = (MemorySegment) LINKER.downcallHandle(getApi, FunctionDescriptor.of(ADDRESS, JAVA_INT))
                    .invokeExact(API_VERSION);
            if (api.equals(MemorySegment.NULL)) {
                throw new IllegalStateException(library + " (" + version + ") has no OrtApi version " + API_VERSION);
            }
            return new OrtCapi(library, version, api.reinterpret((LAST_INDEX + 1) * ADDRESS.byteSize()));
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("calling OrtGetApiBase in " + library + " failed", t);
        }
    }

    /** Same library instance as the jar's, same version as the jar, and a struct index that answers as expected. */
    private void verify(OrtEnvironment env) {
        String jarVersion = OrtEnvironment.class.getPackage().getImplementationVersion();
        String expected = jarVersion != null ? jarVersion : env.getVersion();
        if (!version.equals(expected)) {
            throw new IllegalStateException("libonnxruntime at " + library + " is " + version + " but the jar is " + expected);
        }
        long jarApi = jarApiHandle();
        if (jarApi != 0 && jarApi != apiStruct.address()) {
            throw new IllegalStateException("libonnxruntime at " + library + " is not the instance the jar loaded "
                    + "(OrtApi at 0x" + Long.toHexString(apiStruct.address()) + ", the jar's at 0x" + Long.toHexString(jarApi) + ")");
        }
        String buildInfo = buildInfo();
        if (!buildInfo.startsWith("ORT Build Info")) {
            throw new IllegalStateException("OrtApi indices do not match this library: entry " + GET_BUILD_INFO_STRING
                    + " (GetBuildInfoString) answers '" + buildInfo + "'");
        }
        try (MemoryInfo cpu = MemoryInfo.cpu(this, new NativeLedger())) {
            if (!cpu.name().equals(MemoryInfo.CPU) || cpu.deviceId() != 0) {
                throw new IllegalStateException("OrtApi indices do not match this library: a CPU memory info reads back as "
                        + cpu.name() + "/" + cpu.deviceId());
            }
        }
    }

    /** {@code GetBuildInfoString()}: "ORT Build Info: git-branch=…, build type=…, …". */
    public String buildInfo() {
        try {
            return cString((MemorySegment) fn(GET_BUILD_INFO_STRING, FunctionDescriptor.of(ADDRESS)).invokeExact());
        } catch (Throwable t) {
            throw new IllegalStateException("GetBuildInfoString failed", t);
        }
    }

    /**
     * The {@code OrtApi*} the jar's JNI code uses ({@code ai.onnxruntime.OnnxRuntime.ortApiHandle}, package
     * private, read reflectively); 0 when it cannot be read, in which case only the version is compared.
     */
    private static long jarApiHandle() {
        try {
            Class<?> c = Class.forName("ai.onnxruntime.OnnxRuntime", true, OrtEnvironment.class.getClassLoader());
            Field f = c.getDeclaredField("ortApiHandle");
            f.setAccessible(true);
            return f.getLong(null);
        } catch (ReflectiveOperationException | RuntimeException e) {
            return 0;
        }
    }

    /** The downcall handle for struct entry {@code index}, made once. */
    MethodHandle fn(int index, FunctionDescriptor descriptor) {
        MethodHandle h = functions[index];
        if (h == null) {
            MemorySegment pointer = apiStruct.get(ADDRESS, index * ADDRESS.byteSize());
            if (pointer.equals(MemorySegment.NULL)) {
                throw new IllegalStateException("OrtApi entry " + index + " is null in " + version);
            }
            h = LINKER.downcallHandle(pointer, descriptor);
            functions[index] = h;
        }
        return h;
    }

    /** Throws ONNX Runtime's message when {@code status} is not null; releases it either way. */
    void check(String call, MemorySegment status) {
        if (status.equals(MemorySegment.NULL)) {
            return;
        }
        int code;
        String message;
        try {
            code = (int) fn(GET_ERROR_CODE, FunctionDescriptor.of(JAVA_INT, ADDRESS)).invokeExact(status);
            message = cString((MemorySegment) fn(GET_ERROR_MESSAGE, FunctionDescriptor.of(ADDRESS, ADDRESS))
                    .invokeExact(status));
        } catch (Throwable t) {
            throw new IllegalStateException("reading the OrtStatus of " + call + " failed", t);
        } finally {
            releaseWith(RELEASE_STATUS, status);
        }
        throw new OrtStatusException(call, code, message);
    }

    /** Calls a {@code void Release*(T*)} entry; null is accepted by every Release* of the C API. */
    void releaseWith(int index, MemorySegment handle) {
        try {
            fn(index, FunctionDescriptor.ofVoid(ADDRESS)).invokeExact(handle);
        } catch (Throwable t) {
            throw new IllegalStateException("OrtApi release entry " + index + " failed", t);
        }
    }

    /** A status-returning entry with one pointer argument (the object). */
    void call1(String name, int index, MemorySegment a) {
        MemorySegment status;
        try {
            status = (MemorySegment) fn(index, FunctionDescriptor.of(ADDRESS, ADDRESS)).invokeExact(a);
        } catch (Throwable t) {
            throw new IllegalStateException(name + " failed", t);
        }
        check(name, status);
    }

    /** A status-returning entry with two pointer arguments. */
    void call2(String name, int index, MemorySegment a, MemorySegment b) {
        MemorySegment status;
        try {
            status = (MemorySegment) fn(index, FunctionDescriptor.of(ADDRESS, ADDRESS, ADDRESS)).invokeExact(a, b);
        } catch (Throwable t) {
            throw new IllegalStateException(name + " failed", t);
        }
        check(name, status);
    }

    /** A status-returning entry with three pointer arguments. */
    void call3(String name, int index, MemorySegment a, MemorySegment b, MemorySegment c) {
        MemorySegment status;
        try {
            status = (MemorySegment) fn(index, FunctionDescriptor.of(ADDRESS, ADDRESS, ADDRESS, ADDRESS))
                    .invokeExact(a, b, c);
        } catch (Throwable t) {
            throw new IllegalStateException(name + " failed", t);
        }
        check(name, status);
    }

    static String cString(MemorySegment p) {
        return p.equals(MemorySegment.NULL) ? "" : p.reinterpret(Long.MAX_VALUE).getString(0);
    }

    /** A pointer-sized out parameter. */
    static MemorySegment outPointer(Arena arena) {
        return arena.allocate(ADDRESS);
    }

    static final MemoryLayout SIZE_T = JAVA_LONG;
}
