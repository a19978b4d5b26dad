/**
 * A small, typed layer over ONNX Runtime's C API through Java's foreign function interface
 * ({@code java.lang.foreign}), on the same library and sessions as the official Java API: memory
 * infos (CPU, CUDA), a session's allocators, tensors over Spindle's own memory, IoBinding with its
 * synchronisation, and counters of live native objects ({@link io.spindle.runtime.onnx.capi.NativeLedger})
 * and of bytes moved between host and device per run ({@link io.spindle.runtime.onnx.capi.Transfers}).
 * Used only inside {@code runtime}; everything else keeps the official Java API. Depends on
 * {@code ai.onnxruntime} (to find the library and a session's handle) and the JDK.
 */
package io.spindle.runtime.onnx.capi;
