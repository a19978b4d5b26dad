package io.spindle.api.dto;

import com.fasterxml.jackson.annotation.JsonProperty;

import java.util.List;

/** OpenAI model list; each model carries Spindle's metadata under {@code spindle}. */
public record ModelList(String object, List<ModelEntry> data) {

    public record ModelEntry(String id, String object, long created, @JsonProperty("owned_by") String ownedBy,
                             @JsonProperty("max_model_len") int maxModelLen, SpindleInfo spindle) {
    }

    /**
     * @param randomWeights true for demo models: their text is random, not language
     * @param endpoints     the routes this model serves, so that front ends list an embeddings model
     *                      under embeddings and not as a chat model
     */
    public record SpindleInfo(String family, List<String> tasks, String layout,
                              @JsonProperty("random_weights") boolean randomWeights,
                              @JsonProperty("chat_template") String chatTemplate,
                              @JsonProperty("execution_provider") String executionProvider,
                              List<String> endpoints,
                              @JsonProperty("kv_cache") @com.fasterxml.jackson.annotation.JsonInclude(
                                      com.fasterxml.jackson.annotation.JsonInclude.Include.NON_NULL) KvCache kvCache,
                              Weights weights) {
    }

    /**
     * What the served graphs' weights are stored as.
     *
     * @param format   float32, float16, int8, int4, or int4+int8 when both are there
     * @param detail   weight projections counted by how they are stored
     * @param quantize the quantization Spindle applied at load ({@code spindle.models.quantize}), or none
     */
    public record Weights(String format, String detail, String quantize) {
    }

    /**
     * Where a generating model's KV cache lives and its budget.
     *
     * @param location host or device
     * @param budgetBytes the KV-cache budget in that memory (whole tokens)
     * @param dtype the cache's element type, float32 or float16
     */
    public record KvCache(String location, @JsonProperty("budget_bytes") long budgetBytes,
                          @JsonProperty("bytes_per_token") long bytesPerToken, String dtype) {
    }
}
