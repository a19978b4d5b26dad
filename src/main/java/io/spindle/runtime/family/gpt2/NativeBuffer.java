package io.spindle.runtime.family.gpt2;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A direct buffer whose native memory is returned when it is closed, not whenever a garbage
 * collection happens to find it: KV caches are hundreds of megabytes, and an idle server should give
 * them back at once. Close it only when no ONNX Runtime tensor views it any more.
 *
 * <p>The memory is the C library's ({@code calloc}, {@code realloc}, {@code free}), not a
 * {@link java.lang.foreign.Arena}'s: an arena zeroes what it allocates by writing every page, and
 * growing the in-place cache by four slots at 28 streams of the 124M shape took 230–350 ms on the
 * engine thread that way (302 MB written, then copied). {@code calloc} of a large block maps pages that
 * are zero until first written, and {@link #grow} lets {@code realloc} move the mapping instead of the
 * bytes where it can. The memory is still bound to a shared arena's scope (closing the arena frees it),
 * so that a view used after {@link #close} or {@link #grow} throws instead of reading freed memory.
 */
final class NativeBuffer implements AutoCloseable {
    private static final MethodHandle CALLOC;
    private static final MethodHandle REALLOC;
    private static final MethodHandle FREE;

    static {
        Linker linker = Linker.nativeLinker();
        CALLOC = linker.downcallHandle(linker.defaultLookup().find("calloc").orElseThrow(),
                FunctionDescriptor.of(ValueLayout.ADDRESS, ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG));
        REALLOC = linker.downcallHandle(linker.defaultLookup().find("realloc").orElseThrow(),
                FunctionDescriptor.of(ValueLayout.ADDRESS, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG));
        FREE = linker.downcallHandle(linker.defaultLookup().find("free").orElseThrow(),
                FunctionDescriptor.ofVoid(ValueLayout.ADDRESS));
    }

    private Arena arena;
    /** Set when realloc has taken the memory, so that closing the old arena does not free it again. */
    private AtomicBoolean moved;
    private MemorySegment segment;
    private ByteBuffer buffer;

    private NativeBuffer(MemorySegment raw, long bytes) {
        bind(raw, bytes);
    }

    private void bind(MemorySegment raw, long bytes) {
        Arena scope = Arena.ofShared();
        AtomicBoolean taken = new AtomicBoolean();
        segment = raw.reinterpret(bytes, scope, s -> {
            if (!taken.get()) {
                free(s);
            }
        });
        arena = scope;
        moved = taken;
        buffer = segment.asByteBuffer().order(ByteOrder.nativeOrder());
    }

    /** {@code bytes} of zeroed native memory. */
    static NativeBuffer allocate(long bytes) {
        long n = Math.max(bytes, 1);
        MemorySegment p;
        try {
            p = (MemorySegment) CALLOC.invokeExact(1L, n);
        } catch (Throwable t) {
            throw new IllegalStateException("calloc(" + n + ") failed", t);
        }
        if (p.equals(MemorySegment.NULL)) {
            throw new OutOfMemoryError("cannot allocate " + n + " bytes of native memory");
        }
        return new NativeBuffer(p, n);
    }

    /**
     * Grows the buffer to {@code bytes}, keeping its contents; the bytes added are zeroed. Views taken
     * from {@link #buffer()} before are invalid afterwards (they throw). On failure the buffer is as it was.
     */
    void grow(long bytes) {
        long old = segment.byteSize();
        if (bytes <= old) {
            return;
        }
        MemorySegment p;
        try {
            p = (MemorySegment) REALLOC.invokeExact(MemorySegment.ofAddress(segment.address()), bytes);
        } catch (Throwable t) {
            throw new IllegalStateException("realloc(" + bytes + ") failed", t);
        }
        if (p.equals(MemorySegment.NULL)) {
            throw new OutOfMemoryError("cannot grow a native buffer to " + bytes + " bytes");
        }
        moved.set(true);
        arena.close();
        bind(p, bytes);
        segment.asSlice(old).fill((byte) 0);
    }

    private static void free(MemorySegment s) {
        try {
            FREE.invokeExact(MemorySegment.ofAddress(s.address()));
        } catch (Throwable t) {
            throw new IllegalStateException("free failed", t);
        }
    }

    ByteBuffer buffer() {
        return buffer;
    }

    long capacity() {
        return buffer.capacity();
    }

    @Override
    public void close() {
        arena.close();
    }
}
