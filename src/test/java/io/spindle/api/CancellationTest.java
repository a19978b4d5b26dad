package io.spindle.api;

import io.spindle.testing.WsClient;

import io.quarkus.test.junit.QuarkusTest;
import io.restassured.RestAssured;
import io.spindle.app.ModelBootstrap;
import io.spindle.engine.EngineStats;
import io.spindle.testing.Server;
import jakarta.inject.Inject;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.InputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A client that goes away stops its sequence at the next step and frees its cache. */
@QuarkusTest
class CancellationTest {
    @Inject
    ModelBootstrap bootstrap;

    @BeforeEach
    void ready() {
        Server.awaitReady();
        Server.awaitIdle(bootstrap, Server.MODEL);
    }

    private static Socket send(String path, String json) throws Exception {
        return Server.rawPost(RestAssured.port, path, json);
    }

    static String readUntil(InputStream in, String marker, int count) throws Exception {
        StringBuilder sb = new StringBuilder();
        byte[] buf = new byte[4096];
        while (countOf(sb, marker) < count) {
            int n = in.read(buf);
            if (n < 0) {
                break;
            }
            sb.append(new String(buf, 0, n, StandardCharsets.UTF_8));
        }
        return sb.toString();
    }

    private static int countOf(CharSequence s, String marker) {
        int n = 0;
        for (int i = s.toString().indexOf(marker); i >= 0; i = s.toString().indexOf(marker, i + 1)) {
            n++;
        }
        return n;
    }

    @Test
    void anSseClientDisconnectStopsTheSequence() throws Exception {
        long before = bootstrap.engineStats().get(Server.MODEL).numSteps();
        try (Socket s = send("/v1/completions", "{\"model\":\"demo-gpt2\",\"prompt\":\"Hello\",\"max_tokens\":500,"
                + "\"ignore_eos\":true,\"stream\":true}")) {
            String head = readUntil(s.getInputStream(), "data: ", 3);
            assertTrue(head.contains("text/event-stream"), head);
            assertEquals(1, bootstrap.engineStats().get(Server.MODEL).numRunning(), "still generating when the client leaves");
        }
        EngineStats idle = Server.awaitIdle(bootstrap, Server.MODEL);
        long steps = idle.numSteps() - before;
        assertTrue(steps < 500, "the sequence stopped early: " + steps + " steps");
        Thread.sleep(200);
        assertEquals(idle.numSteps(), bootstrap.engineStats().get(Server.MODEL).numSteps(), "no step after the disconnect");
    }

    /** A constrained row leaves the batch like any other: no step after the disconnect, its cache freed. */
    @Test
    void aConstrainedStreamThatIsCancelledStops() throws Exception {
        long before = bootstrap.engineStats().get(Server.MODEL).numSteps();
        try (Socket s = send("/v1/chat/completions", "{\"model\":\"demo-gpt2\",\"messages\":[{\"role\":\"user\","
                + "\"content\":\"List.\"}],\"max_tokens\":400,\"stream\":true,\"temperature\":1,\"seed\":1,"
                + "\"guided_regex\":\"([a-z]+ ){400}\"}")) {
            String head = readUntil(s.getInputStream(), "data: ", 4);
            assertTrue(head.contains("text/event-stream"), head);
            assertEquals(1, bootstrap.engineStats().get(Server.MODEL).numRunning(), "still generating when the client leaves");
        }
        EngineStats idle = Server.awaitIdle(bootstrap, Server.MODEL);
        long steps = idle.numSteps() - before;
        assertTrue(steps < 400, "the sequence stopped early: " + steps + " steps");
        Thread.sleep(200);
        assertEquals(idle.numSteps(), bootstrap.engineStats().get(Server.MODEL).numSteps(), "no step after the disconnect");
    }

    @Test
    void aNonStreamingClientThatGoesAwayStopsTheSequence() throws Exception {
        long before = bootstrap.engineStats().get(Server.MODEL).numSteps();
        try (Socket s = send("/v1/completions", "{\"model\":\"demo-gpt2\",\"prompt\":\"Hello\",\"max_tokens\":500,\"ignore_eos\":true}")) {
            Server.eventually("the request is running", 5000,
                    () -> bootstrap.engineStats().get(Server.MODEL).numSteps() > before + 3);
        }
        EngineStats idle = Server.awaitIdle(bootstrap, Server.MODEL);
        assertTrue(idle.numSteps() - before < 500, "stopped after " + (idle.numSteps() - before) + " steps");
    }

