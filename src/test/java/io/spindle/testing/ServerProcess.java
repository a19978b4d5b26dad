package io.spindle.testing;

import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The packaged server ({@code target/quarkus-app/quarkus-run.jar}) started as its own process, on a
 * free port with the test models, for tests that need real signals and a real exit.
 */
public final class ServerProcess implements AutoCloseable {
    private final Process process;
    private final int port;
    private final Path log;
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    private ServerProcess(Process process, int port, Path log) {
        this.process = process;
        this.port = port;
        this.log = log;
    }

    /** Starts the server with extra {@code -Dkey=value} options and waits until it is ready. */
    public static ServerProcess start(String name, String... systemProperties) throws Exception {
        ServerProcess server = launch(name, systemProperties);
        server.awaitReady();
        return server;
    }

    /**
     * Starts the server and waits only until its loading is over: readiness is UP, or DOWN with
     * state {@code failed} (for tests of the readiness policy).
     */
    public static ServerProcess startSettled(String name, String... systemProperties) throws Exception {
        ServerProcess server = launch(name, systemProperties);
        long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(3);
        while (System.nanoTime() < deadline) {
            if (!server.process.isAlive()) {
                fail("server exited with " + server.process.exitValue() + ":\n" + server.log());
            }
            try {
                HttpResponse<String> r = server.get("/q/health/ready");
                if (r.statusCode() == 200 || r.body().contains("\"failed\"")) {
                    return server;
                }
            } catch (IOException notYet) {
                // not listening yet
            }
            Thread.sleep(200);
        }
        fail("server did not finish loading:\n" + server.log());
        return server;
    }

    private static ServerProcess launch(String name, String... systemProperties) throws Exception {
        Path jar = Path.of(System.getProperty("spindle.it.jar", "target/quarkus-app/quarkus-run.jar"));
        assertTrue(Files.isRegularFile(jar), "the packaged server is missing: " + jar + " (run mvn verify)");
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        String java = ProcessHandle.current().info().command().orElse("java");
        List<String> cmd = new ArrayList<>(List.of(java, "--enable-native-access=ALL-UNNAMED", "-Xmx1g",
                "-Dquarkus.http.port=" + port, "-Dspindle.demo.cache-dir=target/test-models",
                "-Dspindle.models.dir=target/no-models-here"));
        for (String p : systemProperties) {
            cmd.add("-D" + p);
        }
        cmd.addAll(List.of("-jar", jar.toString()));
        Path log = Path.of("target", name + "-server.log");
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile());
        pb.environment().put("ORT_DISABLE_TELEMETRY", "1");
        pb.environment().put("OPT_OUT_TRACKING", "true");
        return new ServerProcess(pb.start(), port, log);
    }

    public int port() {
        return port;
    }

    public Process process() {
        return process;
    }

    public URI uri(String path) {
        return URI.create("http://localhost:" + port + path);
    }

    public HttpResponse<String> get(String path) throws IOException, InterruptedException {
        return http.send(HttpRequest.newBuilder(uri(path)).timeout(Duration.ofSeconds(10)).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    public HttpResponse<String> post(String path, String json) throws IOException, InterruptedException {
        return http.send(postRequest(path, json), HttpResponse.BodyHandlers.ofString());
    }

    public HttpRequest postRequest(String path, String json) {
        return HttpRequest.newBuilder(uri(path)).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(json)).build();
    }

    public HttpClient http() {
        return http;
    }

    public String log() throws IOException {
        return Files.readString(log);
    }

    private void awaitReady() throws Exception {
        long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(3);
        while (System.nanoTime() < deadline) {
            if (!process.isAlive()) {
                fail("server exited with " + process.exitValue() + " before it was ready:\n" + log());
            }
            try {
                if (get("/q/health/ready").statusCode() == 200) {
                    return;
                }
            } catch (IOException notYet) {
                // not listening yet
            }
            Thread.sleep(200);
        }
        fail("server did not become ready:\n" + log());
    }

    @Override
    public void close() throws Exception {
        if (process.isAlive()) {
            process.destroyForcibly();
            process.waitFor(30, TimeUnit.SECONDS);
        }
    }
}
