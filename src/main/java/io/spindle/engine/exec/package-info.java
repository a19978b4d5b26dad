/**
 * The execution seam: {@link io.spindle.engine.exec.ModelRunner} runs one batched forward pass.
 * Implemented outside the engine by {@code runtime} (ONNX Runtime) and by test fakes. Plain Java.
 */
package io.spindle.engine.exec;
