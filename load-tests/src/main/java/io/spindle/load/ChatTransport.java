package io.spindle.load;

import com.fasterxml.jackson.databind.JsonNode;

import java.net.URI;
import java.net.http.HttpClient;
import java.time.Duration;
import java.util.List;

/**
 * The transports that take a conversation: OpenAI's {@code POST /v1/chat/completions} (SSE) and the
 * WebSocket {@code generate} frame with {@code messages}. Both are rendered by the server with the
 * model's chat template, so one conversation costs the same prompt tokens on either. TGI's
 * {@code /generate_stream} takes only a prompt and is not one of them.
 */
public interface ChatTransport {

    /** One chat message as OpenAI's API spells it. */
    record Message(String role, String content) {
    }

    /**
     * What a chat turn got back.
     *
     * @param result       timings and counts, as for any request
     * @param text         the assistant's text as streamed (deltas concatenated), the next turn's history
     * @param cachedTokens {@code usage.prompt_tokens_details.cached_tokens}, or -1 when the server did not
     *                     report it
     */
    record ChatReply(RequestResult result, String text, int cachedTokens) {
    }

    String name();

    /** Streams one completion of {@code messages}; blocks, never throws (failures are in the result). */
    ChatReply chat(List<Message> messages, int maxTokens);

    static ChatTransport of(String name, URI base, String model, Duration timeout, HttpClient http) {
        return switch (name) {
            case "openai" -> new Transport.OpenAiSse(base, model, timeout, http);
            case "ws" -> new Transport.Ws(base, model, timeout, http);
            default -> throw new IllegalArgumentException("transport '" + name + "' takes no chat messages (openai, ws)");
        };
    }

    /** OpenAI's {@code usage.prompt_tokens_details.cached_tokens}; -1 when absent or not a number. */
    static int cachedTokens(JsonNode usage) {
        JsonNode n = usage == null ? null : usage.path("prompt_tokens_details").path("cached_tokens");
        return n != null && n.isIntegralNumber() ? n.asInt() : -1;
    }
}
