/**
 * GPT-2-family decoder graphs on ONNX Runtime: recognising the Optimum and ONNX Runtime layouts,
 * and the batched runner with its KV cache. Implements {@code engine.exec}.
 */
package io.spindle.runtime.family.gpt2;
