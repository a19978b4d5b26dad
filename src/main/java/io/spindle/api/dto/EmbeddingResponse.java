package io.spindle.api.dto;

import com.fasterxml.jackson.annotation.JsonProperty;

import java.util.List;

/** OpenAI's embeddings response; {@code embedding} is a float array, or a base64 string of little-endian float32. */
public record EmbeddingResponse(String object, List<Item> data, String model, Usage usage) {
    public record Item(String object, int index, Object embedding) {
        public Item(int index, Object embedding) {
            this("embedding", index, embedding);
        }
    }

    public record Usage(@JsonProperty("prompt_tokens") int promptTokens, @JsonProperty("total_tokens") int totalTokens) {
    }

    public EmbeddingResponse(List<Item> data, String model, Usage usage) {
        this("list", data, model, usage);
    }
}
