package io.spindle.app;

import io.spindle.testing.ServerProcess;
import org.junit.jupiter.api.Test;

import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.WebSocket;
import java.net.http.WebSocketHandshakeException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * API keys on, on a real server process: every API transport refuses a missing or wrong key with a
 * 401 in its own format and accepts a right one; health, metrics and the playground page stay open;
 * the keys never reach the log. (Every other test runs with authentication off.)
 */
class AuthIT {
    private static final String KEY = "sk-test-7f3a";
    private static final String ORIGIN = "http://app.example";

    @Test
    void everyTransportNeedsAKeyAndProbesDoNot() throws Exception {
        try (ServerProcess server = ServerProcess.start("auth", "spindle.api.keys=other-key," + KEY,
                "quarkus.http.cors.enabled=true", "quarkus.http.cors.origins=" + ORIGIN)) {
            HttpResponse<String> noKey = server.get("/v1/models");
            assertEquals(401, noKey.statusCode());
            assertTrue(noKey.body().contains("\"code\":\"invalid_api_key\""), noKey.body());
            assertEquals("Bearer", noKey.headers().firstValue("WWW-Authenticate").orElse(""));
            assertEquals(200, send(server, "GET", "/v1/models", null, KEY).statusCode());
            assertEquals(401, send(server, "GET", "/v1/models", null, "sk-wrong").statusCode());

            String completion = "{\"model\":\"demo-gpt2\",\"prompt\":\"Hi\",\"max_tokens\":3,\"stream\":true}";
            assertEquals(401, send(server, "POST", "/v1/completions", completion, null).statusCode());
            HttpResponse<String> sse = send(server, "POST", "/v1/completions", completion, KEY);
            assertEquals(200, sse.statusCode());
            assertTrue(sse.body().endsWith("data: [DONE]\n\n"));

            String tgi = "{\"inputs\":\"Hi\",\"parameters\":{\"max_new_tokens\":2}}";
            HttpResponse<String> tgiNoKey = send(server, "POST", "/generate", tgi, null);
            assertEquals(401, tgiNoKey.statusCode());
            assertTrue(tgiNoKey.body().contains("\"error_type\":\"authentication\""), tgiNoKey.body());
            assertEquals(200, send(server, "POST", "/generate_stream", tgi, KEY).statusCode());
            assertEquals(401, send(server, "POST", "/v1/embeddings", "{\"model\":\"all-minilm-l6-v2\",\"input\":\"x\"}",
                    null).statusCode());

            ExecutionException refused = assertThrows(ExecutionException.class, () -> ws(server, "", null));
            WebSocketHandshakeException handshake = assertInstanceOf(WebSocketHandshakeException.class, refused.getCause());
            assertEquals(401, handshake.getResponse().statusCode());
            assertTrue(ws(server, "?api_key=" + KEY, null).contains("\"type\":\"done\""), "key as query parameter");
            assertTrue(ws(server, "", KEY).contains("\"type\":\"done\""), "key as Authorization header");

            // CORS, enabled here for one origin: a browser's preflight needs no key, the answer names the origin.
            HttpResponse<String> preflight = server.http().send(HttpRequest.newBuilder(server.uri("/v1/completions"))
                    .method("OPTIONS", HttpRequest.BodyPublishers.noBody()).header("Origin", ORIGIN)
                    .header("Access-Control-Request-Method", "POST")
                    .header("Access-Control-Request-Headers", "authorization,content-type").build(),
                    HttpResponse.BodyHandlers.ofString());
            assertEquals(200, preflight.statusCode(), preflight.body());
            assertEquals(ORIGIN, preflight.headers().firstValue("Access-Control-Allow-Origin").orElse(""));
            HttpResponse<String> fromOrigin = server.http().send(HttpRequest.newBuilder(server.uri("/v1/models"))
                    .header("Origin", ORIGIN).header("Authorization", "Bearer " + KEY).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertEquals(200, fromOrigin.statusCode());
            assertEquals(ORIGIN, fromOrigin.headers().firstValue("Access-Control-Allow-Origin").orElse(""));
            HttpResponse<String> otherOrigin = server.http().send(HttpRequest.newBuilder(server.uri("/v1/models"))
                    .header("Origin", "http://evil.example").header("Authorization", "Bearer " + KEY).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertTrue(otherOrigin.headers().firstValue("Access-Control-Allow-Origin").isEmpty(),
                    "another origin is not allowed: " + otherOrigin.headers().map());

            assertEquals(200, server.get("/q/health/ready").statusCode());
            assertEquals(200, server.get("/q/metrics").statusCode());
            assertEquals(200, server.get("/").statusCode(), "the playground page loads; it asks for the key");
            String log = server.log();
            assertTrue(log.contains("API-key authentication is on (2 key(s))"), log);
            assertFalse(log.contains(KEY), "keys are never logged");
        }
    }

    private static HttpResponse<String> send(ServerProcess server, String method, String path, String body, String key)
            throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(server.uri(path)).header("Content-Type", "application/json")
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
        if (key != null) {
            b.header("Authorization", "Bearer " + key);
        }
        return server.http().send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    /** Runs one two-token generation over the WebSocket; returns the last frame. */
    private static String ws(ServerProcess server, String query, String key) throws Exception {
        CompletableFuture<String> done = new CompletableFuture<>();
        WebSocket.Builder b = server.http().newWebSocketBuilder();
        if (key != null) {
            b.header("Authorization", "Bearer " + key);
        }
        WebSocket socket = b.buildAsync(URI.create("ws://127.0.0.1:" + server.port() + "/v1/ws" + query),
                new WebSocket.Listener() {
                    @Override
                    public CompletionStage<?> onText(WebSocket ws, CharSequence data, boolean last) {
                        if (data.toString().contains("\"done\"") || data.toString().contains("\"error\"")) {
                            done.complete(data.toString());
                        }
                        ws.request(1);
                        return null;
                    }
                }).get(10, TimeUnit.SECONDS);
        socket.sendText("{\"type\":\"generate\",\"id\":\"a\",\"model\":\"demo-gpt2\",\"prompt\":\"Hi\",\"max_tokens\":2}", true);
        String last = done.get(30, TimeUnit.SECONDS);
        socket.sendClose(WebSocket.NORMAL_CLOSURE, "");
        return last;
    }
}
