/**
 * Builds Spindle's own demo and test models: GPT-2-architecture ONNX graphs with seeded random
 * weights in the signature of a real exporter, plus the real GPT-2 tokenizer, config and generation
 * config. Depends on the ONNX protobuf classes and Jackson only; never on ONNX Runtime.
 */
package io.spindle.runtime.demo;
