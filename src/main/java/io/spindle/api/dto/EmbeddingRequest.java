package io.spindle.api.dto;

import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.databind.JsonNode;

/**
 * OpenAI {@code POST /v1/embeddings}. {@code input}: a string, a list of strings, a list of token ids,
 * or a list of token-id lists.
 */
public record EmbeddingRequest(JsonNode input, String model, @JsonProperty("encoding_format") String encodingFormat,
                               Integer dimensions, String user) {
}
