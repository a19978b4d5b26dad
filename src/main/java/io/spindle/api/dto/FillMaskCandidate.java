package io.spindle.api.dto;

import com.fasterxml.jackson.annotation.JsonProperty;

/** One fill-mask proposal, as the Hugging Face inference API writes it. */
public record FillMaskCandidate(double score, int token, @JsonProperty("token_str") String tokenStr, String sequence) {
}
