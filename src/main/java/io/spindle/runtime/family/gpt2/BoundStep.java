package io.spindle.runtime.family.gpt2;

import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import io.spindle.runtime.onnx.OrtRuntime;
import io.spindle.runtime.onnx.capi.Allocator;
import io.spindle.runtime.onnx.capi.CopyGraphs;
import io.spindle.runtime.onnx.capi.DeviceCopy;
import io.spindle.runtime.onnx.capi.ElementType;
import io.spindle.runtime.onnx.capi.IoBinding;
import io.spindle.runtime.onnx.capi.MemoryInfo;
import io.spindle.runtime.onnx.capi.NativeLedger;
import io.spindle.runtime.onnx.capi.OrtCapi;
import io.spindle.runtime.onnx.capi.OrtStatusException;
import io.spindle.runtime.onnx.capi.SessionHandle;
import io.spindle.runtime.onnx.capi.Tensor;
import io.spindle.runtime.onnx.capi.Transfers;

import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

/**
 * The graph calls of {@link InPlaceKvRunner} through ONNX Runtime's C API ({@code runtime.onnx.capi},
 * {@code spindle.runtime.io-binding=ffm}) instead of {@code OrtSession.run}: one {@link IoBinding} per
 * runner, to which each call binds its inputs, each cache tensor (as past and as present: the same
 * tensor), and the gathered logits, runs, waits for the outputs ({@code SynchronizeBoundOutputs}), and
 * clears, so that the binding never refers to memory the runner may free between calls.
 *
 * <p>Memory: ids, positions, seqlens, the total length, gather indices and logits are host memory (the
 * engine writes and reads them); the KV cache lives in the device's memory ({@link DeviceSlotMemory}),
 * allocated with the session's allocator for it and copied only by ONNX Runtime ({@link DeviceCopy}, two
 * copy-graph sessions opened like the model's). On a CUDA session that is CUDA memory; on a CPU session a
 * second CPU memory info stands in for it, so that the figures are what a GPU would move per step.
 * Confined to the engine thread.
 */
final class BoundStep implements AutoCloseable {
    private final OrtCapi api = OrtCapi.load();
    private final NativeLedger ledger = new NativeLedger();
    private final MemoryInfo host;
    private final MemoryInfo device;
    private final IoBinding binding;
    private final Allocator allocator;
    private final OrtSession padSession;
    private final OrtSession sliceSession;
    private final DeviceCopy copy;
    private final ElementType kvType;
    private final List<Tensor> owned = new ArrayList<>();
    private Transfers copiesAtStepStart;
    private Transfers copiesAtStepEnd;
    private long stepHostToDevice;
    private long stepDeviceToHost;
    private long stepResident;
    private long steps;
    private boolean closed;

    /**
     * @param cudaSession whether {@code session} runs on the CUDA provider (device memory: CUDA device 0)
     * @param kvType      the cache's element type
     */
    BoundStep(OrtRuntime ort, OrtSession session, boolean cudaSession, OnnxJavaType kvType) {
        List<AutoCloseable> made = new ArrayList<>();
        try {
            this.kvType = elementType(kvType);
            this.host = keep(made, MemoryInfo.cpu(api, ledger));
            this.device = keep(made, cudaSession ? MemoryInfo.cuda(api, ledger, 0) : MemoryInfo.cpu(api, ledger));
            SessionHandle handle = SessionHandle.of(session);
            this.binding = keep(made, IoBinding.create(api, ledger, handle, device));
            this.allocator = keep(made, allocator(handle, device));
            this.padSession = keep(made, ort.open(CopyGraphs.pad(this.kvType), "KV-cache pad copy"));
            this.sliceSession = keep(made, ort.open(CopyGraphs.slice(this.kvType), "KV-cache slice copy"));
            this.copy = keep(made, new DeviceCopy(api, ledger, SessionHandle.of(padSession), SessionHandle.of(sliceSession),
                    host, device));
        } catch (RuntimeException e) {
            for (int i = made.size() - 1; i >= 0; i--) {
                try {
                    made.get(i).close();
                } catch (Exception suppressed) {
                    e.addSuppressed(suppressed);
                }
            }
            throw e;
        }
        this.copiesAtStepStart = copy.totals();
        this.copiesAtStepEnd = copiesAtStepStart;
    }

