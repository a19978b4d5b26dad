package io.spindle.runtime.onnx;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.util.Optional;
import java.util.logging.Logger;

/**
 * Caps glibc's malloc arenas for the process ({@code mallopt(M_ARENA_MAX, n)}), as
 * {@code MALLOC_ARENA_MAX=n} would. ONNX Runtime allocates a step's activations from whichever thread
 * runs the operator, and glibc gives each thread that contends an arena of its own (up to 8 per core),
 * each keeping what was freed in it: after a mixed load of long and short prompts at 48 streams the
 * process stayed ~250 MiB above its idle size with nothing live in those arenas (Java's native memory
 * tracking showed the JVM's own memory flat). With 2 arenas the same run peaked 1.2× idle instead of
 * 1.6× (docs/architecture.md, *Native memory and lifetimes*). Arenas that exist already keep working;
 * new threads share the capped set. A no-op where there is no glibc (musl, macOS, Windows).
 */
public final class MallocArenas {
    private static final Logger LOG = Logger.getLogger(MallocArenas.class.getName());
    /** glibc's malloc.h: {@code #define M_ARENA_MAX -8}. */
    private static final int M_ARENA_MAX = -8;

    private MallocArenas() {
    }

    /** Caps the arenas at {@code max} (0 leaves glibc's default); true when glibc accepted it. */
    public static boolean limit(int max) {
        if (max <= 0) {
            return false;
        }
        Optional<MemorySegment> mallopt = Linker.nativeLinker().defaultLookup().find("mallopt");
        if (mallopt.isEmpty() || Linker.nativeLinker().defaultLookup().find("gnu_get_libc_version").isEmpty()) {
            LOG.fine("no glibc mallopt here; malloc arenas left as they are");
            return false;
        }
        MethodHandle h = Linker.nativeLinker().downcallHandle(mallopt.get(),
                FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));
        try {
            boolean ok = (int) h.invokeExact(M_ARENA_MAX, max) == 1;
            if (!ok) {
                LOG.warning("glibc refused mallopt(M_ARENA_MAX, " + max + ")");
            }
            return ok;
        } catch (Throwable t) {
            LOG.warning("mallopt(M_ARENA_MAX, " + max + ") failed: " + t);
            return false;
        }
    }

    /**
     * Hands the memory glibc holds free back to the system ({@code malloc_trim(0)}), once models are
     * loaded: sessions opened only to be probed or replaced (a float32 graph before its quantized form,
     * an export before its compiled one) are freed into malloc's heap, where glibc keeps them resident.
     * Returns the bytes resident before and after ({@code -1} where this is not glibc on Linux).
     */
    public static long[] trim() {
        Optional<MemorySegment> trim = Linker.nativeLinker().defaultLookup().find("malloc_trim");
        if (trim.isEmpty()) {
            return new long[] {-1, -1};
        }
        MethodHandle h = Linker.nativeLinker().downcallHandle(trim.get(),
                FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG));
        long before = residentBytes();
        try {
            int released = (int) h.invokeExact(0L);
            LOG.fine("malloc_trim(0) returned " + released);
        } catch (Throwable t) {
            LOG.warning("malloc_trim(0) failed: " + t);
        }
        return new long[] {before, residentBytes()};
    }

    /** VmRSS from /proc/self/status, -1 where there is none. */
    public static long residentBytes() {
        try {
            for (String line : java.nio.file.Files.readAllLines(java.nio.file.Path.of("/proc/self/status"))) {
                if (line.startsWith("VmRSS:")) {
                    return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
                }
            }
        } catch (java.io.IOException | RuntimeException e) {
            LOG.fine("no /proc/self/status: " + e);
        }
        return -1;
    }
}
