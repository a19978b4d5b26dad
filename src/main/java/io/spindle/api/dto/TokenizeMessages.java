package io.spindle.api.dto;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.databind.JsonNode;

import java.util.List;

/** vLLM's {@code POST /tokenize} and {@code POST /detokenize} bodies. */
public final class TokenizeMessages {
    private TokenizeMessages() {
    }

    /**
     * {@code prompt} (text or token ids) or chat {@code messages} (with the {@code tools} the chat
     * template renders); {@code model} defaults to the first text-generation model.
     */
    public record TokenizeRequest(String model, JsonNode prompt, List<ChatCompletionRequest.Message> messages,
                                  JsonNode tools,
                                  @JsonProperty("add_special_tokens") Boolean addSpecialTokens,
                                  @JsonProperty("add_generation_prompt") Boolean addGenerationPrompt,
                                  @JsonProperty("return_token_strs") Boolean returnTokenStrs) {
    }

    public record TokenizeResponse(int count, @JsonProperty("max_model_len") int maxModelLen, int[] tokens,
                                   @JsonInclude(JsonInclude.Include.ALWAYS) @JsonProperty("token_strs") List<String> tokenStrs) {
    }

    public record DetokenizeRequest(String model, int[] tokens) {
    }

    public record DetokenizeResponse(String prompt) {
    }

    public record Version(String version) {
    }
}