    /** Fills the batch (test profile: max-batch-size 8) with long streams, so the next request waits in the queue. */
    private java.util.List<Socket> fillTheBatch() throws Exception {
        java.util.List<Socket> blockers = new java.util.ArrayList<>();
        for (int i = 0; i < 8; i++) {
            blockers.add(send("/v1/completions", "{\"model\":\"demo-gpt2\",\"prompt\":\"Hello\",\"max_tokens\":500,"
                    + "\"ignore_eos\":true,\"stream\":true}"));
        }
        Server.eventually("8 running", 5000, () -> bootstrap.engineStats().get(Server.MODEL).numRunning() == 8);
        return blockers;
    }

    @Test
    void aQueuedSseClientGetsKeepAlivesUntilItsFirstToken() throws Exception {
        java.util.List<Socket> blockers = fillTheBatch();
        try {
            try (Socket s = send("/v1/completions", "{\"model\":\"demo-gpt2\",\"prompt\":\"Hi\",\"max_tokens\":3,\"stream\":true}")) {
                String body = readUntil(s.getInputStream(), "data: [DONE]", 1);
                int keepAlive = body.indexOf(": keep-alive\n\n");
                assertTrue(keepAlive > 0, "a comment keep-alive while queued: " + body);
                assertTrue(keepAlive < body.indexOf("data: {"), "keep-alives come before the first token");
                assertTrue(body.contains("X-Accel-Buffering: no"), body);
            }
        } finally {
            for (Socket b : blockers) {
                b.close();
            }
        }
        Server.awaitIdle(bootstrap, Server.MODEL);
    }

    @Test
    void queuedClientsCanLeaveOrCancelBeforeTheyStart() throws Exception {
        java.util.List<Socket> blockers = fillTheBatch();
        try {
            try (Socket queued = send("/v1/completions", "{\"model\":\"demo-gpt2\",\"prompt\":\"Hi\",\"max_tokens\":3,\"stream\":true}")) {
                readUntil(queued.getInputStream(), ": keep-alive", 1);
                assertEquals(1, bootstrap.engineStats().get(Server.MODEL).numWaiting());
            }
            Server.eventually("the SSE client that left is out of the queue", 5000,
                    () -> bootstrap.engineStats().get(Server.MODEL).numWaiting() == 0);
            try (WsClient ws = new WsClient(RestAssured.port)) {
                ws.send("{\"type\":\"generate\",\"id\":\"q\",\"model\":\"demo-gpt2\",\"prompt\":\"Hi\",\"max_tokens\":3}");
                Server.eventually("the socket's request is queued", 5000,
                        () -> bootstrap.engineStats().get(Server.MODEL).numWaiting() == 1);
                ws.send("{\"type\":\"cancel\",\"id\":\"q\"}");
                var done = ws.await("done", f -> "done".equals(f.getString("type")));
                assertEquals("cancelled", done.getString("finish_reason"));
                assertEquals(0, done.getInt("usage.completion_tokens"));
            }
            assertEquals(8, bootstrap.engineStats().get(Server.MODEL).numRunning(), "the running streams were not disturbed");
        } finally {
            for (Socket b : blockers) {
                b.close();
            }
        }
        Server.awaitIdle(bootstrap, Server.MODEL);
    }

    @Test
    void aTgiStreamDisconnectStopsTheSequence() throws Exception {
        long before = bootstrap.engineStats().get(Server.MODEL).numSteps();
        try (Socket s = send("/generate_stream", "{\"inputs\":\"Hello\",\"parameters\":{\"max_new_tokens\":500}}")) {
            readUntil(s.getInputStream(), "data: ", 2);
        }
        EngineStats idle = Server.awaitIdle(bootstrap, Server.MODEL);
        assertTrue(idle.numSteps() - before < 500);
    }
}
