package io.spindle.runtime.family.gpt2;

import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;

/**
 * The KV cache of {@link InPlaceKvRunner}: one native buffer per cache tensor, [slots, heads,
 * maxLen, head_dim], in which every live sequence owns one slot for its life. A sequence's positions
 * are left-aligned in its slot: [0, length) are valid, the rest is whatever was last written there
 * (no query reads past a row's length). Nothing moves while the slot count and maxLen hold; growing
 * either reallocates and copies each live slot's valid positions once.
 * Confined to the engine thread.
 */
final class SlotCache {
    /** maxLen grows in multiples of this, so that a stream does not reallocate at every few tokens. */
    static final int LENGTH_QUANTUM = 64;

    private final int numTensors;
    private final int heads;
    private final int rowBytes;
    private NativeBuffer[] buffers;
    private int slots;
    private int maxLen;
    private long[] owner = new long[0];
    private int[] length = new int[0];
    private final Map<Long, Integer> slotOf = new HashMap<>();
    /** Reallocations so far (each copies every live slot once); for tests and benchmarks. */
    private long numMoves;

    SlotCache(int numTensors, int heads, int headDim, int elementBytes) {
        this.numTensors = numTensors;
        this.heads = heads;
        this.rowBytes = headDim * elementBytes;
    }

    int slotOf(long id) {
        Integer s = slotOf.get(id);
        return s == null ? -1 : s;
    }

    /** Valid positions of a slot (0 for a free one). */
    int length(int slot) {
        return length[slot];
    }

    void setLength(int slot, int n) {
        length[slot] = n;
    }

    boolean isLive(int slot) {
        return owner[slot] >= 0;
    }

    int numLive() {
        return slotOf.size();
    }

    /** The longest live slot's valid positions (0 when none). */
    int maxLength() {
        int n = 0;
        for (int l : length) {
            n = Math.max(n, l);
        }
        return n;
    }

    int numSlots() {
        return slots;
    }

    int maxLen() {
        return maxLen;
    }

    long numMoves() {
        return numMoves;
    }

    /** Gives sequence {@code id} a free slot with no valid position; {@link #ensure} must have made room. */
    int acquire(long id) {
        for (int s = 0; s < slots; s++) {
            if (owner[s] < 0) {
                owner[s] = id;
                length[s] = 0;
                slotOf.put(id, s);
                return s;
            }
        }
        throw new IllegalStateException("no free slot for sequence " + id + " among " + slots);
    }

    /** Frees a sequence's slot; once no slot is live, the buffers go. A no-op for an unknown id. */
    void release(long id) {
        Integer s = slotOf.remove(id);
        if (s == null) {
            return;
        }
        owner[s] = -1;
        length[s] = 0;
        if (slotOf.isEmpty()) {
            drop();
        }
    }

    /**
     * Makes room for at least {@code wantFree} more sequences and {@code wantLen} positions per slot,
     * keeping every live slot's valid positions (and its slot index). When it must grow the length, it
     * takes at least 1.5× the old one, rounded up to {@link #LENGTH_QUANTUM}, at most {@code capLen}.
     */
    void ensure(int wantFree, int wantLen, int capLen) {
        int free = slots - slotOf.size();
        int newSlots = slots + Math.max(0, wantFree - free);
        int newLen = maxLen;
        if (wantLen > maxLen) {
            int grown = Math.max(wantLen, maxLen + maxLen / 2);
            grown = (grown + LENGTH_QUANTUM - 1) / LENGTH_QUANTUM * LENGTH_QUANTUM;
            newLen = Math.max(wantLen, Math.min(grown, capLen));
        }
        if (newSlots == 0 || (newSlots == slots && newLen == maxLen && buffers != null)) {
            return;
        }
        long bytes = (long) newSlots * heads * newLen * rowBytes;
        if (bytes > Integer.MAX_VALUE) {
            throw new IllegalStateException("a KV-cache tensor of " + newSlots + " slots × " + newLen
                    + " positions (" + bytes + " bytes) exceeds what one buffer holds");
        }
        NativeBuffer[] grownBuffers = new NativeBuffer[numTensors];
        try {
            for (int c = 0; c < numTensors; c++) {
                grownBuffers[c] = NativeBuffer.allocate(bytes);
            }
        } catch (RuntimeException | OutOfMemoryError e) {
            for (NativeBuffer b : grownBuffers) {
                if (b != null) {
                    b.close();
                }
            }
            throw e;
        }
        if (buffers != null) {
            numMoves++;
            for (int s = 0; s < slots; s++) {
                if (owner[s] < 0 || length[s] == 0) {
                    continue;
                }
                for (int c = 0; c < numTensors; c++) {
                    ByteBuffer from = buffers[c].buffer();
                    ByteBuffer to = grownBuffers[c].buffer();
                    for (int h = 0; h < heads; h++) {
                        to.put(offset(s, h, 0, newLen), from, offset(s, h, 0, maxLen), length[s] * rowBytes);
                    }
                }
            }
            for (NativeBuffer b : buffers) {
                b.close();
            }
        }
        buffers = grownBuffers;
        owner = Arrays.copyOf(owner, newSlots);
        length = Arrays.copyOf(length, newSlots);
        Arrays.fill(owner, slots, newSlots, -1);
        slots = newSlots;
        maxLen = newLen;
    }

