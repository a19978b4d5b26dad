package io.spindle.api.dto;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;

import java.util.List;

/** OpenAI completion object; also the shape of each stream chunk (object {@code text_completion}). */
public record CompletionResponse(String id, String object, long created, String model, List<Choice> choices,
                                 @JsonInclude(JsonInclude.Include.NON_NULL) OpenAiUsage usage,
                                 @JsonInclude(JsonInclude.Include.NON_NULL) Timings timings) {

    public record Choice(String text, int index, Logprobs logprobs,
                         @JsonProperty("finish_reason") String finishReason,
                         @JsonInclude(JsonInclude.Include.NON_NULL) @JsonProperty("prompt_token_ids") int[] promptTokenIds,
                         @JsonInclude(JsonInclude.Include.NON_NULL) @JsonProperty("token_ids") int[] tokenIds) {
    }

    /** Legacy completions logprobs: the chosen tokens and their log-probabilities. */
    public record Logprobs(List<String> tokens, @JsonProperty("token_logprobs") List<Float> tokenLogprobs,
                           @JsonInclude(JsonInclude.Include.NON_NULL) @JsonProperty("top_logprobs") List<Object> topLogprobs,
                           @JsonProperty("text_offset") List<Integer> textOffset) {
    }
}
