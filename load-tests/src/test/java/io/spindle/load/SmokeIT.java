package io.spindle.load;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The documented command against the packaged server: every transport, closed and open loop; no
 * errors; reports written; the client's counts reconcile with the server's metrics.
 */
class SmokeIT {
    @Test
    void aShortRunOverEveryTransportReconcilesWithTheServer() throws Exception {
        Path serverJar = Path.of(System.getProperty("spindle.server.jar", "../target/quarkus-app/quarkus-run.jar"));
        Path loadJar = Path.of(System.getProperty("spindle.load.jar", "target/spindle-load.jar"));
        assertTrue(Files.isRegularFile(serverJar), "build the server first (./mvnw -B verify): " + serverJar);
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        String java = ProcessHandle.current().info().command().orElse("java");
        Path root = serverJar.toAbsolutePath().getParent().getParent().getParent();
        Process server = new ProcessBuilder(java, "--enable-native-access=ALL-UNNAMED", "-Xmx1g",
                "-Dquarkus.http.port=" + port, "-Dspindle.demo.cache-dir=" + root.resolve("target/test-models"),
                "-Dspindle.models.dir=target/no-models", "-jar", serverJar.toString())
                .redirectErrorStream(true).redirectOutput(Path.of("target", "smoke-server.log").toFile()).start();
        try {
            awaitReady(port, server);
            Path out = Path.of("target", "smoke-report");
            for (String[] args : List.of(
                    new String[] {"--mode", "closed", "--concurrency", "1,3", "--requests", "9"},
                    new String[] {"--mode", "open", "--rate", "20", "--requests", "9"})) {
                List<String> cmd = new java.util.ArrayList<>(List.of(java, "-jar", loadJar.toString(),
                        "--url", "http://127.0.0.1:" + port, "--transport", "openai,tgi,ws", "--output-tokens", "8",
                        "--input-tokens", "16", "--slo", "ttft=60000", "--no-progress", "--fail-on-errors",
                        "--out", out.toString()));
                cmd.addAll(List.of(args));
                Process load = new ProcessBuilder(cmd).redirectErrorStream(true).start();
                String output = new String(load.getInputStream().readAllBytes());
                assertTrue(load.waitFor(5, TimeUnit.MINUTES), "load tool hung");
                assertEquals(0, load.exitValue(), output);

                JsonNode doc = new ObjectMapper().readTree(out.resolve("results.json").toFile());
                for (JsonNode level : doc.get("levels")) {
                    JsonNode c = level.get("client");
                    JsonNode s = level.get("server");
                    assertEquals(9, c.get("succeeded").asInt(), level.toString());
                    assertEquals(0, c.get("failed").asInt());
                    assertEquals(9 * 8, c.get("outputTokens").asInt(), "ignore_eos + max_tokens fix the length");
                    assertEquals(9, s.get("finishedRequests").asDouble(), 0, "server saw the same requests finish");
                    assertEquals(c.get("outputTokens").asDouble(), s.get("generatedTokens").asDouble(), 0);
                    assertTrue(c.get("ttft").get("p50").asDouble() > 0);
                    assertTrue(c.get("itl").get("n").asInt() >= 9 * 7 - 9, "token gaps were timed");
                    assertEquals(c.get("requestsPerSecond").asDouble(), c.get("goodput").asDouble(), 1e-9,
                            "a one-minute TTFT objective is met by every request");
                }
                assertTrue(Files.readString(out.resolve("summary.md")).contains("Server vs. client"));
                assertTrue(Files.readString(out.resolve("report.html")).contains("<svg"));
            }
            chat(java, loadJar, port);
            chaos(java, loadJar, port, server.pid());
        } finally {
            server.destroy();
            if (!server.waitFor(60, TimeUnit.SECONDS)) {
                server.destroyForcibly();
            }
        }
    }

