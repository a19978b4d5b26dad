package io.spindle.bench;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * Aggregate throughput and latency of concurrent SSE streams against a running server: for each
 * concurrency, generated tokens/s over all streams, time to first token and inter-token latency
 * (p50/p99); then the same concurrency with batching disabled (max-batch-size 1) as the baseline;
 * then decode inter-token latency while another request prefills a long prompt. Run it with
 * load-tests/bench-concurrency.sh.
 */
public final class ConcurrencyBenchmark {
    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    record StreamResult(double ttftMs, List<Double> itlMs, int tokens) {
    }

    public static void main(String[] args) throws Exception {
        Map<String, String> opt = new HashMap<>();
        for (int i = 0; i + 1 < args.length; i += 2) {
            opt.put(args[i].replaceFirst("^--", ""), args[i + 1]);
        }
        String preset = opt.getOrDefault("preset", "gpt2-124m");
        int tokens = Integer.parseInt(opt.getOrDefault("tokens", "64"));
        int port = Integer.parseInt(opt.getOrDefault("port", "18091"));
        int baseline = Integer.parseInt(opt.getOrDefault("baseline-streams", "16"));
        int prefill = Integer.parseInt(opt.getOrDefault("prefill-tokens", "512"));
        String perStep = opt.getOrDefault("max-tokens-per-step", "512");
        List<Integer> levels = new ArrayList<>();
        for (String s : opt.getOrDefault("streams", "1,4,16,32").split(",")) {
            levels.add(Integer.parseInt(s.trim()));
        }
        int maxBatch = Collections.max(levels);
        System.out.printf("preset %s, %d new tokens per stream, %d cores%n", preset, tokens,
                Runtime.getRuntime().availableProcessors());
        System.out.println("| server | streams | tokens/s (all streams) | TTFT p50 ms | TTFT p99 ms | ITL p50 ms | ITL p99 ms |");
        System.out.println("|---|---|---|---|---|---|---|");
        double single = 0;
        Process server = start(preset, port, maxBatch, perStep);
        try {
            run(port, 2, 8);
            for (int c : levels) {
                double rate = report("batch " + maxBatch, port, c, tokens);
                if (c == 1) {
                    single = rate;
                }
            }
            interference(port, tokens, prefill, perStep);
        } finally {
            stop(server);
        }
        if (baseline > 0) {
            server = start(preset, port, 1, perStep);
            try {
                run(port, 1, 8);
                report("batch 1 (baseline)", port, baseline, tokens);
            } finally {
                stop(server);
            }
        }
        if (single > 0) {
            System.out.printf("one stream: %.1f tokens/s%n", single);
        }
    }

    private static double report(String label, int port, int streams, int tokens) throws Exception {
        long t0 = System.nanoTime();
        List<StreamResult> results = run(port, streams, tokens);
        double wall = (System.nanoTime() - t0) / 1e9;
        int total = results.stream().mapToInt(StreamResult::tokens).sum();
        List<Double> ttft = results.stream().map(StreamResult::ttftMs).toList();
        List<Double> itl = results.stream().flatMap(r -> r.itlMs().stream()).toList();
        double rate = total / wall;
        System.out.printf("| %s | %d | %.1f | %.0f | %.0f | %.1f | %.1f |%n", label, streams, rate,
                pct(ttft, 50), pct(ttft, 99), pct(itl, 50), pct(itl, 99));
        return rate;
    }

    /** Decode ITL of 4 streams, steady, then while a long prompt is prefilled beside them. */
    private static void interference(int port, int tokens, int prefillTokens, String perStep) throws Exception {
        List<Double> steady = itls(run(port, 4, tokens));
        List<Double> mixed;
        try (var pool = Executors.newVirtualThreadPerTaskExecutor()) {
            List<Future<StreamResult>> decoders = new ArrayList<>();
            for (int i = 0; i < 4; i++) {
                int k = i;
                decoders.add(pool.submit(() -> stream(port, "Stream " + k + " says", tokens)));
            }
            Thread.sleep(300);
            String longPrompt = "[" + "464, ".repeat(prefillTokens - 1) + "464]";
            Future<StreamResult> prefill = pool.submit(() -> streamIds(port, longPrompt, 4));
            List<StreamResult> rs = new ArrayList<>();
            for (Future<StreamResult> f : decoders) {
                rs.add(f.get());
            }
            prefill.get();
            mixed = itls(rs);
        }
        System.out.printf("decode ITL p95 with max-tokens-per-step %s: steady %.1f ms, while a %d-token prompt is prefilled "
                + "%.1f ms (%.2fx); max %.1f ms vs %.1f ms%n", perStep, pct(steady, 95), prefillTokens, pct(mixed, 95),
                pct(mixed, 95) / pct(steady, 95), Collections.max(mixed), Collections.max(steady));
    }

