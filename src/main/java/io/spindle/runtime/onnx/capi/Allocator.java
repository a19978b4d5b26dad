package io.spindle.runtime.onnx.capi;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Set;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * A session's allocator for one memory ({@code CreateAllocator(session, memoryInfo)}): CUDA device
 * memory on a CUDA session, host memory on a CPU session. Every block it hands out is a
 * {@link Block} counted in the ledger (count and bytes) until freed; closing the allocator frees the
 * blocks still out first, so that nothing outlives it. Must be closed before its session.
 */
public final class Allocator extends NativeHandle {
    private final MemoryInfo memory;
    private final Set<Block> out = Collections.newSetFromMap(Collections.synchronizedMap(new IdentityHashMap<>()));

    private Allocator(OrtCapi api, NativeLedger ledger, MemorySegment handle, MemoryInfo memory) {
        super(api, ledger, NativeLedger.Kind.ALLOCATOR, handle);
        this.memory = memory;
    }

    /** The allocator {@code session} uses for {@code memory}; fails (ORT's message) when the session has none for it. */
    public static Allocator of(OrtCapi api, NativeLedger ledger, SessionHandle session, MemoryInfo memory) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment p = OrtCapi.outPointer(arena);
            api.call3("CreateAllocator", OrtCapi.CREATE_ALLOCATOR, session.handle(), memory.handle(), p);
            return new Allocator(api, ledger, p.get(ADDRESS, 0), memory);
        }
    }

    public MemoryInfo memory() {
        return memory;
    }

    /** {@code AllocatorAlloc}: {@code bytes} of this allocator's memory, uninitialised. */
    public Block allocate(long bytes) {
        if (bytes <= 0) {
            throw new IllegalArgumentException("allocation of " + bytes + " bytes");
        }
        MemorySegment status;
        MemorySegment p;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment outPtr = OrtCapi.outPointer(arena);
            try {
                status = (MemorySegment) api.fn(OrtCapi.ALLOCATOR_ALLOC, FunctionDescriptor.of(ADDRESS, ADDRESS, JAVA_LONG, ADDRESS))
                        .invokeExact(handle(), bytes, outPtr);
            } catch (Throwable t) {
                throw new IllegalStateException("AllocatorAlloc failed", t);
            }
            api.check("AllocatorAlloc(" + bytes + ")", status);
            p = outPtr.get(ADDRESS, 0);
        }
        if (p.equals(MemorySegment.NULL)) {
            throw new OutOfMemoryError("AllocatorAlloc(" + bytes + ") on " + memory + " returned null");
        }
        Block b = new Block(this, p, bytes);
        out.add(b);
        return b;
    }

    /** Blocks handed out and not yet freed. */
    public int numLive() {
        return out.size();
    }

    private void free(Block b) {
        out.remove(b);
        try {
            api.call2("AllocatorFree", OrtCapi.ALLOCATOR_FREE, handle(), b.address);
        } finally {
            ledger().freed(b.bytes);
            ledger().closed(NativeLedger.Kind.ALLOCATION);
        }
    }

    @Override
    void release(MemorySegment handle) {
        List<Block> left;
        synchronized (out) {
            left = List.copyOf(out);
        }
        for (Block b : left) {
            b.freeWith(handle);
        }
        api.releaseWith(OrtCapi.RELEASE_ALLOCATOR, handle);
    }

    /**
     * One block from an {@link Allocator}. {@link #segment()} views it from Java only where the memory
     * is host memory; device memory is only ever handed to ONNX Runtime ({@link #address()}).
     * Closing is idempotent.
     */
    public static final class Block implements AutoCloseable {
        private final Allocator owner;
        private final MemorySegment address;
        private final long bytes;
        private final java.util.concurrent.atomic.AtomicBoolean freed = new java.util.concurrent.atomic.AtomicBoolean();

        private Block(Allocator owner, MemorySegment address, long bytes) {
            this.owner = owner;
            this.address = address;
            this.bytes = bytes;
            owner.ledger().opened(NativeLedger.Kind.ALLOCATION);
            owner.ledger().allocated(bytes);
        }

        public long bytes() {
            return bytes;
        }

        public MemoryInfo memory() {
            return owner.memory;
        }

        /** The block as a pointer of its length, for tensors over it; never dereference device memory from Java. */
        public MemorySegment address() {
            if (freed.get()) {
                throw new IllegalStateException("allocation used after it was freed");
            }
            return address.reinterpret(bytes);
        }

        /** The block as host memory Java may read and write; only for host-accessible memory. */
        public MemorySegment segment() {
            if (!owner.memory.hostAccessible()) {
                throw new IllegalStateException(owner.memory + " is not host memory; Java cannot read it");
            }
            return address();
        }

        private void freeWith(MemorySegment allocatorHandle) {
            if (freed.compareAndSet(false, true)) {
                owner.out.remove(this);
                try {
                    owner.api.call2("AllocatorFree", OrtCapi.ALLOCATOR_FREE, allocatorHandle, address);
                } finally {
                    owner.ledger().freed(bytes);
                    owner.ledger().closed(NativeLedger.Kind.ALLOCATION);
                }
            }
        }

        @Override
        public void close() {
            if (!freed.get() && owner.isClosed()) {
                return;  // the allocator freed it when it closed
            }
            if (freed.compareAndSet(false, true)) {
                owner.free(this);
            }
        }
    }
}
