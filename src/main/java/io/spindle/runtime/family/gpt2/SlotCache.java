package io.spindle.runtime.family.gpt2;

import ai.onnxruntime.OnnxJavaType;

import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The KV cache of {@link InPlaceKvRunner}: one tensor per cache tensor, [slots, heads, maxLen, head_dim],
 * in which every live sequence owns one slot for its life. A sequence's positions are left-aligned in its
 * slot: [0, length) are valid, the rest is whatever was last written there (no query reads past a row's
 * length). Nothing moves while the slot count and maxLen hold; growing either reallocates and copies each
 * live slot's valid positions once. This class decides which slot a sequence has and when the tensors
 * grow; its {@link SlotMemory} keeps them (host memory, or the device's) and moves their bytes.
 * Confined to the engine thread.
 */
final class SlotCache {
    /** maxLen grows in multiples of this, so that a stream does not reallocate at every few tokens. */
    static final int LENGTH_QUANTUM = 64;
    /**
     * The slot count grows in multiples of this: streams arrive one at a time, and growing by exactly one
     * slot reallocated (zeroed) and copied the whole cache at every arrival. At 32 streams of the 124M
     * shape that was ~5% of the engine thread (a profile of the 32-stream load run), in the steps that
     * also prefill the arrival. At most this many slots less one are allocated and unused.
     */
    static final int SLOT_QUANTUM = 4;

    private final SlotMemory memory;
    private int slots;
    private int maxLen;
    private long[] owner = new long[0];
    private int[] length = new int[0];
    private final Map<Long, Integer> slotOf = new HashMap<>();
    /** Reallocations so far (each copies every live slot once); for tests and benchmarks. */
    private long numMoves;

    SlotCache(SlotMemory memory) {
        this.memory = memory;
    }

    SlotMemory memory() {
        return memory;
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

    /** Gives sequence {@code id} the free slot {@code slot}, with no valid position. */
    int acquire(long id, int slot) {
        if (owner[slot] >= 0) {
            throw new IllegalStateException("slot " + slot + " is not free; sequence " + owner[slot] + " holds it");
        }
        owner[slot] = id;
        length[slot] = 0;
        slotOf.put(id, slot);
        return slot;
    }

    /**
     * The lowest first slot of {@code n} adjacent free slots all at or below {@code highest}, or -1: where
     * a step's arriving prompts can sit side by side, so that one first-prompt call covers them.
     */
    int freeRun(int n, int highest) {
        int run = 0;
        for (int s = 0; s <= Math.min(highest, slots - 1); s++) {
            run = owner[s] < 0 ? run + 1 : 0;
            if (run == n) {
                return s - n + 1;
            }
        }
        return -1;
    }

    /** The {@code n}-th lowest free slot (n ≥ 1), or -1 when fewer are free. */
    int nthFree(int n) {
        for (int s = 0; s < slots; s++) {
            if (owner[s] < 0 && --n == 0) {
                return s;
            }
        }
        return -1;
    }

    /** The highest live slot, or -1 when none is. */
    int highestLive() {
        for (int s = slots - 1; s >= 0; s--) {
            if (owner[s] >= 0) {
                return s;
            }
        }
        return -1;
    }

    /** Frees a sequence's slot; once no slot is live, the tensors go. A no-op for an unknown id. */
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
     * Makes room for at least {@code wantFree} more sequences (slots in multiples of {@link #SLOT_QUANTUM})
     * and {@code wantLen} positions per slot,
     * keeping every live slot's valid positions (and its slot index). When it must grow the length, it
     * takes at least 1.5× the old one, rounded up to {@link #LENGTH_QUANTUM}, at most {@code capLen}.
     */
    void ensure(int wantFree, int wantLen, int capLen) {
        int free = slots - slotOf.size();
        int newSlots = slots;
        if (wantFree > free) {
            int needed = slots + wantFree - free;
            newSlots = (needed + SLOT_QUANTUM - 1) / SLOT_QUANTUM * SLOT_QUANTUM;
        }
        int newLen = maxLen;
        if (wantLen > maxLen) {
            int grown = Math.max(wantLen, maxLen + maxLen / 2);
            grown = (grown + LENGTH_QUANTUM - 1) / LENGTH_QUANTUM * LENGTH_QUANTUM;
            newLen = Math.max(wantLen, Math.min(grown, capLen));
        }
        if (newSlots == 0 || (newSlots == slots && newLen == maxLen && memory.slots > 0)) {
            return;
        }
        boolean had = memory.slots > 0;
        memory.reshape(newSlots, newLen, length);
        if (had) {
            numMoves++;
        }
        owner = Arrays.copyOf(owner, newSlots);
        length = Arrays.copyOf(length, newSlots);
        Arrays.fill(owner, slots, newSlots, -1);
        slots = newSlots;
        maxLen = newLen;
    }

    /** Shape of a cache tensor over {@code n} slots: [n, heads, maxLen, head_dim]. */
    long[] viewShape(OnnxJavaType type, int n) {
        int width = type == OnnxJavaType.FLOAT16 ? 2 : 4;
        return new long[] {n, memory.heads, maxLen, memory.rowBytes / width};
    }

    /** Copies positions [0, n) of slot {@code from} into slot {@code to}, every tensor and head. */
    void copyPrefix(int from, int to, int n) {
        memory.copyPrefix(from, to, n);
    }

    /** Writes cached prefix blocks into positions [0, blocks × blockSize) of a slot. */
    void restore(int slot, List<ByteBuffer> blocks, int blockSize, int blockBytes) {
        memory.restore(slot, blocks, blockSize, blockBytes);
    }

    /** Reads a slot's positions within [from, to) into compact blocks; close it once done. */
    SlotMemory.Reader reader(int slot, int from, int to) {
        return memory.reader(slot, from, to);
    }

    long allocatedBytes() {
        return memory.allocatedBytes();
    }

    /** Forgets every slot and lets the tensors go. */
    void drop() {
        memory.drop();
        slots = 0;
        maxLen = 0;
        owner = new long[0];
        length = new int[0];
        slotOf.clear();
    }
}
