package io.spindle.runtime.family.gpt2;

import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The pool's bookkeeping: which block an allocation gets, what it keeps and for how long. Blocks
 * here are addresses only (the pool never reads them); what it frees is recorded.
 */
class NativeMemoryPoolTest {
    private static final long MB = 1 << 20;
    private final List<Long> freed = new CopyOnWriteArrayList<>();

    private NativeMemoryPool pool(long limit, long idleMillis) {
        return new NativeMemoryPool(limit, TimeUnit.MILLISECONDS.toNanos(idleMillis), s -> freed.add(s.address()));
    }

    private static MemorySegment block(long address) {
        return MemorySegment.ofAddress(address);
    }

    @Test
    void anAllocationGetsTheSmallestBlockAtLeastItsSizeAndAtMostTwice() {
        NativeMemoryPool p = pool(64 * MB, 60_000);
        p.give(block(0x1000), 4 * MB);
        p.give(block(0x2000), 2 * MB);
        p.give(block(0x3000), 3 * MB);
        assertNull(p.take(5 * MB), "no block is large enough");
        assertNull(p.take(MB - 1), "a 2 MB block is not handed out for less than half of it … ");
        assertEquals(0x2000, p.take(MB).raw().address(), "… but for half, the smallest that fits");
        assertEquals(0x3000, p.take(3 * MB).raw().address());
        assertEquals(4 * MB, p.retainedBytes());
        assertSame(null, p.take(4 * MB + 1));
        assertEquals(0x1000, p.take(4 * MB).raw().address());
        assertEquals(0, p.retainedBytes());
        assertTrue(freed.isEmpty(), "nothing freed while it was wanted");
    }

    @Test
    void retainedMemoryIsBoundedOldestFirstAndSmallOrHugeBlocksAreFreedAtOnce() {
        NativeMemoryPool p = pool(3 * MB, 60_000);
        p.give(block(0x1000), MB);
        p.give(block(0x2000), MB);
        p.give(block(0x3000), MB);
        p.give(block(0x4000), MB);
        assertEquals(List.of(0x1000L), freed, "the oldest goes to make room");
        assertEquals(3 * MB, p.retainedBytes());
        p.give(block(0x5000), 4 * MB);
        p.give(block(0x6000), NativeMemoryPool.MIN_BYTES - 1);
        assertEquals(List.of(0x1000L, 0x5000L, 0x6000L), freed, "a block over the limit, or under the minimum, is not kept");
        assertEquals(3 * MB, p.retainedBytes());
    }

    @Test
    void whatWaitsUntakenForTheIdleTimeIsFreed() throws Exception {
        NativeMemoryPool p = pool(64 * MB, 1000);
        p.give(block(0x1000), MB);
        p.give(block(0x2000), 2 * MB);
        assertEquals(0x1000, p.take(MB).raw().address(), "taken before the idle time: not freed");
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        // The pool lets go of its lock before it frees.
        while (freed.isEmpty() && System.nanoTime() < deadline) {
            Thread.sleep(20);
        }
        assertEquals(0, p.retainedBytes(), "an idle pool gives its memory back");
        assertEquals(List.of(0x2000L), freed);
        p.give(block(0x3000), MB);
        deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (freed.size() < 2 && System.nanoTime() < deadline) {
            Thread.sleep(20);
        }
        assertEquals(List.of(0x2000L, 0x3000L), freed, "and again after it was idle once");
    }
}
