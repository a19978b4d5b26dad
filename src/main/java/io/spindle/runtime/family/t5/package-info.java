/**
 * The T5 family (encoder-decoder) on ONNX Runtime: Hugging Face Optimum's seq2seq exports (an
 * encoder graph and a decoder, split or merged), run by {@link io.spindle.runtime.family.t5.T5Runner}
 * behind the engine's {@code ModelRunner} seam. May use {@code ai.onnxruntime}, {@code runtime.onnx},
 * {@code engine.exec} and {@code model}.
 */
package io.spindle.runtime.family.t5;
