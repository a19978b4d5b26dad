package io.spindle.runtime.onnx.capi;

import ai.onnxruntime.OrtSession;

import java.lang.foreign.MemorySegment;
import java.lang.reflect.Field;

/**
 * The native {@code OrtSession*} behind an {@link OrtSession} of the official Java API, so that a
 * session keeps being created (providers, options, rewrites) and closed where it is today
 * ({@code OrtRuntime}) and this layer only binds and runs on it.
 *
 * <p>How: the jar's {@code OrtSession} keeps the pointer in its private field {@code long nativeHandle}
 * (1.29; read reflectively, which works because the jar is on the class path, in the unnamed module).
 * If a later jar renames it, {@link #of} fails with a message naming the field, at load, not at the
 * first step. The pointer is valid until the {@code OrtSession} is closed: everything bound to it
 * (allocators, bindings) must be closed first.
 */
public final class SessionHandle {
    private final OrtSession session;
    private final MemorySegment handle;

    private SessionHandle(OrtSession session, MemorySegment handle) {
        this.session = session;
        this.handle = handle;
    }

    public static SessionHandle of(OrtSession session) {
        long pointer;
        try {
            Field f = OrtSession.class.getDeclaredField("nativeHandle");
            f.setAccessible(true);
            pointer = f.getLong(session);
        } catch (ReflectiveOperationException | RuntimeException e) {
            throw new IllegalStateException("cannot read OrtSession.nativeHandle of this ONNX Runtime jar: " + e, e);
        }
        if (pointer == 0) {
            throw new IllegalStateException("OrtSession has no native handle (closed?)");
        }
        return new SessionHandle(session, MemorySegment.ofAddress(pointer));
    }

    public OrtSession session() {
        return session;
    }

    MemorySegment handle() {
        return handle;
    }
}
