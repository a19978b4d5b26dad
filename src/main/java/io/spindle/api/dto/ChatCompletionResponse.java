package io.spindle.api.dto;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;

import java.util.List;

/** OpenAI chat.completion (non-streaming). */
public record ChatCompletionResponse(String id, String object, long created, String model, List<Choice> choices,
                                     OpenAiUsage usage,
                                     @JsonInclude(JsonInclude.Include.NON_NULL) Timings timings,
                                     @JsonInclude(JsonInclude.Include.NON_NULL) @JsonProperty("prompt_token_ids") int[] promptTokenIds) {

    public record Choice(int index, Message message, ChatLogprobs logprobs,
                         @JsonProperty("finish_reason") String finishReason,
                         @JsonInclude(JsonInclude.Include.NON_NULL) @JsonProperty("token_ids") int[] tokenIds) {
    }

    public record Message(String role, String content, String refusal) {
    }

    /** Chat logprobs: one entry per generated token. */
    public record ChatLogprobs(List<TokenLogprob> content, String refusal) {
    }

    public record TokenLogprob(String token, float logprob, int[] bytes,
                               @JsonProperty("top_logprobs") List<Object> topLogprobs) {
    }

    /** One alternative at a position, most likely first. */
    public record TopLogprob(String token, float logprob, int[] bytes) {
    }
}
