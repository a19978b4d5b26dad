package io.spindle.api.dto;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;

/** Server → client frames of the {@code /v1/ws} protocol (docs/api.md). */
public final class WsMessages {
    private WsMessages() {
    }

    /** {@code logprob} only when the generate message asked for {@code "logprobs": true}. */
    public record Token(String type, String id, int index, String text, @JsonProperty("token_id") int tokenId,
                        @JsonInclude(JsonInclude.Include.NON_NULL) Float logprob) {
        public Token(String id, int index, String text, int tokenId, float logprob) {
            this("token", id, index, text, tokenId, Float.isNaN(logprob) ? null : logprob);
        }
    }

    public record Done(String type, String id, @JsonProperty("finish_reason") String finishReason,
                       OpenAiUsage usage, Timings timings) {
        public Done(String id, String finishReason, OpenAiUsage usage, Timings timings) {
            this("done", id, finishReason, usage, timings);
        }
    }

    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record Error(String type, String id, Body error) {
        public Error(String id, Body error) {
            this("error", id, error);
        }
    }

    public record Body(String message, String type) {
    }
}
