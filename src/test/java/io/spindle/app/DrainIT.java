package io.spindle.app;

import io.spindle.testing.ServerProcess;
import org.junit.jupiter.api.Test;

import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * SIGTERM to a real server process: readiness goes DOWN, new requests get 503 with Retry-After, the
 * stream that was running finishes, the ones that cannot finish within the drain timeout end with an
 * explicit error event, and the process exits.
 */
class DrainIT {
    private static final int STREAMS = 16;

    @Test
    void sigtermDrainsThenEndsWhatIsLeftWithAnErrorEventAndExits() throws Exception {
        // One sequence at a time: 16 streams of 500 tokens are ~20 s of work on the tiny model, so the
        // running one finishes well within a 6 s drain and the queued ones cannot.
        try (ServerProcess server = ServerProcess.start("drain", "spindle.shutdown.drain-timeout=6s",
                "spindle.engine.max-batch-size=1")) {
            List<CompletableFuture<HttpResponse<String>>> streams = new ArrayList<>();
            for (int i = 0; i < STREAMS; i++) {
                streams.add(server.http().sendAsync(server.postRequest("/v1/completions",
                        "{\"model\":\"demo-gpt2\",\"prompt\":\"Hello\",\"max_tokens\":500,\"ignore_eos\":true,"
                                + "\"stream\":true}"), HttpResponse.BodyHandlers.ofString()));
            }
            awaitMetric(server, "spindle_requests_waiting{model=\"demo-gpt2\"} " + (STREAMS - 1) + ".0");

            long signalled = System.nanoTime();
            server.process().destroy(); // SIGTERM

            awaitStatus(server, "/q/health/ready", 503);
            assertTrue(server.get("/q/health/ready").body().contains("draining"));
            assertEquals(200, server.get("/q/health/live").statusCode(), "draining is not dead");
            HttpResponse<String> refused = server.post("/v1/completions",
                    "{\"model\":\"demo-gpt2\",\"prompt\":\"Hello\",\"max_tokens\":5}");
            assertEquals(503, refused.statusCode());
            assertTrue(refused.headers().firstValue("Retry-After").isPresent(), "503 says when to retry");
            assertTrue(refused.body().contains("\"type\":\"unavailable_error\""), refused.body());

            assertTrue(server.process().waitFor(60, TimeUnit.SECONDS), "the server exits after draining");
            double seconds = (System.nanoTime() - signalled) / 1e9;
            assertEquals(143, server.process().exitValue(), "exit status of a SIGTERM'd process");
            assertTrue(seconds >= 6, "the server waited for the drain timeout, exited after " + seconds + " s");

            int finished = 0;
            int aborted = 0;
            for (CompletableFuture<HttpResponse<String>> f : streams) {
                HttpResponse<String> r = f.get(10, TimeUnit.SECONDS);
                assertEquals(200, r.statusCode());
                String body = r.body();
                assertTrue(body.endsWith("data: [DONE]\n\n"), "every stream ends explicitly:\n" + tail(body));
                if (body.contains("\"finish_reason\":\"length\"")) {
                    finished++;
                } else {
                    assertTrue(body.contains("\"type\":\"unavailable_error\"") && body.contains("drain timeout"),
                            "a stream cut by the drain timeout ends with an error event:\n" + tail(body));
                    aborted++;
                }
            }
            assertTrue(finished >= 1, "the stream running at SIGTERM finished during the drain");
            assertTrue(aborted >= 1, "streams left at the drain timeout were ended with an error");
            String log = server.log();
            assertTrue(log.contains("draining: readiness is DOWN"), log);
            assertTrue(log.contains("drain complete"), log);
        }
    }

    private static String tail(String s) {
        return s.substring(Math.max(0, s.length() - 400));
    }

    private static void awaitMetric(ServerProcess server, String line) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (System.nanoTime() < deadline) {
            String scrape = server.http().send(java.net.http.HttpRequest.newBuilder(server.uri("/q/metrics"))
                    .header("Accept", "text/plain; version=0.0.4").build(), HttpResponse.BodyHandlers.ofString()).body();
            if (scrape.replace(",}", "}").contains(line)) {
                return;
            }
            Thread.sleep(20);
        }
        throw new AssertionError("metric never read: " + line);
    }

    private static void awaitStatus(ServerProcess server, String path, int status) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (server.get(path).statusCode() != status) {
            assertTrue(System.nanoTime() < deadline, path + " never answered " + status);
            Thread.sleep(20);
        }
    }
}
