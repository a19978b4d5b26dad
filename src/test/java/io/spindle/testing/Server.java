package io.spindle.testing;

import io.restassured.RestAssured;
import io.spindle.app.ModelBootstrap;
import io.spindle.engine.EngineStats;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/** Helpers for tests against the running server. */
public final class Server {
    public static final String MODEL = "demo-gpt2";
    public static final String ORT_MODEL = "demo-gpt2-ort-gpt2";
    private static final Path VALIDATOR = Path.of("..", "shared", "conformance", "openai", "validate.py");

    private Server() {
    }

    /** Waits until readiness is UP (models loaded and warmed up). */
    public static void awaitReady() {
        long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(3);
        while (System.nanoTime() < deadline) {
            if (RestAssured.get("/q/health/ready").statusCode() == 200) {
                return;
            }
            sleep(100);
        }
        fail("server did not become ready: " + RestAssured.get("/q/health/ready").asString());
    }

    /** Polls until the condition holds, failing after {@code millis}. */
    public static void eventually(String what, long millis, BooleanSupplier condition) {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(millis);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                fail("timed out waiting for: " + what);
            }
            sleep(10);
        }
    }

    /** Waits until the model's engine holds no sequence, no reservation and no cache. */
    public static EngineStats awaitIdle(ModelBootstrap bootstrap, String model) {
        eventually(model + " idle", 10_000, () -> {
            EngineStats s = bootstrap.engineStats().get(model);
            return s.numRunning() == 0 && s.numWaiting() == 0 && s.kvUsedTokens() == 0 && s.numCachedSequences() == 0;
        });
        return bootstrap.engineStats().get(model);
    }

    /** The {@code data:} payloads of an SSE body, in order. */
    public static List<String> sseData(String body) {
        List<String> out = new ArrayList<>();
        for (String event : body.split("\n\n")) {
            for (String line : event.split("\n")) {
                if (line.startsWith("data: ")) {
                    out.add(line.substring(6));
                }
            }
        }
        return out;
    }

    /**
     * Checks a body against OpenAI's published schema with ../shared's validator. Returns false (and
     * says so) when the checker is not there, as on a clone without ../shared.
     */
    public static boolean conformsToOpenAi(String schema, String body, boolean sse) {
        if (!Files.isRegularFile(VALIDATOR)) {
            System.out.println("SKIP conformance check " + schema + ": " + VALIDATOR + " not found");
            return false;
        }
        try {
            List<String> cmd = new ArrayList<>(List.of("python3", VALIDATOR.toString()));
            if (sse) {
                cmd.add("--sse");
            }
            cmd.add(schema);
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
            p.getOutputStream().write(body.getBytes(StandardCharsets.UTF_8));
            p.getOutputStream().close();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertTrue(p.waitFor(60, TimeUnit.SECONDS), "validator hung");
            assertTrue(p.exitValue() == 0, schema + " conformance failed: " + out + "\nbody: " + body);
            return true;
        } catch (IOException e) {
            fail("cannot run the conformance validator: " + e);
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            fail("interrupted");
            return false;
        }
    }

    /** Sends a raw HTTP/1.1 POST and returns the open socket, so a test controls when the client goes away. */
    public static java.net.Socket rawPost(int port, String path, String json) throws IOException {
        java.net.Socket s = new java.net.Socket("localhost", port);
        byte[] body = json.getBytes(StandardCharsets.UTF_8);
        java.io.OutputStream out = s.getOutputStream();
        out.write(("POST " + path + " HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: "
                + body.length + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
        out.write(body);
        out.flush();
        return s;
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
