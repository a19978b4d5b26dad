package io.spindle.runtime.onnx;

import org.junit.jupiter.api.Test;

import java.lang.foreign.Linker;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** The malloc arena cap reaches glibc where there is one and is a no-op elsewhere or when turned off. */
class MallocArenasTest {
    @Test
    void glibcAcceptsTheCap() {
        assumeTrue(Linker.nativeLinker().defaultLookup().find("gnu_get_libc_version").isPresent(), "no glibc here");
        assertTrue(MallocArenas.limit(2));
    }

    @Test
    void zeroLeavesTheDefault() {
        assertFalse(MallocArenas.limit(0));
    }
}
