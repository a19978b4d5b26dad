package io.spindle.runtime.family.gpt2;

import java.lang.foreign.Arena;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * A direct buffer whose native memory is returned when it is closed, not whenever a garbage
 * collection happens to find it: KV caches are hundreds of megabytes, and an idle server should give
 * them back at once. Close it only when no ONNX Runtime tensor views it any more.
 */
final class NativeBuffer implements AutoCloseable {
    private final Arena arena;
    private final ByteBuffer buffer;

    private NativeBuffer(Arena arena, ByteBuffer buffer) {
        this.arena = arena;
        this.buffer = buffer;
    }

    static NativeBuffer allocate(long bytes) {
        Arena arena = Arena.ofShared();
        try {
            return new NativeBuffer(arena, arena.allocate(Math.max(bytes, 1), 64).asByteBuffer().order(ByteOrder.nativeOrder()));
        } catch (RuntimeException | OutOfMemoryError e) {
            arena.close();
            throw e;
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
