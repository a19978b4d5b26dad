/**
 * GPT-2-family decoder graphs on ONNX Runtime: recognising the Optimum and ONNX Runtime layouts and
 * Spindle's in-place KV form, and the batched runners with their KV caches ({@code Gpt2Runner}, and
 * {@code InPlaceKvRunner} over slot-resident caches). Implements {@code engine.exec}.
 */
package io.spindle.runtime.family.gpt2;
