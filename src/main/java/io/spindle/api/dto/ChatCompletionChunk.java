package io.spindle.api.dto;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;

import java.util.List;

/** One chat.completion.chunk of a streamed chat completion. */
public record ChatCompletionChunk(String id, String object, long created, String model, List<Choice> choices,
                                  @JsonInclude(JsonInclude.Include.NON_NULL) OpenAiUsage usage,
                                  @JsonInclude(JsonInclude.Include.NON_NULL) Timings timings,
                                  @JsonInclude(JsonInclude.Include.NON_NULL) @JsonProperty("prompt_token_ids") int[] promptTokenIds) {

    public record Choice(int index, Delta delta,
                         @JsonInclude(JsonInclude.Include.NON_NULL) ChatCompletionResponse.ChatLogprobs logprobs,
                         @JsonProperty("finish_reason") String finishReason,
                         @JsonInclude(JsonInclude.Include.NON_NULL) @JsonProperty("token_ids") int[] tokenIds) {
    }

    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record Delta(String role, String content, @JsonProperty("tool_calls") List<ToolCallDelta> toolCalls) {
        public Delta(String role, String content) {
            this(role, content, null);
        }
    }

    /** A piece of a streamed call: the first carries id, type and name; later ones argument fragments. */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record ToolCallDelta(int index, String id, String type, FunctionDelta function) {
    }

    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record FunctionDelta(String name, String arguments) {
    }
}
