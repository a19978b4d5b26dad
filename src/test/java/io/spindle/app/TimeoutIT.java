package io.spindle.app;

import io.spindle.testing.ServerProcess;
import org.junit.jupiter.api.Test;

import java.net.http.HttpResponse;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Per-request deadlines on real servers: a stream that runs past spindle.api.request-timeout ends
 * with an explicit timeout error event, and a non-streaming request gets 504; a request that waits
 * too long for a token (here: queued behind another) ends the same way under spindle.api.idle-timeout;
 * the engine frees them all.
 */
class TimeoutIT {
    /** About 0.5 s or more of work on the tiny model: longer than the deadlines below. */
    private static final String LONG = "{\"model\":\"demo-gpt2\",\"prompt\":\"Hi\",\"max_tokens\":500,\"ignore_eos\":true";

    @Test
    void aStreamPastItsDeadlineEndsWithATimeoutEvent() throws Exception {
        try (ServerProcess server = ServerProcess.start("timeout-total", "spindle.api.request-timeout=200ms")) {
            String a = server.post("/v1/completions", LONG + ",\"stream\":true}").body();
            assertTrue(a.contains("\"text\""), "tokens streamed before the deadline");
            assertTrue(a.contains("\"type\":\"timeout_error\"") && a.contains("spindle.api.request-timeout"), tail(a));
            assertTrue(a.endsWith("data: [DONE]\n\n"), tail(a));
            HttpResponse<String> whole = server.post("/v1/completions", LONG + "}");
            assertEquals(504, whole.statusCode());
            assertTrue(whole.body().contains("\"type\":\"timeout_error\""), whole.body());
            assertEquals(200, server.post("/v1/completions",
                    "{\"model\":\"demo-gpt2\",\"prompt\":\"Hi\",\"max_tokens\":3}").statusCode(), "short requests are served");
            assertIdle(server);
        }
    }

    @Test
    void aRequestWaitingTooLongForATokenEndsWithATimeoutEvent() throws Exception {
        // One sequence at a time: the second stream waits in the queue, which counts as waiting for a token.
        try (ServerProcess server = ServerProcess.start("timeout-idle", "spindle.api.idle-timeout=100ms",
                "spindle.engine.max-batch-size=1")) {
            CompletableFuture<HttpResponse<String>> running = server.http().sendAsync(
                    server.postRequest("/v1/completions", LONG + ",\"stream\":true}"), HttpResponse.BodyHandlers.ofString());
            long admitted = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (!server.get("/q/health/live").body().contains("running 1") && System.nanoTime() < admitted) {
                Thread.sleep(2);
            }
            String b = server.post("/v1/completions", LONG + ",\"stream\":true}").body();
            assertTrue(b.contains("\"type\":\"timeout_error\"") && b.contains("spindle.api.idle-timeout"), tail(b));
            assertTrue(b.endsWith("data: [DONE]\n\n"), tail(b));
            String a = running.get(30, TimeUnit.SECONDS).body();
            assertTrue(a.contains("\"finish_reason\":\"length\"") && a.endsWith("data: [DONE]\n\n"),
                    "the running stream, whose tokens kept coming, was not idle: " + tail(a));
            assertIdle(server);
        }
    }

    private static void assertIdle(ServerProcess server) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        String live;
        do {
            live = server.get("/q/health/live").body();
            Thread.sleep(50);
        } while (!live.contains("running 0, waiting 0") && System.nanoTime() < deadline);
        assertTrue(live.contains("running 0, waiting 0"), "the engine freed the expired sequences: " + live);
    }

    private static String tail(String s) {
        return s.substring(Math.max(0, s.length() - 400));
    }
}
