package io.spindle.runtime.family.gpt2;

import io.spindle.runtime.onnx.capi.Allocator;
import io.spindle.runtime.onnx.capi.DeviceCopy;
import io.spindle.runtime.onnx.capi.ElementType;
import io.spindle.runtime.onnx.capi.MemoryInfo;
import io.spindle.runtime.onnx.capi.NativeLedger;
import io.spindle.runtime.onnx.capi.OrtCapi;
import io.spindle.runtime.onnx.capi.Tensor;

import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.util.List;

/**
 * {@link SlotMemory} in the memory of the session's device, allocated with the session's own allocator
 * for it ({@code CreateAllocator} + {@code AllocatorAlloc}: CUDA memory on a CUDA session) and never read
 * by Java: every move goes through ONNX Runtime ({@link DeviceCopy}) and is counted there. Growth pads the
 * old tensors into the new ones on the device; a fork copies the parent's slot on the device; a prefix
 * restore gathers its blocks into one host staging buffer per tensor and copies that up once; a prefix
 * save copies the positions it needs down once per tensor. On a CPU session the "device" is a second CPU
 * memory info and the same calls run (CI's run of the GPU path).
 */
final class DeviceSlotMemory extends SlotMemory {
    private final OrtCapi api;
    private final NativeLedger ledger;
    private final Allocator allocator;
    private final MemoryInfo host;
    private final MemoryInfo device;
    private final DeviceCopy copy;
    private final ElementType type;
    private final int headDim;
    private Allocator.Block[] blocks;

    DeviceSlotMemory(int numTensors, int heads, int headDim, ElementType type, OrtCapi api, NativeLedger ledger,
                     Allocator allocator, MemoryInfo host, MemoryInfo device, DeviceCopy copy) {
        super(numTensors, heads, headDim * type.bytes());
        this.api = api;
        this.ledger = ledger;
        this.allocator = allocator;
        this.host = host;
        this.device = device;
        this.copy = copy;
        this.type = type;
        this.headDim = headDim;
    }

    @Override
    boolean onDevice() {
        return true;
    }

    MemoryInfo device() {
        return device;
    }

    /** Tensor c's slots [first, first + n) as device memory, for a binding. */
    MemorySegment view(int c, int first, int n) {
        long slotBytes = slotBytes();
        return blocks[c].address().asSlice(first * slotBytes, n * slotBytes);
    }

    @Override
    void reshape(int newSlots, int newLen, int[] lengths) {
        long bytes = tensorBytes(newSlots, newLen);
        Allocator.Block[] grown = new Allocator.Block[numTensors];
        try {
            for (int c = 0; c < numTensors; c++) {
                grown[c] = allocator.allocate(bytes);
            }
            boolean live = false;
            for (int s = 0; s < slots; s++) {
                live |= lengths[s] > 0;
            }
            if (blocks != null && live) {
                for (int c = 0; c < numTensors; c++) {
                    try (Tensor from = onDevice(blocks[c].address(), slots, len);
                         Tensor to = onDevice(grown[c].address(), newSlots, newLen)) {
                        copy.padInto(from, to);
                    }
                }
            }
        } catch (RuntimeException | OutOfMemoryError e) {
            for (Allocator.Block b : grown) {
                if (b != null) {
                    b.close();
                }
            }
            throw e;
        }
        freeBlocks();
        blocks = grown;
        slots = newSlots;
        len = newLen;
    }

    private Tensor onDevice(MemorySegment data, long n, long length) {
        return Tensor.over(api, ledger, device, data, type, n, heads, length, headDim);
    }

    @Override
    void copyPrefix(int from, int to, int n) {
        // A slot's positions are strided by head: the whole slot is one contiguous copy, the rest of it unread.
        for (int c = 0; c < numTensors; c++) {
            try (Tensor src = onDevice(view(c, from, 1), 1, len); Tensor dst = onDevice(view(c, to, 1), 1, len)) {
                copy.padInto(src, dst);
            }
        }
    }

    @Override
    void restore(int slot, List<ByteBuffer> parts, int blockSize, int blockBytes) {
        int n = parts.size() * blockSize;
        long stage = (long) heads * n * rowBytes;
        try (NativeBuffer staging = NativeBuffer.allocate(stage * numTensors)) {
            ByteBuffer s = staging.buffer();
            for (int c = 0; c < numTensors; c++) {
                for (int h = 0; h < heads; h++) {
                    for (int i = 0; i < parts.size(); i++) {
                        s.put((int) (c * stage + ((long) h * n + (long) i * blockSize) * rowBytes), parts.get(i),
                                c * blockBytes + h * blockSize * rowBytes, blockSize * rowBytes);
                    }
                }
            }
            MemorySegment all = MemorySegment.ofBuffer(s);
            for (int c = 0; c < numTensors; c++) {
                // Pads [n, len) of the slot with zeros: positions nobody reads until they are written.
                try (Tensor src = Tensor.over(api, ledger, host, all.asSlice(c * stage, stage), type, 1, heads, n, headDim);
                     Tensor dst = onDevice(view(c, slot, 1), 1, len)) {
                    copy.padInto(src, dst);
                }
            }
        }
    }

    @Override
    Reader reader(int slot, int from, int to) {
        int n = to - from;
        long stage = (long) heads * n * rowBytes;
        NativeBuffer staging = NativeBuffer.allocate(Math.max(1, stage * numTensors));
        try {
            if (n > 0) {
                MemorySegment all = MemorySegment.ofBuffer(staging.buffer());
                for (int c = 0; c < numTensors; c++) {
                    try (Tensor src = onDevice(view(c, slot, 1), 1, len);
                         Tensor dst = Tensor.over(api, ledger, host, all.asSlice(c * stage, stage), type, 1, heads, n, headDim)) {
                        copy.sliceInto(src, new long[] {0, 0, from, 0}, dst);
                    }
                }
            }
        } catch (RuntimeException e) {
            staging.close();
            throw e;
        }
        return new Reader() {
            @Override
            public void copy(int c, int f, int t, ByteBuffer dst, int at) {
                if (f < from || t > to) {
                    throw new IllegalStateException("positions [" + f + ", " + t + ") were not read; [" + from + ", " + to + ") were");
                }
                int m = t - f;
                ByteBuffer s = staging.buffer();
                for (int h = 0; h < heads; h++) {
                    dst.put(at + h * m * rowBytes, s, (int) (c * stage + ((long) h * n + f - from) * rowBytes), m * rowBytes);
                }
            }

            @Override
            public void close() {
                staging.close();
            }
        };
    }

    @Override
    long allocatedBytes() {
        long n = 0;
        if (blocks != null) {
            for (Allocator.Block b : blocks) {
                n += b.bytes();
            }
        }
        return n;
    }

    private void freeBlocks() {
        if (blocks != null) {
            for (Allocator.Block b : blocks) {
                b.close();
            }
        }
        blocks = null;
    }

    @Override
    void drop() {
        freeBlocks();
        slots = 0;
        len = 0;
    }
}
