package io.spindle.runtime.family.gpt2;

import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.OrtSession;
import io.spindle.runtime.onnx.capi.ElementType;
import io.spindle.runtime.onnx.capi.IoBinding;
import io.spindle.runtime.onnx.capi.MemoryInfo;
import io.spindle.runtime.onnx.capi.NativeLedger;
import io.spindle.runtime.onnx.capi.OrtCapi;
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
 * <p>Memory: ids, positions, seqlens, the total length, gather indices and logits are host memory
 * (the engine writes and reads them); the cache tensors are bound with the binding's device memory info,
 * so that they count as resident. On a CPU session that device is a second CPU memory info and the
 * figures are what a GPU would move per step. On a CUDA session the slots still live in Spindle's host
 * memory (device-resident slots are not built yet), so they are bound, and counted, as host memory:
 * ONNX Runtime copies them to the device and back on every call, as the official API's pinned outputs do.
 * Confined to the engine thread.
 */
final class BoundStep implements AutoCloseable {
    private final OrtCapi api = OrtCapi.load();
    private final NativeLedger ledger = new NativeLedger();
    private final MemoryInfo host;
    private final MemoryInfo device;
    private final MemoryInfo kvMemory;
    private final IoBinding binding;
    private final List<Tensor> owned = new ArrayList<>();
    private long stepHostToDevice;
    private long stepDeviceToHost;
    private long stepResident;
    private long steps;
    private boolean closed;

    BoundStep(OrtSession session, boolean cudaSession) {
        MemoryInfo h = null;
        MemoryInfo d = null;
        try {
            h = MemoryInfo.cpu(api, ledger);
            d = cudaSession ? MemoryInfo.cuda(api, ledger, 0) : MemoryInfo.cpu(api, ledger);
            this.binding = IoBinding.create(api, ledger, SessionHandle.of(session), d);
        } catch (RuntimeException e) {
            if (d != null) {
                d.close();
            }
            if (h != null) {
                h.close();
            }
            throw e;
        }
        this.host = h;
        this.device = d;
        this.kvMemory = cudaSession ? h : d;
    }

    void beginStep() {
        stepHostToDevice = 0;
        stepDeviceToHost = 0;
        stepResident = 0;
        steps++;
    }

    void input(String name, MemorySegment data, OnnxJavaType type, long... shape) {
        binding.bindInput(name, own(host, data, type, shape));
    }

    /** One cache tensor, read as {@code past} and written in place as {@code present}. */
    void cache(String past, String present, ByteBuffer view, OnnxJavaType type, long... shape) {
        Tensor t = own(kvMemory, MemorySegment.ofBuffer(view), type, shape);
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

    /** The last step's transfers over all of its graph calls; {@code runs} counts steps. */
    Transfers lastStep() {
        return new Transfers(steps, stepHostToDevice, stepDeviceToHost, stepResident, binding.transfers().totalMoved());
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
            binding.close();
            device.close();
            host.close();
        }
    }
}
