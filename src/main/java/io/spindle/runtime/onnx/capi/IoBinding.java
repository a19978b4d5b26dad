package io.spindle.runtime.onnx.capi;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * An {@code OrtIoBinding} on one session, with the {@code OrtRunOptions} its runs use: inputs and
 * outputs bound by name to {@link Tensor}s (Spindle's memory, no copy by the binding itself) or, for
 * outputs, to a device where ONNX Runtime allocates ({@code BindOutputToDevice}). Each run counts what
 * it moves between host and device ({@link Transfers}).
 *
 * <p>Lifetimes: the binding keeps its own reference to each bound value, so a {@link Tensor} may be
 * closed while bound, but the memory under it must live until the binding is cleared or closed. The
 * binding must be closed before its session. Closing is idempotent and safe while values are bound
 * (a step abandoned midway). {@link #terminate()} may be called from another thread to make a run in
 * flight, and every later one until {@link #resume()}, fail. Otherwise confined to one thread.
 */
public final class IoBinding extends NativeHandle {
    private final SessionHandle session;
    private final MemoryInfo device;
    private final MemorySegment runOptions;
    private final Arena names = Arena.ofShared();
    private final Map<String, MemorySegment> cNames = new HashMap<>();
    /** Bound bytes per name: positive = from host memory (moved), negative = resident in device memory. */
    private final Map<String, Long> inputs = new LinkedHashMap<>();
    private final Map<String, Long> outputs = new LinkedHashMap<>();
    private long runs;
    private long hostToDevice;
    private long deviceToHost;
    private long resident;
    private long totalMoved;

    private IoBinding(OrtCapi api, NativeLedger ledger, MemorySegment handle, SessionHandle session, MemoryInfo device,
                      MemorySegment runOptions) {
        super(api, ledger, NativeLedger.Kind.IO_BINDING, handle);
        this.session = session;
        this.device = device;
        this.runOptions = runOptions;
    }

    /**
     * A binding on {@code session} whose device memory is {@code device}: values over that memory info
     * are counted as resident, every other one as moved.
     */
    public static IoBinding create(OrtCapi api, NativeLedger ledger, SessionHandle session, MemoryInfo device) {
        MemorySegment options;
        MemorySegment binding;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = OrtCapi.outPointer(arena);
            api.call1("CreateRunOptions", OrtCapi.CREATE_RUN_OPTIONS, out);
            options = out.get(ADDRESS, 0);
            ledger.opened(NativeLedger.Kind.RUN_OPTIONS);
            try {
                api.call2("CreateIoBinding", OrtCapi.CREATE_IO_BINDING, session.handle(), out);
                binding = out.get(ADDRESS, 0);
            } catch (RuntimeException e) {
                api.releaseWith(OrtCapi.RELEASE_RUN_OPTIONS, options);
                ledger.closed(NativeLedger.Kind.RUN_OPTIONS);
                throw e;
            }
        }
        return new IoBinding(api, ledger, binding, session, device, options);
    }

    public MemoryInfo device() {
        return device;
    }

    /** {@code BindInput}: the run reads {@code name} from this tensor (copied to the device first when it is host memory). */
    public void bindInput(String name, Tensor value) {
        api.call3("BindInput(" + name + ")", OrtCapi.BIND_INPUT, handle(), cName(name), value.handle());
        inputs.put(name, signed(value));
    }

    /** {@code BindOutput}: the run writes {@code name} into this tensor (copied back when it is host memory). */
    public void bindOutput(String name, Tensor value) {
        api.call3("BindOutput(" + name + ")", OrtCapi.BIND_OUTPUT, handle(), cName(name), value.handle());
        outputs.put(name, signed(value));
    }

    /** {@code BindOutputToDevice}: ONNX Runtime allocates {@code name} in {@code memory}; read it with {@link #outputs}. */
    public void bindOutputToDevice(String name, MemoryInfo memory) {
        api.call3("BindOutputToDevice(" + name + ")", OrtCapi.BIND_OUTPUT_TO_DEVICE, handle(), cName(name), memory.handle());
        outputs.put(name, 0L);
    }

    private long signed(Tensor value) {
        return value.memory() == device ? -value.bytes() : value.bytes();
    }

    /** {@code RunWithBinding}: one run of the session over what is bound; counts its transfers. */
    public void run() {
        long in = 0;
        long out = 0;
        long res = 0;
        for (long b : inputs.values()) {
            in += Math.max(b, 0);
            res += Math.max(-b, 0);
        }
        for (long b : outputs.values()) {
            out += Math.max(b, 0);
            res += Math.max(-b, 0);
        }
        api.call3("RunWithBinding", OrtCapi.RUN_WITH_BINDING, session.handle(), runOptions, handle());
        runs++;
        hostToDevice = in;
        deviceToHost = out;
        resident = res;
        totalMoved += in + out;
    }

    /** {@code SynchronizeBoundInputs}: waits until copies of bound inputs to the device are done. */
    public void synchronizeInputs() {
        api.call1("SynchronizeBoundInputs", OrtCapi.SYNCHRONIZE_BOUND_INPUTS, handle());
    }

    /** {@code SynchronizeBoundOutputs}: waits until the run's outputs are written (a device stream may lag). */
    public void synchronizeOutputs() {
        api.call1("SynchronizeBoundOutputs", OrtCapi.SYNCHRONIZE_BOUND_OUTPUTS, handle());
    }

    /** {@code ClearBoundInputs}: drops every bound input (the binding's references to them). */
    public void clearInputs() {
        api.releaseWith(OrtCapi.CLEAR_BOUND_INPUTS, handle());
        inputs.clear();
    }

    /** {@code ClearBoundOutputs}. */
    public void clearOutputs() {
        api.releaseWith(OrtCapi.CLEAR_BOUND_OUTPUTS, handle());
        outputs.clear();
    }

    /**
     * {@code GetBoundOutputValues}: the last run's outputs in binding order, as values the caller closes.
     * {@code allocator} (host memory) only holds the returned array, freed here.
     */
    public List<Tensor> outputs(Allocator allocator) {
        List<Tensor> result = new ArrayList<>();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment array = OrtCapi.outPointer(arena);
            MemorySegment count = arena.allocate(JAVA_LONG);
            MemorySegment status;
            try {
                status = (MemorySegment) api.fn(OrtCapi.GET_BOUND_OUTPUT_VALUES,
                        java.lang.foreign.FunctionDescriptor.of(ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS))
                        .invokeExact(handle(), allocator.handle(), array, count);
            } catch (Throwable t) {
                throw new IllegalStateException("GetBoundOutputValues failed", t);
            }
            api.check("GetBoundOutputValues", status);
            long n = count.get(JAVA_LONG, 0);
            MemorySegment values = array.get(ADDRESS, 0);
            if (n == 0 || values.equals(MemorySegment.NULL)) {
                return result;
            }
            values = values.reinterpret(n * ADDRESS.byteSize());
            try {
                for (int i = 0; i < n; i++) {
                    MemorySegment v = values.getAtIndex(ADDRESS, i);
                    try {
                        result.add(Tensor.adopt(api, ledger(), v, allocator.memory()));
                    } catch (RuntimeException e) {
                        for (int j = i + 1; j < n; j++) {
                            api.releaseWith(OrtCapi.RELEASE_VALUE, values.getAtIndex(ADDRESS, j));
                        }
                        result.forEach(Tensor::close);
                        throw e;
                    }
                }
            } finally {
                api.call2("AllocatorFree", OrtCapi.ALLOCATOR_FREE, allocator.handle(), values);
            }
            return result;
        }
    }

    /** {@code RunOptionsSetTerminate}: the run in flight, and later ones, end with an error. Any thread. */
    public void terminate() {
        if (!isClosed()) {
            api.call1("RunOptionsSetTerminate", OrtCapi.RUN_OPTIONS_SET_TERMINATE, runOptions);
        }
    }

    /** {@code RunOptionsUnsetTerminate}: runs proceed again. */
    public void resume() {
        api.call1("RunOptionsUnsetTerminate", OrtCapi.RUN_OPTIONS_UNSET_TERMINATE, runOptions);
    }

    /** What the runs moved (the last run's figures and the total). */
    public Transfers transfers() {
        return new Transfers(runs, hostToDevice, deviceToHost, 0, resident, totalMoved);
    }

    private MemorySegment cName(String name) {
        return cNames.computeIfAbsent(name, names::allocateFrom);
    }

    @Override
    void release(MemorySegment handle) {
        try {
            api.releaseWith(OrtCapi.RELEASE_IO_BINDING, handle);
        } finally {
            api.releaseWith(OrtCapi.RELEASE_RUN_OPTIONS, runOptions);
            ledger().closed(NativeLedger.Kind.RUN_OPTIONS);
            names.close();
        }
    }
}
