package io.spindle.api.dto;

import com.fasterxml.jackson.annotation.JsonProperty;

public record OpenAiUsage(@JsonProperty("prompt_tokens") int promptTokens,
                          @JsonProperty("completion_tokens") int completionTokens,
                          @JsonProperty("total_tokens") int totalTokens,
                          @JsonProperty("prompt_tokens_details") PromptTokensDetails promptTokensDetails) {

    public OpenAiUsage(int promptTokens, int completionTokens, int cachedTokens) {
        this(promptTokens, completionTokens, promptTokens + completionTokens, new PromptTokensDetails(cachedTokens));
    }

    /** @param cachedTokens prompt tokens served from the prefix cache (OpenAI's field) */
    public record PromptTokensDetails(@JsonProperty("cached_tokens") int cachedTokens) {
    }
}
