package io.spindle.runtime.family.gpt2;

import java.nio.ByteBuffer;
import java.util.List;

/**
 * Where a {@link SlotCache} keeps its tensors, one per cache tensor, [slots, heads, len, head_dim], and
 * how bytes move in and out of them: {@link HostSlotMemory} (Spindle's host memory, copied by Java) or
 * {@link DeviceSlotMemory} (memory of the session's device, copied by ONNX Runtime). The cache decides
 * what moves; this decides how. Confined to the engine thread.
 */
abstract class SlotMemory implements AutoCloseable {
    final int numTensors;
    final int heads;
    final int rowBytes;
    /** Geometry of the current tensors; 0 slots when there are none. */
    int slots;
    int len;

    SlotMemory(int numTensors, int heads, int rowBytes) {
        this.numTensors = numTensors;
        this.heads = heads;
        this.rowBytes = rowBytes;
    }

    /** Whether the tensors live in device memory (only ONNX Runtime reads them). */
    abstract boolean onDevice();

    /**
     * Replaces the tensors by ones of {@code newSlots} × {@code newLen} (each at least the old one),
     * keeping positions [0, lengths[s]) of every old slot s; on failure the old tensors stay.
     */
    abstract void reshape(int newSlots, int newLen, int[] lengths);

    /** Positions [0, n) of slot {@code from}, every tensor and head, into slot {@code to}. */
    abstract void copyPrefix(int from, int to, int n);

    /**
     * Writes cached prefix blocks into positions [0, blocks × blockSize) of a slot: each block holds, for
     * tensor c at c × blockBytes, a compact [heads, blockSize, head_dim] slice.
     */
    abstract void restore(int slot, List<ByteBuffer> blocks, int blockSize, int blockBytes);

    /** What reads positions of a slot into compact prefix blocks, for positions within [from, to). */
    abstract Reader reader(int slot, int from, int to);

    /** Reads a slot's positions for {@link KvPrefixBlocks#insert}; closed once the blocks are written. */
    interface Reader extends KvPrefixBlocks.Slices, AutoCloseable {
        @Override
        void close();
    }

    /** Bytes of the current tensors. */
    abstract long allocatedBytes();

    /** Frees the tensors; the geometry goes back to none. */
    abstract void drop();

    long tensorBytes(int slots, int len) {
        return (long) slots * heads * len * rowBytes;
    }

    long slotBytes() {
        return (long) heads * len * rowBytes;
    }

    @Override
    public void close() {
        drop();
    }
}
