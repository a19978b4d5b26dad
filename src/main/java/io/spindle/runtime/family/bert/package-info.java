/**
 * BERT-family encoders (feature extraction): an ONNX Runtime session over {@code input_ids},
 * {@code attention_mask} and optional {@code token_type_ids}, pooled and normalised as the model
 * declares (sentence-transformers' {@code 1_Pooling/config.json} and {@code modules.json}; mean pooling
 * and L2 normalisation by default). Implements {@link io.spindle.engine.exec.EncoderRunner}.
 */
package io.spindle.runtime.family.bert;
