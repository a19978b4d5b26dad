package io.spindle.runtime.family.gpt2;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

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
}
