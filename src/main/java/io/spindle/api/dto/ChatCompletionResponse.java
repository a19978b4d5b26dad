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

    /** {@code content} is null when the answer is {@code tool_calls}. */
    public record Message(String role, String content, String refusal,
                          @JsonInclude(JsonInclude.Include.NON_NULL) @JsonProperty("tool_calls") List<ToolCall> toolCalls) {
        public Message(String role, String content, String refusal) {
            this(role, content, refusal, null);
        }
    }

    public record ToolCall(String id, String type, Function function) {
    }

    /** {@code arguments} is the JSON text of the arguments, as OpenAI sends it. */
    public record Function(String name, String arguments) {
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
