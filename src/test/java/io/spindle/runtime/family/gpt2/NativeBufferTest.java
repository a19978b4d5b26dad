package io.spindle.runtime.family.gpt2;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The C library's memory behind the KV caches: zeroed on allocation, contents kept and the rest zeroed on growth. */
class NativeBufferTest {
    @Test
    void allocatesZeroedMemoryAndGrowsKeepingItsContents() {
        NativeBuffer b = NativeBuffer.allocate(1 << 20);
        try {
            assertEquals(1 << 20, b.capacity());
            for (int i = 0; i < b.capacity(); i += 4096) {
                assertEquals(0, b.buffer().get(i), "zeroed at " + i);
            }
            for (int i = 0; i < b.capacity(); i += 8) {
                b.buffer().putLong(i, i * 31L + 7);
            }
            java.nio.ByteBuffer before = b.buffer();
            b.grow(64L << 20);
            org.junit.jupiter.api.Assertions.assertThrows(IllegalStateException.class, () -> before.get(0),
                    "a view from before the growth no longer reads the memory");
            assertEquals(64 << 20, b.capacity());
            for (int i = 0; i < (1 << 20); i += 8) {
                assertEquals(i * 31L + 7, b.buffer().getLong(i), "kept at " + i);
            }
            for (int i = 1 << 20; i < b.capacity(); i += 4093) {
                assertEquals(0, b.buffer().get(i), "the grown part is zeroed at " + i);
            }
            b.grow(1 << 10);
            assertEquals(64 << 20, b.capacity(), "growing to less leaves it as it is");
        } finally {
            b.close();
        }
        java.nio.ByteBuffer after = b.buffer();
        org.junit.jupiter.api.Assertions.assertThrows(IllegalStateException.class, () -> after.get(0),
                "a view after close does not read freed memory");
    }

    /**
     * A closed buffer's memory is kept for the next allocation of its size, which gets it zeroed,
     * while views of the closed buffer still throw rather than read what the new owner writes.
     */
    @Test
    void aClosedBuffersMemoryIsReusedZeroedAndItsOldViewsStayDead() {
        NativeMemoryPool pool = new NativeMemoryPool(64L << 20, java.util.concurrent.TimeUnit.MINUTES.toNanos(10),
                NativeBuffer::freeRaw);
        int size = 1 << 20;
        NativeBuffer first = NativeBuffer.allocate(size, pool);
        for (int i = 0; i < size; i += 8) {
            first.buffer().putLong(i, -1L);
        }
        java.nio.ByteBuffer stale = first.buffer();
        first.close();
        assertEquals(size, pool.retainedBytes(), "the block is retained, not freed");
        NativeBuffer second = NativeBuffer.allocate(size / 2 + 1, pool);
        try {
            assertEquals(0, pool.retainedBytes(), "the block was taken for an allocation of over half its size");
            assertEquals(size / 2 + 1, second.capacity(), "the buffer is what was asked, not the block");
            for (int i = 0; i + 8 <= second.capacity(); i += 8) {
                assertEquals(0L, second.buffer().getLong(i), "zeroed again at " + i);
            }
            second.buffer().putLong(0, 42L);
            assertThrows(IllegalStateException.class, () -> stale.getLong(0), "the old owner's view is dead");
            assertEquals(42L, second.buffer().getLong(0));
            second.grow(size);
            assertEquals(42L, second.buffer().getLong(0), "grown within its block, contents kept");
            for (int i = size / 2 + 8; i + 8 <= size; i += 8) {
                assertEquals(0L, second.buffer().getLong(i), "the grown part (stale in the block) is zeroed at " + i);
            }
        } finally {
            second.close();
        }
        assertEquals(size, pool.retainedBytes(), "the whole block goes back");
        NativeBuffer third = NativeBuffer.allocate(size / 2 - 1, pool);
        third.close();
        assertEquals(size + size / 2 - 1, pool.retainedBytes(), "a block over twice the size asked is not used for it");
    }
}
