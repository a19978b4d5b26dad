package io.spindle.bench;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/** A Spindle server process for benchmarks: started from a packaged jar, on loopback, stopped after. */
final class BenchServer implements AutoCloseable {
    static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    private final Process process;
    final int port;

    /**
     * @param jvmOptions server JVM options ({@code -Dspindle...} keys), besides the port and the log level
     */
    BenchServer(String jar, int port, List<String> jvmOptions) throws Exception {
        this.port = port;
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> cmd = new ArrayList<>(List.of(java, "--enable-native-access=ALL-UNNAMED",
                "-Dquarkus.http.port=" + port, "-Dquarkus.log.level=WARN"));
        cmd.addAll(jvmOptions);
        cmd.addAll(List.of("-jar", jar));
        ProcessBuilder pb = new ProcessBuilder(cmd);
        pb.environment().put("ORT_DISABLE_TELEMETRY", "1");
        pb.redirectErrorStream(true).redirectOutput(Path.of("target", "bench-server.log").toFile());
        process = pb.start();
        awaitReady();
    }

    private void awaitReady() throws Exception {
        HttpRequest req = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/q/health/ready")).build();
        for (int i = 0; i < 600; i++) {
            try {
                if (HTTP.send(req, HttpResponse.BodyHandlers.discarding()).statusCode() == 200) {
                    return;
                }
            } catch (java.io.IOException notYet) {
                // Still starting.
            }
            Thread.sleep(500);
        }
        throw new IllegalStateException("server not ready; see target/bench-server.log");
    }

    /** POSTs a streaming completion and returns the response with its lines as they arrive. */
    HttpResponse<java.util.stream.Stream<String>> stream(String jsonBody) throws Exception {
        HttpRequest req = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/v1/completions"))
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(jsonBody)).build();
        HttpResponse<java.util.stream.Stream<String>> resp = HTTP.send(req, HttpResponse.BodyHandlers.ofLines());
        if (resp.statusCode() != 200) {
            throw new IllegalStateException("HTTP " + resp.statusCode());
        }
        return resp;
    }

    private static final String JIT_WARMUP_MODEL = "jit-warmup-tiny";

    /**
     * Server options that also serve the tiny demo model (from a models folder under target/) for
     * {@link #jitWarmup}. The server's per-token path (SSE, JSON, Netty) runs thousands of times per
     * request, and the JIT compiles it for good only after ~15,000 calls: a few warm-up requests leave
     * it in profiling code with compilations going on beside the measured runs.
     */
    static List<String> withJitWarmupModel(List<String> options) throws Exception {
        Path models = Path.of("target", "bench-models");
        java.nio.file.Files.createDirectories(models);
        Path tiny = models.resolve(JIT_WARMUP_MODEL);
        java.nio.file.Files.deleteIfExists(tiny);
        java.nio.file.Files.createSymbolicLink(tiny,
                demoModel(io.spindle.runtime.demo.DemoPreset.TINY).toAbsolutePath());
        List<String> all = new ArrayList<>(List.of("-Dspindle.models.dir=" + models.toAbsolutePath()));
        all.addAll(options);
        return all;
    }

    /**
     * Streams {@code tokens} tokens from the tiny model (served with {@link #withJitWarmupModel}), 4
     * streams at a time, through the same HTTP, JSON and SSE code as the measured runs, and prints how
     * long it took.
     */
    void jitWarmup(int tokens) throws Exception {
        long t0 = System.nanoTime();
        int perRequest = 400;
        int requests = (tokens + perRequest - 1) / perRequest;
        try (var pool = java.util.concurrent.Executors.newFixedThreadPool(4)) {
            List<java.util.concurrent.Future<Long>> done = new ArrayList<>();
            for (int i = 0; i < requests; i++) {
                done.add(pool.submit(() -> stream("{\"model\":\"" + JIT_WARMUP_MODEL + "\",\"prompt\":\"Warm up\","
                        + "\"max_tokens\":" + perRequest + ",\"ignore_eos\":true,\"stream\":true}").body()
                        .filter(l -> l.startsWith("data: {")).count()));
            }
            for (var f : done) {
                f.get();
            }
        }
        System.out.printf("JIT warm-up: %d tokens from the tiny model in %.1f s%n", requests * perRequest,
                (System.nanoTime() - t0) / 1e9);
    }

    /** POSTs a non-streaming completion and returns its body. */
    String complete(String jsonBody) throws Exception {
        HttpRequest req = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/v1/completions"))
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(jsonBody)).build();
        HttpResponse<String> resp = HTTP.send(req, HttpResponse.BodyHandlers.ofString());
        if (resp.statusCode() != 200) {
            throw new IllegalStateException("HTTP " + resp.statusCode() + ": " + resp.body());
        }
        return resp.body();
    }

    @Override
    public void close() throws InterruptedException {
        process.destroy();
        process.waitFor();
    }

    /** The demo model directory of a preset (Optimum layout), as the server caches it; built if missing. */
    static Path demoModel(io.spindle.runtime.demo.DemoPreset preset) throws java.io.IOException {
        Path cache = Path.of(System.getProperty("user.home"), ".cache", "spindle", "models");
        io.spindle.runtime.demo.DemoLayout layout = io.spindle.runtime.demo.DemoLayout.OPTIMUM;
        long seed = io.spindle.runtime.demo.DemoModelWriter.DEFAULT_SEED;
        return new io.spindle.runtime.demo.DemoModelWriter().ensure(
                cache.resolve(io.spindle.runtime.demo.DemoModelWriter.cacheName(preset, layout, seed)), preset, layout, seed);
    }

    /** The same model as an exporter writes it: logits at every position. */
    static Path exportedDemoModel(io.spindle.runtime.demo.DemoPreset preset) throws java.io.IOException {
        Path cache = Path.of(System.getProperty("user.home"), ".cache", "spindle", "models");
        io.spindle.runtime.demo.DemoLayout layout = io.spindle.runtime.demo.DemoLayout.OPTIMUM;
        long seed = io.spindle.runtime.demo.DemoModelWriter.DEFAULT_SEED;
        return io.spindle.runtime.demo.DemoModelWriter.asExported().ensure(
                cache.resolve(io.spindle.runtime.demo.DemoModelWriter.cacheName(preset, layout, seed) + "-exported"),
                preset, layout, seed);
    }

    /** {@code --key value} pairs. */
    static Map<String, String> options(String[] args) {
        Map<String, String> m = new HashMap<>();
        for (int i = 0; i + 1 < args.length; i += 2) {
            m.put(args[i].replaceFirst("^--", ""), args[i + 1]);
        }
        return m;
    }

    /** Space-separated JVM options, as given on the command line. */
    static List<String> split(String options) {
        List<String> out = new ArrayList<>();
        for (String o : options.trim().split("\\s+")) {
            if (!o.isEmpty()) {
                out.add(o);
            }
        }
        return out;
    }
}
