package io.spindle.api.dto;

import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.databind.JsonNode;

import java.util.List;

/** OpenAI {@code POST /v1/chat/completions}, with the same vLLM extensions as completions. */
public record ChatCompletionRequest(
        String model,
        List<Message> messages,
        @JsonProperty("max_tokens") Integer maxTokens,
        @JsonProperty("max_completion_tokens") Integer maxCompletionTokens,
        Double temperature,
        @JsonProperty("top_p") Double topP,
        @JsonProperty("top_k") Integer topK,
        Integer n,
        Boolean stream,
        @JsonProperty("stream_options") StreamOptions streamOptions,
        JsonNode stop,
        Long seed,
        Boolean logprobs,
        @JsonProperty("top_logprobs") Integer topLogprobs,
        @JsonProperty("presence_penalty") Double presencePenalty,
        @JsonProperty("logit_bias") java.util.Map<String, Double> logitBias,
        @JsonProperty("frequency_penalty") Double frequencyPenalty,
        @JsonProperty("repetition_penalty") Double repetitionPenalty,
        @JsonProperty("stop_token_ids") List<Integer> stopTokenIds,
        @JsonProperty("ignore_eos") Boolean ignoreEos,
        @JsonProperty("return_token_ids") Boolean returnTokenIds,
        JsonNode tools,
        @JsonProperty("tool_choice") JsonNode toolChoice,
        @JsonProperty("parallel_tool_calls") Boolean parallelToolCalls,
        String user,
        @JsonProperty("min_p") Double minP,
        @JsonProperty("min_tokens") Integer minTokens,
        @JsonProperty("truncate_prompt_tokens") Integer truncatePromptTokens,
        @JsonProperty("response_format") JsonNode responseFormat,
        @JsonProperty("guided_json") JsonNode guidedJson,
        @JsonProperty("guided_regex") String guidedRegex,
        @JsonProperty("guided_choice") List<String> guidedChoice,
        @JsonProperty("structured_outputs") JsonNode structuredOutputs,
        JsonNode grammar) {

    /**
     * {@code content} is a string or a list of {@code {"type":"text","text":…}} parts; an assistant
     * message may carry the {@code tool_calls} it made, a {@code tool} message the {@code tool_call_id}
     * it answers.
     */
    public record Message(String role, JsonNode content, String name,
                          @JsonProperty("tool_calls") JsonNode toolCalls,
                          @JsonProperty("tool_call_id") String toolCallId) {
    }
}
