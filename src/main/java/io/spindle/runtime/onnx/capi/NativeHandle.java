package io.spindle.runtime.onnx.capi;

import java.lang.foreign.MemorySegment;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * One ONNX Runtime object this layer created, released exactly once: {@link #close()} is idempotent
 * and safe from any thread, and every use after it fails with {@link IllegalStateException} instead
 * of handing a freed pointer to native code.
 */
abstract class NativeHandle implements AutoCloseable {
    final OrtCapi api;
    private final NativeLedger ledger;
    private final NativeLedger.Kind kind;
    private final MemorySegment handle;
    private final AtomicBoolean closed = new AtomicBoolean();

    NativeHandle(OrtCapi api, NativeLedger ledger, NativeLedger.Kind kind, MemorySegment handle) {
        if (handle.equals(MemorySegment.NULL)) {
            throw new IllegalStateException("ONNX Runtime returned a null " + kind);
        }
        this.api = api;
        this.ledger = ledger;
        this.kind = kind;
        this.handle = handle;
        ledger.opened(kind);
    }

    /** The native pointer; never after {@link #close()}. */
    final MemorySegment handle() {
        if (closed.get()) {
            throw new IllegalStateException(kind + " used after it was closed");
        }
        return handle;
    }

    final NativeLedger ledger() {
        return ledger;
    }

    public final boolean isClosed() {
        return closed.get();
    }

    /** Releases the native object (ONNX Runtime's {@code Release*}); what a subclass owns goes first. */
    abstract void release(MemorySegment handle);

    @Override
    public final void close() {
        if (closed.compareAndSet(false, true)) {
            try {
                release(handle);
            } finally {
                ledger.closed(kind);
            }
        }
    }
}
