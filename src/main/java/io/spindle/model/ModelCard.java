package io.spindle.model;

import java.util.List;

/**
 * How a served model describes itself in {@code /v1/models}.
 *
 * @param family        gpt2 (decoder-only), t5 (encoder-decoder) or bert (encoder)
 * @param encoderDecoder true when the prompt is a source for an encoder and the output a separate
 *                      sequence: both may then be up to {@code contextLength} tokens
 * @param maskToken     a masked-language model's mask token, e.g. {@code [MASK]}; null otherwise
 * @param layout        the recognised graph layout, e.g. optimum or ort-gpt2
 * @param randomWeights true for demo models: their output is random text, not language
 * @param executionProvider cpu or cuda, where the graphs run
 * @param kvCache       where a generating model's KV cache lives and its budget; null for an encoder
 * @param weights       what the served graphs' weights are stored as
 */
public record ModelCard(String id, String family, List<String> tasks, int contextLength, int vocabSize, String layout,
                        boolean randomWeights, boolean hasChatTemplate, String executionProvider,
                        long createdEpochSeconds, boolean encoderDecoder, String maskToken, KvCache kvCache,
                        Weights weights) {

    /**
     * @param format   in a word: float32, float16, int8, int4 (quantized precisions first when any projection is)
     * @param detail   projections by storage, e.g. {@code int4 (MatMulNBits, block 32) ×48, float32 ×1}
     * @param quantize the quantization applied at load ({@code spindle.models.quantize}), {@code none} when the
     *                 graphs are served as exported
     */
    public record Weights(String format, String detail, String quantize) {
    }

    /**
     * @param location      host (main memory) or device (the accelerator's memory)
     * @param budgetBytes   the KV-cache budget ({@code spindle.engine.kv-cache-memory}, whole tokens), in that memory
     * @param bytesPerToken KV bytes one token of one sequence takes
     * @param dtype         the cache's element type (float32, float16), what bytesPerToken counts in
     */
    public record KvCache(String location, long budgetBytes, long bytesPerToken, String dtype) {
    }
}
