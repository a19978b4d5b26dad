package io.spindle.api.dto;

import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.databind.JsonNode;

import java.util.List;

/** Client → server frames of {@code /v1/ws}: {@code generate} (prompt or messages) and {@code cancel}. */
public record WsGenerate(
        String type,
        String id,
        String model,
        JsonNode prompt,
        List<ChatCompletionRequest.Message> messages,
        @JsonProperty("max_tokens") Integer maxTokens,
        Double temperature,
        @JsonProperty("top_p") Double topP,
        @JsonProperty("top_k") Integer topK,
        JsonNode stop,
        Long seed,
        @JsonProperty("presence_penalty") Double presencePenalty,
        @JsonProperty("logit_bias") java.util.Map<String, Double> logitBias,
        @JsonProperty("frequency_penalty") Double frequencyPenalty,
        @JsonProperty("repetition_penalty") Double repetitionPenalty,
        @JsonProperty("stop_token_ids") List<Integer> stopTokenIds,
        @JsonProperty("ignore_eos") Boolean ignoreEos,
        Boolean logprobs,
        JsonNode constraint) {
}
