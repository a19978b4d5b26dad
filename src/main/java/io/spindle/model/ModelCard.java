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
 */
public record ModelCard(String id, String family, List<String> tasks, int contextLength, int vocabSize, String layout,
                        boolean randomWeights, boolean hasChatTemplate, String executionProvider,
                        long createdEpochSeconds, boolean encoderDecoder, String maskToken) {
}