    private static List<Double> itls(List<StreamResult> rs) {
        return rs.stream().flatMap(r -> r.itlMs().stream()).toList();
    }

    private static List<StreamResult> run(int port, int streams, int tokens) throws Exception {
        try (var pool = Executors.newVirtualThreadPerTaskExecutor()) {
            List<Future<StreamResult>> fs = new ArrayList<>();
            for (int i = 0; i < streams; i++) {
                int k = i;
                fs.add(pool.submit(() -> stream(port, "Request " + k + " begins with", tokens)));
            }
            List<StreamResult> out = new ArrayList<>();
            for (Future<StreamResult> f : fs) {
                out.add(f.get());
            }
            return out;
        }
    }

    private static StreamResult stream(int port, String prompt, int tokens) throws Exception {
        return send(port, "\"prompt\":\"" + prompt + "\"", tokens);
    }

    private static StreamResult streamIds(int port, String ids, int tokens) throws Exception {
        return send(port, "\"prompt\":" + ids, tokens);
    }

    private static StreamResult send(int port, String prompt, int tokens) throws Exception {
        String body = "{\"model\":\"demo-gpt2\"," + prompt + ",\"max_tokens\":" + tokens
                + ",\"temperature\":0,\"ignore_eos\":true,\"stream\":true}";
        HttpRequest req = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/v1/completions"))
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body)).build();
        long t0 = System.nanoTime();
        HttpResponse<java.util.stream.Stream<String>> resp = HTTP.send(req, HttpResponse.BodyHandlers.ofLines());
        if (resp.statusCode() != 200) {
            throw new IllegalStateException("HTTP " + resp.statusCode());
        }
        List<Long> at = new ArrayList<>();
        resp.body().forEach(line -> {
            if (line.startsWith("data: {")) {
                at.add(System.nanoTime());
            }
        });
        List<Double> itl = new ArrayList<>();
        for (int i = 1; i < at.size(); i++) {
            itl.add((at.get(i) - at.get(i - 1)) / 1e6);
        }
        return new StreamResult((at.getFirst() - t0) / 1e6, itl, at.size());
    }

    private static double pct(List<Double> v, double p) {
        List<Double> s = new ArrayList<>(v);
        Collections.sort(s);
        if (s.isEmpty()) {
            return Double.NaN;
        }
        int i = (int) Math.ceil(p / 100.0 * s.size()) - 1;
        return s.get(Math.max(0, Math.min(s.size() - 1, i)));
    }

    private static Process start(String preset, int port, int maxBatch, String perStep) throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        ProcessBuilder pb = new ProcessBuilder(java, "--enable-native-access=ALL-UNNAMED",
                "-Dspindle.demo.preset=" + preset, "-Dquarkus.http.port=" + port, "-Dquarkus.log.level=WARN",
                "-Dspindle.engine.max-batch-size=" + maxBatch, "-Dspindle.engine.max-tokens-per-step=" + perStep,
                "-Dspindle.engine.max-waiting=256", "-jar", "target/quarkus-app/quarkus-run.jar");
        pb.environment().put("ORT_DISABLE_TELEMETRY", "1");
        pb.redirectErrorStream(true).redirectOutput(Path.of("target", "bench-server.log").toFile());
        Process p = pb.start();
        HttpRequest ready = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/q/health/ready")).build();
        for (int i = 0; i < 600; i++) {
            try {
                if (HTTP.send(ready, HttpResponse.BodyHandlers.discarding()).statusCode() == 200) {
                    return p;
                }
            } catch (java.io.IOException notYet) {
                // starting
            }
            Thread.sleep(500);
        }
        throw new IllegalStateException("server not ready; see target/bench-server.log");
    }

    private static void stop(Process p) throws InterruptedException {
        p.destroy();
        p.waitFor();
    }

    private ConcurrencyBenchmark() {
    }
}
