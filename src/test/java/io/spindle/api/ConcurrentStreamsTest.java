package io.spindle.api;

import io.quarkus.test.junit.QuarkusTest;
import io.restassured.RestAssured;
import io.restassured.path.json.JsonPath;
import io.spindle.app.ModelBootstrap;
import io.spindle.engine.EngineStats;
import io.spindle.testing.Server;
import jakarta.inject.Inject;
import org.junit.jupiter.api.Test;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** 64 concurrent streaming clients all get complete streams, and the process does not grow round after round. */
@QuarkusTest
class ConcurrentStreamsTest {
    private static final int CLIENTS = 64;
    private static final int TOKENS = 24;

    @Inject
    ModelBootstrap bootstrap;

    @Inject
    io.spindle.app.Producers producers;

    @Test
    void sixtyFourConcurrentStreamsCompleteAndLeaveNothingBehind() throws Exception {
        Server.awaitReady();
        HttpClient http = HttpClient.newHttpClient();
        round(http);
        long afterWarmUp = rssKb();
        round(http);
        round(http);
        EngineStats idle = Server.awaitIdle(bootstrap, Server.MODEL);
        long after = rssKb();
        System.out.printf("RSS after a warm-up round of %d streams: %d kB; after two more rounds: %d kB%n", CLIENTS,
                afterWarmUp, after);
        assertEquals(0, idle.numCachedSequences());
        assertEquals(0, idle.kvUsedTokens());
        Server.eventually("no keep-alive timer left", 2000, () -> producers.pendingKeepAlives() == 0);
        assertTrue(after < afterWarmUp * 1.15, "RSS grew from " + afterWarmUp + " kB to " + after + " kB");
    }

    private void round(HttpClient http) throws Exception {
        try (var pool = Executors.newVirtualThreadPerTaskExecutor()) {
            List<Future<List<String>>> streams = new ArrayList<>();
            for (int i = 0; i < CLIENTS; i++) {
                String body = "{\"model\":\"demo-gpt2\",\"prompt\":\"Client " + i + " says\",\"max_tokens\":" + TOKENS
                        + ",\"ignore_eos\":true,\"stream\":true}";
                HttpRequest req = HttpRequest.newBuilder(URI.create("http://localhost:" + RestAssured.port + "/v1/completions"))
                        .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body)).build();
                streams.add(pool.submit(() -> {
                    HttpResponse<String> r = http.send(req, HttpResponse.BodyHandlers.ofString());
                    assertEquals(200, r.statusCode(), r.body());
                    return Server.sseData(r.body());
                }));
            }
            for (Future<List<String>> f : streams) {
                List<String> data = f.get();
                assertEquals("[DONE]", data.getLast());
                assertEquals(TOKENS + 1, data.size(), "one chunk per token, then [DONE]");
                assertEquals("length", JsonPath.from(data.get(TOKENS - 1)).getString("choices[0].finish_reason"));
            }
        }
    }

    private static long rssKb() throws Exception {
        System.gc();
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith("VmRSS:")) {
                return Long.parseLong(line.replaceAll("\\D", ""));
            }
        }
        throw new IllegalStateException("no VmRSS in /proc/self/status");
    }
}