    /**
     * A short chat run, 2 conversations × 2 turns over OpenAI chat SSE and WebSocket: every turn
     * completes, turn 2's prompt holds turn 1's plus its answer and the new user message, and the
     * server's prefix cache supplies turn 1's blocks to turn 2.
     */
    private static void chat(String java, Path loadJar, int port) throws Exception {
        Path out = Path.of("target", "smoke-chat");
        Process load = new ProcessBuilder(java, "-jar", loadJar.toString(), "--url", "http://127.0.0.1:" + port,
                "--scenario", "chat", "--conversations", "2", "--turns", "2", "--system-tokens", "32",
                "--user-tokens", "16", "--output-tokens", "8", "--transport", "openai,ws", "--no-progress",
                "--fail-on-errors", "--out", out.toString()).redirectErrorStream(true).start();
        String output = new String(load.getInputStream().readAllBytes());
        assertTrue(load.waitFor(5, TimeUnit.MINUTES), "chat run hung");
        assertEquals(0, load.exitValue(), output);
        JsonNode doc = new ObjectMapper().readTree(out.resolve("chat.json").toFile());
        JsonNode turns = doc.get("turns");
        assertEquals(4, turns.size(), output);
        for (int c = 0; c < 2; c++) {
            JsonNode first = turns.get(2 * c);
            JsonNode second = turns.get(2 * c + 1);
            assertEquals(1, first.get("turn").asInt());
            assertEquals(2, second.get("turn").asInt());
            for (JsonNode t : List.of(first, second)) {
                assertTrue(t.get("error").isNull(), t.toString());
                assertEquals(8, t.get("outputTokens").asInt(), "ignore_eos + max_tokens fix the length");
                assertTrue(t.get("ttftMs").asDouble() > 0);
                int cached = t.get("cachedTokens").asInt();
                // The server reports prompt_tokens_details.cached_tokens: whole 16-token blocks, never the whole prompt.
                assertTrue(cached >= 0 && cached % 16 == 0 && cached < t.get("promptTokens").asInt(), t.toString());
            }
            // Turn 2 re-sends turn 1 (a 32-token system prompt and more): the prefix cache supplies its blocks.
            assertTrue(second.get("cachedTokens").asInt() >= 32, "turn 2 reuses turn 1's prompt: " + second);
            assertTrue(second.get("promptTokens").asInt() >= first.get("promptTokens").asInt() + 16 + 8,
                    "turn 2 carries turn 1's messages, its answer and a new user message: " + first + " " + second);
        }
        assertEquals(2, doc.get("table").get("perTurn").get(1).get("ok").asInt());
        assertTrue(Files.readString(out.resolve("chat.md")).contains("| 2–2 |"));
    }

    /** A short chaos run: every stream ends explicitly, no 5xx, nothing left in the engine, memory back. */
    private static void chaos(String java, Path loadJar, int port, long pid) throws Exception {
        Path out = Path.of("target", "smoke-chaos");
        Process load = new ProcessBuilder(java, "-jar", loadJar.toString(), "--url", "http://127.0.0.1:" + port,
                "--scenario", "chaos", "--requests", "300", "--rate", "60", "--time-limit", "120s",
                "--server-pid", String.valueOf(pid), "--out", out.toString()).redirectErrorStream(true).start();
        String output = new String(load.getInputStream().readAllBytes());
        assertTrue(load.waitFor(5, TimeUnit.MINUTES), "chaos run hung");
        assertEquals(0, load.exitValue(), output);
        JsonNode r = new ObjectMapper().readTree(out.resolve("chaos.json").toFile());
        assertEquals(300, r.get("requests").asInt());
        assertEquals(0, r.get("streams_without_final_event").asInt(), output);
        assertEquals(0, r.get("server_errors_total").asInt(), output);
        assertEquals(0, r.get("sequences_in_engine_after").asDouble(), 0, output);
        assertEquals(0, r.get("memory").get("runner_allocated_after_bytes").asDouble(), 0, "the runner holds nothing idle");
        JsonNode kinds = r.get("outcomes_by_kind");
        assertTrue(kinds.has("hostile") && kinds.get("hostile").has("rejected_4xx"), "hostile input was rejected: " + kinds);
        assertTrue(kinds.has("disconnect") && kinds.get("disconnect").has("disconnected"), "clients went away: " + kinds);
        assertTrue(r.get("cancellation_latency_ms").get("count").asDouble() > 0, "cancellations were timed by the server");
        assertTrue(r.get("passed").asBoolean(), output);
    }

    private static void awaitReady(int port, Process server) throws Exception {
        HttpClient http = HttpClient.newHttpClient();
        long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(3);
        while (System.nanoTime() < deadline) {
            if (!server.isAlive()) {
                fail("server exited: " + Files.readString(Path.of("target", "smoke-server.log")));
            }
            try {
                if (http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/q/health/ready")).build(),
                        HttpResponse.BodyHandlers.discarding()).statusCode() == 200) {
                    return;
                }
            } catch (IOException notYet) {
                // not listening yet
            }
            Thread.sleep(200);
        }
        fail("server not ready");
    }
}
