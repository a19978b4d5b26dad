package io.spindle.api.dto;

import com.fasterxml.jackson.annotation.JsonProperty;

/** OpenAI {@code stream_options}: a final chunk with usage when {@code include_usage}. */
public record StreamOptions(@JsonProperty("include_usage") Boolean includeUsage) {
}
