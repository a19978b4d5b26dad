package io.spindle.runtime.onnx;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.util.logging.Logger;

/**
 * Keeps the server from phoning home however it is launched. ONNX Runtime reads
 * {@code ORT_DISABLE_TELEMETRY} from the process environment (its Java switch alone did not stop its
 * lookups), and DJL honours {@code ai.djl.offline} / {@code OPT_OUT_TRACKING}. Java cannot change its
 * own environment, so the variables are set through libc's {@code setenv} with the FFM API, before
 * either library is loaded. Idempotent.
 */
public final class NoTelemetry {
    private static final Logger LOG = Logger.getLogger(NoTelemetry.class.getName());
    private static volatile boolean done;

    private NoTelemetry() {
    }

    public static synchronized void ensureDisabled() {
        if (done) {
            return;
        }
        System.setProperty("ai.djl.offline", "true");
        setenv("ORT_DISABLE_TELEMETRY", "1");
        setenv("OPT_OUT_TRACKING", "true");
        done = true;
    }

    private static void setenv(String name, String value) {
        try {
            Linker linker = Linker.nativeLinker();
            MemorySegment fn = linker.defaultLookup().find("setenv")
                    .orElseThrow(() -> new UnsupportedOperationException("libc setenv not found"));
            MethodHandle setenv = linker.downcallHandle(fn,
                    FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.ADDRESS, ValueLayout.JAVA_INT));
            try (Arena arena = Arena.ofConfined()) {
                int rc = (int) setenv.invokeExact(arena.allocateFrom(name), arena.allocateFrom(value), 1);
                if (rc != 0) {
                    throw new IllegalStateException("setenv returned " + rc);
                }
            }
        } catch (Throwable t) {
            LOG.warning("could not set " + name + "=" + value + " in-process (" + t
                    + "); set it in the environment to keep ONNX Runtime/DJL from contacting the network");
        }
    }

    /** The variable as the C library sees it now; for tests. */
    public static String nativeGetenv(String name) {
        try {
            Linker linker = Linker.nativeLinker();
            MethodHandle getenv = linker.downcallHandle(linker.defaultLookup().find("getenv").orElseThrow(),
                    FunctionDescriptor.of(ValueLayout.ADDRESS, ValueLayout.ADDRESS));
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment p = (MemorySegment) getenv.invokeExact(arena.allocateFrom(name));
                return p.equals(MemorySegment.NULL) ? null : p.reinterpret(Long.MAX_VALUE).getString(0);
            }
        } catch (Throwable t) {
            throw new IllegalStateException("getenv failed", t);
        }
    }
}
