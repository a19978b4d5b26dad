/**
 * BERT-family encoders (feature extraction and masked-LM): an ONNX Runtime session over {@code input_ids},
 * {@code attention_mask} and optional {@code token_type_ids}, pooled and normalised as the model
 * declares (sentence-transformers' {@code 1_Pooling/config.json} and {@code modules.json}; mean pooling
 * and L2 normalisation by default), or the vocabulary logits at each mask. A masked-LM graph is
 * rewritten at load (ONNX protobuf, cached on disk) so that its head runs at the masks only.
 * Implements {@link io.spindle.engine.exec.EncoderRunner}; depends on {@code runtime.onnx}, ONNX
 * Runtime and the ONNX protobuf classes.
 */
package io.spindle.runtime.family.bert;
