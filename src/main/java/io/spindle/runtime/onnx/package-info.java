/**
 * ONNX Runtime adapter: the environment, session creation and execution providers, graph
 * signatures, and the no-telemetry guard. The only package family (with {@code runtime.family})
 * that imports {@code ai.onnxruntime}.
 */
package io.spindle.runtime.onnx;
