/**
 * Weight quantization in the JVM (issue 18): {@link io.spindle.runtime.onnx.quant.WeightQuantizer}
 * rewrites an ONNX graph's weight products into ONNX Runtime's block-quantized contrib ops
 * ({@code MatMulNBits}, and {@code GatherBlockQuantized} for embeddings when asked), as settings
 * parsed from {@code spindle.models.quantize} ({@link io.spindle.runtime.onnx.quant.QuantizeSettings})
 * say. A pure graph-to-graph function: it opens no session and touches no file; caching the result
 * and serving it is the loaders' business. Measured quality and speed:
 * {@code load-tests/results/quantize/}.
 */
package io.spindle.runtime.onnx.quant;
