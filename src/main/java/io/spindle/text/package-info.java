/**
 * Text around the engine: tokenizing with the model's tokenizer.json (DJL), UTF-8-safe incremental
 * detokenizing, stop strings, and chat templates (Jinjava). Plain Java; no Quarkus, no ONNX Runtime.
 */
package io.spindle.text;
