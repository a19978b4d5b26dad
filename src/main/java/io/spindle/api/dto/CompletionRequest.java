package io.spindle.api.dto;

import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.databind.JsonNode;

import java.util.List;

/**
 * OpenAI {@code POST /v1/completions}, plus the vLLM extensions {@code top_k} (-1 or 0: off),
 * {@code min_p}, {@code min_tokens}, {@code truncate_prompt_tokens}, {@code repetition_penalty},
 * {@code stop_token_ids}, {@code ignore_eos} and {@code return_token_ids}; and the TGI parameters that
 * Hugging Face's JS client (4.x) puts into a completions body when it is pointed at an OpenAI route:
 * {@code do_sample}, {@code typical_p}, {@code truncate}, {@code return_full_text}.
 *
 * @param prompt a string, a one-element list of strings, or a list of token ids
 * @param stop   a string or a list of strings
 */
public record CompletionRequest(
        String model,
        JsonNode prompt,
        @JsonProperty("max_tokens") Integer maxTokens,
        Double temperature,
        @JsonProperty("top_p") Double topP,
        @JsonProperty("top_k") Integer topK,
        Integer n,
        Boolean stream,
        @JsonProperty("stream_options") StreamOptions streamOptions,
        JsonNode stop,
        Long seed,
        Integer logprobs,
        Boolean echo,
        @JsonProperty("presence_penalty") Double presencePenalty,
        @JsonProperty("logit_bias") java.util.Map<String, Double> logitBias,
        @JsonProperty("frequency_penalty") Double frequencyPenalty,
        @JsonProperty("repetition_penalty") Double repetitionPenalty,
        @JsonProperty("stop_token_ids") List<Integer> stopTokenIds,
        @JsonProperty("ignore_eos") Boolean ignoreEos,
        @JsonProperty("return_token_ids") Boolean returnTokenIds,
        @JsonProperty("best_of") Integer bestOf,
        String suffix,
        String user,
        @JsonProperty("min_p") Double minP,
        @JsonProperty("min_tokens") Integer minTokens,
        @JsonProperty("truncate_prompt_tokens") Integer truncatePromptTokens,
        @JsonProperty("do_sample") Boolean doSample,
        @JsonProperty("typical_p") Double typicalP,
        Integer truncate,
        @JsonProperty("return_full_text") Boolean returnFullText,
        @JsonProperty("response_format") JsonNode responseFormat,
        @JsonProperty("guided_json") JsonNode guidedJson,
        @JsonProperty("guided_regex") String guidedRegex,
        @JsonProperty("guided_choice") List<String> guidedChoice,
        @JsonProperty("structured_outputs") JsonNode structuredOutputs,
        JsonNode grammar) {
}
