package io.spindle.bench;

import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * T5 generation throughput through the server: one stream at a time vs 8 streams started together
 * (generated tokens/s over all streams), repeated, medians reported. Sources of different lengths;
 * every stream generates the same number of tokens. Run it with load-tests/bench-t5.sh.
 */
public final class T5Benchmark {
    public static void main(String[] args) throws Exception {
        Map<String, String> opt = BenchServer.options(args);
        String preset = opt.getOrDefault("preset", "t5-small");
        int tokens = Integer.parseInt(opt.getOrDefault("tokens", "64"));
        int port = Integer.parseInt(opt.getOrDefault("port", "18092"));
        int rounds = Integer.parseInt(opt.getOrDefault("rounds", "5"));
        int streams = Integer.parseInt(opt.getOrDefault("streams", "8"));
        System.out.printf("T5 preset %s, %d new tokens per stream, %d rounds, %d cores%n", preset, tokens, rounds,
                Runtime.getRuntime().availableProcessors());
        try (BenchServer server = new BenchServer("target/quarkus-app/quarkus-run.jar", port, List.of(
                "-Dspindle.demo.t5-preset=" + preset, "-Dspindle.engine.max-batch-size=" + streams,
                "-Dspindle.embeddings.bundled-model=false"))) {
            run(server, streams, 8);
            List<Double> alone = new ArrayList<>();
            List<Double> together = new ArrayList<>();
            for (int r = 0; r < rounds; r++) {
                alone.add(rate(server, 1, tokens));
                together.add(rate(server, streams, tokens));
            }
            double a = median(alone);
            double t = median(together);
            System.out.printf("| streams | tokens/s (median of %d) | all rounds |%n|---|---|---|%n", rounds);
            System.out.printf("| 1 | %.1f | %s |%n", a, fmt(alone));
            System.out.printf("| %d together | %.1f | %s |%n", streams, t, fmt(together));
            System.out.printf("%d together / 1 alone: %.2fx%n", streams, t / a);
        }
    }

    private static double rate(BenchServer server, int streams, int tokens) throws Exception {
        long t0 = System.nanoTime();
        int total = run(server, streams, tokens);
        return total / ((System.nanoTime() - t0) / 1e9);
    }

    /** Starts {@code streams} streams at once; returns the tokens they generated. */
    private static int run(BenchServer server, int streams, int tokens) throws Exception {
        try (var pool = Executors.newVirtualThreadPerTaskExecutor()) {
            List<Future<Integer>> fs = new ArrayList<>();
            for (int i = 0; i < streams; i++) {
                String source = "translate English to German: " + "the house is wonderful ".repeat(1 + i % 4) + "request " + i;
                fs.add(pool.submit(() -> send(server, source, tokens)));
            }
            int n = 0;
            for (Future<Integer> f : fs) {
                n += f.get();
            }
            return n;
        }
    }

    private static int send(BenchServer server, String source, int tokens) throws Exception {
        String body = "{\"model\":\"demo-t5\",\"prompt\":\"" + source + "\",\"max_tokens\":" + tokens
                + ",\"temperature\":0,\"ignore_eos\":true,\"stream\":true,\"stream_options\":{\"include_usage\":true}}";
        HttpResponse<java.util.stream.Stream<String>> resp = server.stream(body);
        java.util.regex.Pattern usage = java.util.regex.Pattern.compile("\"completion_tokens\":(\\d+)");
        int[] n = {-1};
        resp.body().forEach(line -> {
            java.util.regex.Matcher m = usage.matcher(line);
            if (m.find()) {
                n[0] = Integer.parseInt(m.group(1));
            }
        });
        if (n[0] != tokens) {
            throw new IllegalStateException("a stream generated " + n[0] + " tokens, expected " + tokens);
        }
        return n[0];
    }

    private static double median(List<Double> v) {
        List<Double> s = new ArrayList<>(v);
        Collections.sort(s);
        return s.get(s.size() / 2);
    }

    private static String fmt(List<Double> v) {
        return String.join(" ", v.stream().map(x -> String.format("%.1f", x)).toList());
    }

    private T5Benchmark() {
    }
}
