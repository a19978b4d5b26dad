package io.spindle.runtime.onnx.capi;

import java.util.EnumMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * Counts the native objects and allocations made through this layer that are still alive, per owner
 * (a runner, a test): every create adds one, every first close takes it away, so an owner that has
 * closed everything reads zero. What a leak looks like: {@link #isClean()} false after its owner
 * closed. Thread-safe (a value may be closed on another thread than the one that made it).
 */
public final class NativeLedger {
    /** The kinds of native objects this layer creates. */
    public enum Kind { MEMORY_INFO, ALLOCATOR, ALLOCATION, VALUE, IO_BINDING, RUN_OPTIONS }

    private final AtomicLongArray live = new AtomicLongArray(Kind.values().length);
    private final AtomicLongArray created = new AtomicLongArray(Kind.values().length);
    private final AtomicLong liveBytes = new AtomicLong();

    void opened(Kind kind) {
        live.incrementAndGet(kind.ordinal());
        created.incrementAndGet(kind.ordinal());
    }

    void closed(Kind kind) {
        live.decrementAndGet(kind.ordinal());
    }

    void allocated(long bytes) {
        liveBytes.addAndGet(bytes);
    }

    void freed(long bytes) {
        liveBytes.addAndGet(-bytes);
    }

    /** Objects of this kind created and not yet closed. */
    public long live(Kind kind) {
        return live.get(kind.ordinal());
    }

    /** Objects of this kind created so far. */
    public long created(Kind kind) {
        return created.get(kind.ordinal());
    }

    /** Bytes of allocator memory ({@link Allocator#allocate}) not yet freed. */
    public long liveBytes() {
        return liveBytes.get();
    }

    /** No live object of any kind and no live allocated byte. */
    public boolean isClean() {
        for (Kind k : Kind.values()) {
            if (live(k) != 0) {
                return false;
            }
        }
        return liveBytes() == 0;
    }

    public Map<Kind, Long> liveByKind() {
        Map<Kind, Long> out = new EnumMap<>(Kind.class);
        for (Kind k : Kind.values()) {
            out.put(k, live(k));
        }
        return out;
    }

    @Override
    public String toString() {
        return "live " + liveByKind() + ", " + liveBytes() + " allocated bytes";
    }
}
