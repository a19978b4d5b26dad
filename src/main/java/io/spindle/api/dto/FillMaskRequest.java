package io.spindle.api.dto;

import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.databind.JsonNode;

/**
 * {@code POST /v1/fill-mask}, shaped like the Hugging Face inference "fill-mask" task:
 * {@code inputs} is a string or a list of strings, each with the model's mask token;
 * {@code parameters.top_k} (default 5) candidates per mask. {@code model} names the served model.
 */
public record FillMaskRequest(String model, JsonNode inputs, Parameters parameters) {
    public record Parameters(@JsonProperty("top_k") Integer topK) {
    }
}
