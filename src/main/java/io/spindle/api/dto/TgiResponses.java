package io.spindle.api.dto;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;

import java.util.List;

/** Hugging Face TGI response shapes. */
public final class TgiResponses {
    private TgiResponses() {
    }

    public record Token(int id, String text, float logprob, boolean special) {
    }

    /** {@code /generate}: the text and, with {@code details}, how it ended and its tokens. */
    public record Generated(@JsonProperty("generated_text") String generatedText,
                            @JsonInclude(JsonInclude.Include.NON_NULL) Details details) {
    }

    /** {@code prefill}: the prompt's tokens with {@code decoder_input_details}, else empty; {@code top_tokens} with {@code top_n_tokens}. */
    public record Details(@JsonProperty("finish_reason") String finishReason,
                          @JsonProperty("generated_tokens") int generatedTokens, Long seed,
                          List<PrefillToken> prefill, List<Token> tokens,
                          @JsonInclude(JsonInclude.Include.NON_NULL) @JsonProperty("top_tokens") List<List<Token>> topTokens,
                          @JsonProperty("input_length") int inputLength,
                          @JsonInclude(JsonInclude.Include.NON_NULL) Timings timings) {
    }

    /** A prompt token; {@code logprob} is null for the first, which has no context. */
    public record PrefillToken(int id, String text, Float logprob) {
    }

    /** TGI's {@code GET /info}. */
    public record Info(@JsonProperty("model_id") String modelId, @JsonProperty("model_sha") String modelSha,
                       @JsonProperty("model_pipeline_tag") String modelPipelineTag,
                       @JsonProperty("max_concurrent_requests") int maxConcurrentRequests,
                       @JsonProperty("max_best_of") int maxBestOf,
                       @JsonProperty("max_stop_sequences") int maxStopSequences,
                       @JsonProperty("max_input_tokens") int maxInputTokens,
                       @JsonProperty("max_input_length") int maxInputLength,
                       @JsonProperty("max_total_tokens") int maxTotalTokens,
                       @JsonProperty("max_client_batch_size") int maxClientBatchSize,
                       String router, String version, String sha, @JsonProperty("docker_label") String dockerLabel) {
    }

    /** One {@code /generate_stream} event; the last carries {@code generated_text} and, with details, {@code details}. */
    public record StreamEvent(int index, Token token, @JsonProperty("top_tokens") List<Token> topTokens,
                              @JsonProperty("generated_text") String generatedText, StreamDetails details) {
    }

    public record StreamDetails(@JsonProperty("finish_reason") String finishReason,
                                @JsonProperty("generated_tokens") int generatedTokens, Long seed,
                                @JsonProperty("input_length") int inputLength,
                                @JsonInclude(JsonInclude.Include.NON_NULL) Timings timings) {
    }
}
