package io.spindle.runtime.onnx.capi;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * Copies between tensors through two sessions on {@link CopyGraphs}, opened with the provider that
 * serves the model: on CUDA, device to device, host to device and device to host copies are the CUDA
 * provider's own (its Pad and Slice kernels, and IoBinding's copies of host-bound values), so nothing
 * but ONNX Runtime touches the device. On CPU the same calls copy host memory, which is how CI runs the
 * device code path. Every copy is counted by where its source and destination live ({@link #totals()}).
 *
 * <p>Each copy binds, runs, waits for the outputs ({@code SynchronizeBoundOutputs}) and unbinds, so no
 * binding refers to memory after the call. The tensors stay the caller's. Confined to one thread.
 */
public final class DeviceCopy implements AutoCloseable {
    private final MemoryInfo host;
    private final MemoryInfo device;
    private final OrtCapi api;
    private final NativeLedger ledger;
    private final IoBinding pad;
    private final IoBinding slice;
    private final Arena arena = Arena.ofShared();
    private final MemorySegment pads = arena.allocate(JAVA_LONG, 2L * CopyGraphs.RANK);
    private final MemorySegment starts = arena.allocate(JAVA_LONG, CopyGraphs.RANK);
    private final MemorySegment ends = arena.allocate(JAVA_LONG, CopyGraphs.RANK);
    private long copies;
    private long hostToDevice;
    private long deviceToHost;
    private long deviceToDevice;
    private boolean closed;

    /**
     * @param padSession   a session on {@link CopyGraphs#pad} for the tensors' element type
     * @param sliceSession a session on {@link CopyGraphs#slice} for it
     * @param device       the memory counted as the device (the one the caller's device tensors use)
     */
    public DeviceCopy(OrtCapi api, NativeLedger ledger, SessionHandle padSession, SessionHandle sliceSession,
                      MemoryInfo host, MemoryInfo device) {
        this.api = api;
        this.ledger = ledger;
        this.host = host;
        this.device = device;
        IoBinding p = IoBinding.create(api, ledger, padSession, device);
        try {
            this.slice = IoBinding.create(api, ledger, sliceSession, device);
        } catch (RuntimeException e) {
            p.close();
            arena.close();
            throw e;
        }
        this.pad = p;
    }

    /**
     * {@code dst = src} padded with zeros at the end of each axis to {@code dst}'s shape (rank 4): copies
     * {@code src} into the leading corner of a tensor at least as large on every axis.
     */
    public void padInto(Tensor src, Tensor dst) {
        long[] from = src.shape();
        long[] to = dst.shape();
        check(from.length == CopyGraphs.RANK && to.length == CopyGraphs.RANK, src, dst);
        for (int i = 0; i < CopyGraphs.RANK; i++) {
            check(to[i] >= from[i], src, dst);
            pads.setAtIndex(JAVA_LONG, i, 0);
            pads.setAtIndex(JAVA_LONG, CopyGraphs.RANK + i, to[i] - from[i]);
        }
        run(pad, src, dst, "pads", pads, 2 * CopyGraphs.RANK, null, null);
        count(src, dst, src.bytes());
    }

    /** {@code dst = src[start[0]:start[0]+dst.shape[0], …]}: copies a box of {@code src} of {@code dst}'s shape. */
    public void sliceInto(Tensor src, long[] start, Tensor dst) {
        long[] from = src.shape();
        long[] to = dst.shape();
        check(from.length == CopyGraphs.RANK && to.length == CopyGraphs.RANK && start.length == CopyGraphs.RANK, src, dst);
        for (int i = 0; i < CopyGraphs.RANK; i++) {
            check(start[i] >= 0 && start[i] + to[i] <= from[i], src, dst);
            starts.setAtIndex(JAVA_LONG, i, start[i]);
            ends.setAtIndex(JAVA_LONG, i, start[i] + to[i]);
        }
        run(slice, src, dst, "starts", starts, CopyGraphs.RANK, "ends", ends);
        count(src, dst, dst.bytes());
    }

    private void run(IoBinding b, Tensor src, Tensor dst, String aName, MemorySegment a, int n, String bName,
                     MemorySegment bData) {
        if (closed) {
            throw new IllegalStateException("device copy used after it was closed");
        }
        try (Tensor at = Tensor.over(api, ledger, host, a, ElementType.INT64, n);
             Tensor bt = bName == null ? null : Tensor.over(api, ledger, host, bData, ElementType.INT64, n)) {
            try {
                b.bindInput("data", src);
                b.bindInput(aName, at);
                if (bt != null) {
                    b.bindInput(bName, bt);
                }
                b.bindOutput("out", dst);
                b.run();
                b.synchronizeOutputs();
            } finally {
                b.clearInputs();
                b.clearOutputs();
            }
        }
    }

    private void count(Tensor src, Tensor dst, long bytes) {
        copies++;
        boolean fromDevice = src.memory() == device;
        boolean toDevice = dst.memory() == device;
        if (fromDevice && toDevice) {
            deviceToDevice += bytes;
        } else if (toDevice) {
            hostToDevice += bytes;
        } else if (fromDevice) {
            deviceToHost += bytes;
        }
    }

    private static void check(boolean ok, Tensor src, Tensor dst) {
        if (!ok) {
            throw new IllegalArgumentException("cannot copy " + Arrays.toString(src.shape()) + " into "
                    + Arrays.toString(dst.shape()));
        }
    }

    /** Every copy so far: {@code runs} copies, bytes by direction, {@code totalMoved} host↔device. */
    public Transfers totals() {
        return new Transfers(copies, hostToDevice, deviceToHost, deviceToDevice, 0, hostToDevice + deviceToHost);
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        try {
            pad.close();
        } finally {
            slice.close();
            arena.close();
        }
    }
}