    private int offset(int slot, int head, int position, int len) {
        return (int) ((((long) slot * heads + head) * len + position) * rowBytes);
    }

    /**
     * One tensor per cache tensor over slots [first, first + n), shaped [n, heads, maxLen, head_dim]:
     * each is given as a layer's past and bound as its present, so the graph writes in place.
     */
    OnnxTensor[] views(OrtEnvironment env, OnnxJavaType type, int first, int n) throws OrtException {
        OnnxTensor[] out = new OnnxTensor[numTensors];
        long slotBytes = (long) heads * maxLen * rowBytes;
        long[] shape = {n, heads, maxLen, rowBytes / width(type)};
        try {
            for (int c = 0; c < numTensors; c++) {
                ByteBuffer view = buffers[c].buffer().duplicate().position((int) (first * slotBytes))
                        .limit((int) ((first + n) * slotBytes)).slice().order(ByteOrder.nativeOrder());
                out[c] = OnnxTensor.createTensor(env, view, shape, type);
            }
            return out;
        } catch (OrtException | RuntimeException e) {
            BatchCache.closeAll(out);
            throw e;
        }
    }

    /** Cache tensor {@code c} over slots [first, first + n), as {@link #views} shapes it, for a binding. */
    ByteBuffer view(int c, int first, int n) {
        long slotBytes = (long) heads * maxLen * rowBytes;
        return buffers[c].buffer().duplicate().position((int) (first * slotBytes))
                .limit((int) ((first + n) * slotBytes)).slice().order(ByteOrder.nativeOrder());
    }

    long[] viewShape(OnnxJavaType type, int n) {
        return new long[] {n, heads, maxLen, rowBytes / width(type)};
    }

    private static int width(OnnxJavaType type) {
        return type == OnnxJavaType.FLOAT16 ? 2 : 4;
    }

    /** Copies positions [0, n) of slot {@code from} into slot {@code to}, every tensor and head. */
    void copyPrefix(int from, int to, int n) {
        for (int c = 0; c < numTensors; c++) {
            ByteBuffer b = buffers[c].buffer();
            for (int h = 0; h < heads; h++) {
                b.put(offset(to, h, 0, maxLen), b, offset(from, h, 0, maxLen), n * rowBytes);
            }
        }
    }

    /** Writes tensor {@code c}'s positions [from, to) of a slot into {@code dst} at {@code at}, compact [heads, to − from, head_dim]. */
    void read(int slot, int c, int from, int to, ByteBuffer dst, int at) {
        int n = to - from;
        ByteBuffer b = buffers[c].buffer();
        for (int h = 0; h < heads; h++) {
            dst.put(at + h * n * rowBytes, b, offset(slot, h, from, maxLen), n * rowBytes);
        }
    }

    /** Writes a compact [heads, n, head_dim] block of tensor {@code c}, read from {@code src} at {@code at}, into a slot at {@code position}. */
    void write(int slot, int c, int position, ByteBuffer src, int at, int n) {
        ByteBuffer b = buffers[c].buffer();
        for (int h = 0; h < heads; h++) {
            b.put(offset(slot, h, position, maxLen), src, at + h * n * rowBytes, n * rowBytes);
        }
    }

    long allocatedBytes() {
        long n = 0;
        if (buffers != null) {
            for (NativeBuffer b : buffers) {
                n += b.capacity();
            }
        }
        return n;
    }

    /** Forgets every slot and lets the buffers go. */
    void drop() {
        if (buffers != null) {
            for (NativeBuffer b : buffers) {
                b.close();
            }
        }
        buffers = null;
        slots = 0;
        maxLen = 0;
        owner = new long[0];
        length = new int[0];
        slotOf.clear();
    }
}
