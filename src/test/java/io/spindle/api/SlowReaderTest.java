package io.spindle.api;

import io.quarkus.test.junit.QuarkusTest;
import io.smallrye.mutiny.helpers.test.AssertSubscriber;
import io.spindle.app.ModelBootstrap;
import io.spindle.generation.Generation;
import io.spindle.generation.GenerationEvent;
import io.spindle.generation.GenerationRequest;
import io.spindle.generation.GenerationService;
import io.spindle.generation.Prompt;
import io.spindle.generation.Transport;
import io.spindle.testing.Scrape;
import io.spindle.testing.Server;
import jakarta.inject.Inject;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.util.concurrent.atomic.AtomicBoolean;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A client that stops taking events (a transport takes the next only once the previous is written,
 * so a full socket stops it) is dropped once {@code spindle.api.max-buffered-events} (64 in tests)
 * pile up: its sequence leaves the engine and the transport's drop action runs, while the stream
 * of a client that reads goes on.
 */
@QuarkusTest
class SlowReaderTest {
    @Inject
    ModelBootstrap bootstrap;
    @Inject
    GenerationService service;

    @BeforeEach
    void ready() {
        Server.awaitReady();
        Server.awaitIdle(bootstrap, Server.MODEL);
    }

    private static GenerationRequest request(int maxTokens) {
        return new GenerationRequest(Server.MODEL, new Prompt.Text("Hello"), maxTokens, null, null, null, null, null, null,
                null, null, null, true, false, null);
    }

    private static double cancelled(String... moreLabels) {
        String[] labels = java.util.stream.Stream.concat(java.util.stream.Stream.of("outcome", "cancelled"),
                java.util.Arrays.stream(moreLabels)).toArray(String[]::new);
        return requests(labels);
    }

    private static double requests(String... labels) {
        String text = io.restassured.RestAssured.given().accept("text/plain").get("/q/metrics").asString();
        String[] all = java.util.stream.Stream.concat(java.util.stream.Stream.of("model", Server.MODEL),
                java.util.Arrays.stream(labels)).toArray(String[]::new);
        return new Scrape(text).find("spindle_requests_total", all).stream().mapToDouble(Scrape.Series::value).sum();
    }

    @Test
    void aClientThatStopsReadingIsDroppedAndItsSequenceCancelled() {
        double cancelledBefore = cancelled();
        Generation slow = service.start(request(400), Transport.SSE);
        AtomicBoolean dropped = new AtomicBoolean();
        slow.onSlowReader(() -> dropped.set(true));
        AssertSubscriber<GenerationEvent> stalled = slow.events().subscribe().withSubscriber(AssertSubscriber.create(1));

        Generation reader = service.start(request(120), Transport.SSE);
        AssertSubscriber<GenerationEvent> reading = reader.events().subscribe().withSubscriber(AssertSubscriber.create(Long.MAX_VALUE));

        Server.eventually("the slow reader dropped", 20_000, dropped::get);
        Server.awaitIdle(bootstrap, Server.MODEL);
        assertEquals(1, stalled.getItems().size(), "it took one event and no more");
        reading.awaitCompletion();
        assertTrue(reading.getItems().getLast() instanceof GenerationEvent.Done d && d.usage().completionTokens() == 120,
                "the reading client's stream went on to its end");
        assertEquals(cancelledBefore + 1, cancelled(), "counted as cancelled");
    }

    /** A raw client socket with a small receive buffer, so that a client that stops reading fills it soon. */
    private static java.net.Socket smallSocket() throws Exception {
        java.net.Socket socket = new java.net.Socket();
        socket.setReceiveBufferSize(4096);
        socket.connect(new java.net.InetSocketAddress("localhost", io.restassured.RestAssured.port));
        return socket;
    }

    /**
     * End to end over SSE: a client that sends a request and never reads. Once the socket's buffers
     * are full (the server's send buffer is 16K in tests) the stream stops taking events, and the
     * server drops the connection and cancels the sequence long before its 500 tokens.
     */
    @Test
    void anSseClientThatNeverReadsIsDropped() throws Exception {
        double before = cancelled("transport", "sse");
        double endedBefore = requests("transport", "sse");
        try (java.net.Socket socket = smallSocket()) {
            byte[] body = ("{\"model\":\"" + Server.MODEL + "\",\"prompt\":\"Hello\",\"max_tokens\":500,\"ignore_eos\":true,"
                    + "\"stream\":true,\"logprobs\":0}").getBytes(java.nio.charset.StandardCharsets.UTF_8);
            socket.getOutputStream().write(("POST /v1/completions HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                    + "Content-Length: " + body.length + "\r\n\r\n").getBytes(java.nio.charset.StandardCharsets.US_ASCII));
            socket.getOutputStream().write(body);
            socket.getOutputStream().flush();
            Server.eventually("the stream ended", 60_000, () -> requests("transport", "sse") - endedBefore == 1);
            assertEquals(1, cancelled("transport", "sse") - before, "dropped as a slow reader, not run to its end");
            Server.awaitIdle(bootstrap, Server.MODEL);
        }
    }

    /**
     * End to end over a WebSocket (a raw one, since java.net.http's client buffers on its own): eight
     * long generations on a socket whose client never reads. The server closes the socket, and every
     * generation on it is cancelled.
     */
    @Test
    void aWebSocketClientThatNeverReadsLosesTheSocket() throws Exception {
        double before = cancelled("transport", "ws");
        double endedBefore = requests("transport", "ws");
        try (java.net.Socket socket = smallSocket()) {
            var out = socket.getOutputStream();
            out.write(("GET /v1/ws HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                    + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
                    .getBytes(java.nio.charset.StandardCharsets.US_ASCII));
            out.flush();
            String head = CancellationTest.readUntil(socket.getInputStream(), "\r\n\r\n", 1);
            assertTrue(head.startsWith("HTTP/1.1 101"), head);
            for (int i = 0; i < 8; i++) {
                out.write(maskedTextFrame("{\"type\":\"generate\",\"id\":\"g" + i + "\",\"model\":\"" + Server.MODEL
                        + "\",\"prompt\":\"Hello\",\"max_tokens\":500,\"ignore_eos\":true,\"logprobs\":true}"));
            }
            out.flush();
            Server.eventually("the 8 generations ended", 60_000, () -> requests("transport", "ws") - endedBefore == 8);
            assertEquals(8, cancelled("transport", "ws") - before, "every generation on the dropped socket was cancelled");
            Server.awaitIdle(bootstrap, Server.MODEL);
        }
    }

    /** A client-to-server text frame (RFC 6455: clients mask; an all-zero key leaves the payload as it is). */
    private static byte[] maskedTextFrame(String text) {
        byte[] payload = text.getBytes(java.nio.charset.StandardCharsets.UTF_8);
        java.io.ByteArrayOutputStream frame = new java.io.ByteArrayOutputStream();
        frame.write(0x81);
        if (payload.length < 126) {
            frame.write(0x80 | payload.length);
        } else {
            frame.write(0x80 | 126);
            frame.write(payload.length >>> 8);
            frame.write(payload.length & 0xFF);
        }
        frame.writeBytes(new byte[4]);
        frame.writeBytes(payload);
        return frame.toByteArray();
    }
}
