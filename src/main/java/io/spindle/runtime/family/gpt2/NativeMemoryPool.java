package io.spindle.runtime.family.gpt2;

import io.spindle.runtime.onnx.MallocArenas;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * Freed native buffers kept mapped for a moment, for the next allocation of about their size.
 *
 * <p>Why: memory the process has not touched yet is expensive to fault in, and the KV buffers come
 * and go with the streams. On the machines this project is measured on, writing freshly allocated
 * memory ran at 5–7 ms per MB (about 20 µs per 4 KiB page fault), against 0.05–0.2 ms per MB to
 * write memory already touched; a 64-request, 32-stream run of the 124M shape allocated 2.8 GB of
 * native buffers (prefill batches made and dropped per arrival, present sets growing, prefix-cache
 * blocks), so the engine thread spent much of its prompt-carrying steps in page faults.
 *
 * <p>Bounded: at most {@link #limitBytes} are retained (the oldest go first), and whatever has been
 * retained for {@link #idleNanos} without being taken is freed, followed by {@code malloc_trim}, so
 * an idle server still gives its cache memory back, about two seconds later rather than at once.
 * Buffers under {@link #MIN_BYTES} are not kept: the C library serves them from its heap cheaply.
 * Thread-safe (buffers are closed on engine threads, trimmed on a daemon thread).
 */
final class NativeMemoryPool {
    static final long MIN_BYTES = 64 << 10;
    static final NativeMemoryPool SHARED = new NativeMemoryPool(512L << 20, TimeUnit.SECONDS.toNanos(2),
            NativeBuffer::freeRaw);

    /** A block of native memory no buffer owns, kept since {@code since} ({@link System#nanoTime}). */
    record Retained(MemorySegment raw, long bytes, long since) {
    }

    private final long limitBytes;
    private final long idleNanos;
    private final Consumer<MemorySegment> free;
    private final List<Retained> retained = new ArrayList<>();
    private long retainedBytes;
    private boolean trimScheduled;
    private ScheduledExecutorService trimmer;

    NativeMemoryPool(long limitBytes, long idleNanos, Consumer<MemorySegment> free) {
        this.limitBytes = limitBytes;
        this.idleNanos = idleNanos;
        this.free = free;
    }

    /**
     * A retained block of at least {@code bytes} and at most twice that (a much larger one stays for
     * a request of its size), the smallest such; null when there is none. Its contents are stale.
     */
    synchronized Retained take(long bytes) {
        Retained best = null;
        for (Retained r : retained) {
            if (r.bytes >= bytes && r.bytes <= 2 * bytes && (best == null || r.bytes < best.bytes)) {
                best = r;
            }
        }
        if (best != null) {
            retained.remove(best);
            retainedBytes -= best.bytes;
        }
        return best;
    }

    /** Keeps a block its owner is done with, or frees it when it is small or would not fit. */
    void give(MemorySegment raw, long bytes) {
        List<Retained> toFree = new ArrayList<>();
        boolean kept;
        synchronized (this) {
            kept = bytes >= MIN_BYTES && bytes <= limitBytes;
            if (kept) {
                while (retainedBytes + bytes > limitBytes) {
                    Retained oldest = retained.removeFirst();
                    retainedBytes -= oldest.bytes;
                    toFree.add(oldest);
                }
                retained.add(new Retained(raw, bytes, System.nanoTime()));
                retainedBytes += bytes;
                scheduleTrim(idleNanos);
            }
        }
        if (!kept) {
            free.accept(raw);
        }
        for (Retained r : toFree) {
            free.accept(r.raw);
        }
    }

    synchronized long retainedBytes() {
        return retainedBytes;
    }

    private void scheduleTrim(long delayNanos) {
        if (trimScheduled) {
            return;
        }
        if (trimmer == null) {
            trimmer = Executors.newSingleThreadScheduledExecutor(r -> {
                Thread t = new Thread(r, "spindle-native-memory-trim");
                t.setDaemon(true);
                return t;
            });
        }
        trimScheduled = true;
        trimmer.schedule(this::trim, delayNanos, TimeUnit.NANOSECONDS);
    }

    /** Frees what has waited {@link #idleNanos} untaken; comes back for the rest. */
    private void trim() {
        List<Retained> toFree = new ArrayList<>();
        synchronized (this) {
            trimScheduled = false;
            long now = System.nanoTime();
            long next = Long.MAX_VALUE;
            for (Retained r : List.copyOf(retained)) {
                long due = r.since + idleNanos - now;
                if (due <= 0) {
                    retained.remove(r);
                    retainedBytes -= r.bytes;
                    toFree.add(r);
                } else {
                    next = Math.min(next, due);
                }
            }
            if (next != Long.MAX_VALUE) {
                scheduleTrim(next);
            }
        }
        for (Retained r : toFree) {
            free.accept(r.raw);
        }
        if (!toFree.isEmpty() && this == SHARED) {
            // Blocks below glibc's mmap threshold went back to its heap, which keeps them resident.
            MallocArenas.trim();
        }
    }
}
