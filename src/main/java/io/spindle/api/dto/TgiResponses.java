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

    public record Details(@JsonProperty("finish_reason") String finishReason,
                          @JsonProperty("generated_tokens") int generatedTokens, Long seed,
                          List<Object> prefill, List<Token> tokens,
                          @JsonProperty("input_length") int inputLength,
                          @JsonInclude(JsonInclude.Include.NON_NULL) Timings timings) {
    }

    /** One {@code /generate_stream} event; the last carries {@code generated_text} and, with details, {@code details}. */
    public record StreamEvent(int index, Token token, @JsonProperty("top_tokens") List<Object> topTokens,
                              @JsonProperty("generated_text") String generatedText, StreamDetails details) {
    }

    public record StreamDetails(@JsonProperty("finish_reason") String finishReason,
                                @JsonProperty("generated_tokens") int generatedTokens, Long seed,
                                @JsonProperty("input_length") int inputLength,
                                @JsonInclude(JsonInclude.Include.NON_NULL) Timings timings) {
    }
}