    private Allocator allocator(SessionHandle session, MemoryInfo memory) {
        try {
            return Allocator.of(api, ledger, session, memory);
        } catch (OrtStatusException e) {
            throw new IllegalStateException("spindle.runtime.io-binding=ffm keeps the KV cache in " + memory
                    + ", and the session has no allocator for it: " + e.getMessage(), e);
        }
    }

    private static <T extends AutoCloseable> T keep(List<AutoCloseable> made, T t) {
        made.add(t);
        return t;
    }

    /** The cache's memory: the device's, through this binding's allocator and copies. */
    DeviceSlotMemory slotMemory(int numTensors, int heads, int headDim) {
        return new DeviceSlotMemory(numTensors, heads, headDim, kvType, api, ledger, allocator, host, device, copy);
    }

    void beginStep() {
        stepHostToDevice = 0;
        stepDeviceToHost = 0;
        stepResident = 0;
        copiesAtStepStart = copy.totals();
        copiesAtStepEnd = copiesAtStepStart;
        steps++;
    }

    /** Ends the step's accounting: copies made after it (a prefix save, a fork) are not the step's. */
    void endStep() {
        copiesAtStepEnd = copy.totals();
    }

    void input(String name, MemorySegment data, OnnxJavaType type, long... shape) {
        binding.bindInput(name, own(host, data, type, shape));
    }

    /** One cache tensor in device memory, read as {@code past} and written in place as {@code present}. */
    void cache(String past, String present, MemorySegment deviceData, OnnxJavaType type, long... shape) {
        Tensor t = own(device, deviceData, type, shape);
        binding.bindInput(past, t);
        binding.bindOutput(present, t);
    }

    void output(String name, ByteBuffer view, OnnxJavaType type, long... shape) {
        binding.bindOutput(name, own(host, MemorySegment.ofBuffer(view), type, shape));
    }

    /** Runs what is bound, waits for its outputs, adds its transfers to the step's, and unbinds everything. */
    void run() {
        try {
            binding.run();
            binding.synchronizeOutputs();
            Transfers t = binding.transfers();
            stepHostToDevice += t.hostToDevice();
            stepDeviceToHost += t.deviceToHost();
            stepResident += t.resident();
        } finally {
            unbind();
        }
    }

    /** Drops what a call bound (also after a failure midway, before {@link #run}). */
    void unbind() {
        try {
            binding.clearInputs();
            binding.clearOutputs();
        } finally {
            for (Tensor t : owned) {
                t.close();
            }
            owned.clear();
        }
    }

    private Tensor own(MemoryInfo memory, MemorySegment data, OnnxJavaType type, long... shape) {
        Tensor t = Tensor.over(api, ledger, memory, data, elementType(type), shape);
        owned.add(t);
        return t;
    }

    static ElementType elementType(OnnxJavaType type) {
        return switch (type) {
            case FLOAT -> ElementType.FLOAT;
            case FLOAT16 -> ElementType.FLOAT16;
            case INT32 -> ElementType.INT32;
            case INT64 -> ElementType.INT64;
            default -> throw new IllegalArgumentException("no binding for element type " + type);
        };
    }

    /**
     * The last step: its graph calls' transfers plus the cache copies made during it (a growth);
     * {@code runs} counts steps, {@code totalMoved} every host↔device byte so far, copies included.
     */
    Transfers lastStep() {
        Transfers c = copiesAtStepEnd;
        return new Transfers(steps,
                stepHostToDevice + c.hostToDevice() - copiesAtStepStart.hostToDevice(),
                stepDeviceToHost + c.deviceToHost() - copiesAtStepStart.deviceToHost(),
                c.deviceToDevice() - copiesAtStepStart.deviceToDevice(),
                stepResident,
                binding.transfers().totalMoved() + copy.totals().totalMoved());
    }

    /** Every cache copy so far (growth, forks, prefix restores and saves), by direction. */
    Transfers cacheCopies() {
        return copy.totals();
    }

    NativeLedger ledger() {
        return ledger;
    }

    MemoryInfo device() {
        return device;
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        try {
            unbind();
        } finally {
            copy.close();
            allocator.close();
            binding.close();
            closeSession(padSession);
            closeSession(sliceSession);
            device.close();
            host.close();
        }
    }

    private static void closeSession(OrtSession s) {
        try {
            s.close();
        } catch (OrtException e) {
            throw new IllegalStateException("closing a KV-cache copy session failed", e);
        }
    }
}
