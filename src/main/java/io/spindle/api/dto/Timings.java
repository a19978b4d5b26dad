package io.spindle.api.dto;

import com.fasterxml.jackson.annotation.JsonProperty;

/** Spindle's per-request timings, an extension field clients may ignore. */
public record Timings(@JsonProperty("queue_ms") double queueMs,
                      @JsonProperty("time_to_first_token_ms") double timeToFirstTokenMs,
                      @JsonProperty("total_ms") double totalMs,
                      @JsonProperty("decode_tokens_per_second") double decodeTokensPerSecond,
                      @JsonProperty("cached_prompt_tokens") int cachedPromptTokens) {
}
