package io.spindle.bench;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * What log-probabilities and parallel samples cost, measured side by side in one server run, rounds
 * interleaved, medians reported: (1) one stream's decode tokens/s without logprobs, with the chosen
 * token's ({@code logprobs: 0}) and with the top 20 ({@code logprobs: 20}); (2) {@code n = 4} samples
 * of one prompt in one request vs the same 4 samples as 4 concurrent requests (seeds seed..seed+3):
 * wall time to the last token and generated tokens/s. Run it with load-tests/bench-sampling.sh.
 */
public final class SamplingCostBenchmark {
    private static final Pattern COMPLETION = Pattern.compile("\"completion_tokens\":(\\d+)");

    public static void main(String[] args) throws Exception {
        Map<String, String> opt = BenchServer.options(args);
        String preset = opt.getOrDefault("preset", "gpt2-124m");
        int tokens = Integer.parseInt(opt.getOrDefault("tokens", "64"));
        int promptWords = Integer.parseInt(opt.getOrDefault("prompt-words", "200"));
        int rounds = Integer.parseInt(opt.getOrDefault("rounds", "5"));
        int port = Integer.parseInt(opt.getOrDefault("port", "18093"));
        System.out.printf("preset %s, %d new tokens, prompt of %d words, %d rounds, %d cores%n", preset, tokens,
                promptWords, rounds, Runtime.getRuntime().availableProcessors());
        String prompt = "the quick brown fox jumps over the lazy dog ".repeat(Math.max(1, promptWords / 9)).trim();
        try (BenchServer server = new BenchServer("target/quarkus-app/quarkus-run.jar", port,
                BenchServer.withJitWarmupModel(List.of("-Dspindle.demo.preset=" + preset,
                        "-Dspindle.demo.t5-layouts=none", "-Dspindle.demo.bert-heads=none",
                        "-Dspindle.embeddings.bundled-model=false", "-Dspindle.engine.max-batch-size=8")))) {
            server.jitWarmup(20_000);
            List<Double> plain = new ArrayList<>();
            List<Double> chosen = new ArrayList<>();
            List<Double> top20 = new ArrayList<>();
            List<Double> groupSeconds = new ArrayList<>();
            List<Double> separateSeconds = new ArrayList<>();
            for (int r = 0; r < rounds; r++) {
                plain.add(rate(server, "Hello", tokens, ""));
                chosen.add(rate(server, "Hello", tokens, ",\"logprobs\":0"));
                top20.add(rate(server, "Hello", tokens, ",\"logprobs\":20"));
                groupSeconds.add(seconds(() -> sendAll(server, prompt, tokens, 1, 4)));
                separateSeconds.add(seconds(() -> sendAll(server, prompt, tokens, 4, 1)));
            }
            double p = median(plain);
            double c = median(chosen);
            double t = median(top20);
            System.out.printf("%n| one stream | decode tokens/s (median of %d) | vs no logprobs | all rounds |%n|---|---|---|---|%n",
                    rounds);
            System.out.printf("| no logprobs | %.1f | 1.00 | %s |%n", p, fmt(plain));
            System.out.printf("| logprobs: 0 | %.1f | %.3f | %s |%n", c, c / p, fmt(chosen));
            System.out.printf("| logprobs: 20 | %.1f | %.3f | %s |%n", t, t / p, fmt(top20));
            System.out.printf("per-token cost of logprobs: 20 = %.2f ms%n", 1000 / t - 1000 / p);
            double g = median(groupSeconds);
            double s = median(separateSeconds);
            System.out.printf("%n| 4 samples of a %d-word prompt, %d tokens each | wall s (median) | tokens/s | all rounds (s) |%n"
                    + "|---|---|---|---|%n", promptWords, tokens);
            System.out.printf("| n = 4 in one request | %.3f | %.1f | %s |%n", g, 4 * tokens / g, fmt(groupSeconds));
            System.out.printf("| 4 concurrent requests | %.3f | %.1f | %s |%n", s, 4 * tokens / s, fmt(separateSeconds));
            System.out.printf("n = 4 / 4 requests, tokens/s: %.2fx%n", s / g);
        }
    }

    private interface Timed {
        void run() throws Exception;
    }

    private static double seconds(Timed t) throws Exception {
        long t0 = System.nanoTime();
        t.run();
        return (System.nanoTime() - t0) / 1e9;
    }

    /** One stream's generated tokens per second (first token to last, client side). */
    private static double rate(BenchServer server, String prompt, int tokens, String extra) throws Exception {
        long[] first = {0};
        long[] last = {0};
        int[] n = {0};
        server.stream(body(prompt, tokens, 1, 1, extra)).body().forEach(line -> {
            if (line.startsWith("data: {") && line.contains("\"text\"")) {
                long now = System.nanoTime();
                first[0] = first[0] == 0 ? now : first[0];
                last[0] = now;
                n[0]++;
            }
        });
        return (n[0] - 1) / ((last[0] - first[0]) / 1e9);
    }

    /** {@code requests} concurrent requests of {@code n} samples each; checks every token arrived. */
    private static void sendAll(BenchServer server, String prompt, int tokens, int requests, int n) throws Exception {
        try (var pool = Executors.newVirtualThreadPerTaskExecutor()) {
            List<Future<Integer>> fs = new ArrayList<>();
            for (int i = 0; i < requests; i++) {
                long seed = 100 + i;
                fs.add(pool.submit(() -> {
                    int[] got = {-1};
                    server.stream(body(prompt, tokens, n, seed, ",\"stream_options\":{\"include_usage\":true}"))
                            .body().forEach(line -> {
                                Matcher m = COMPLETION.matcher(line);
                                if (m.find()) {
                                    got[0] = Integer.parseInt(m.group(1));
                                }
                            });
                    return got[0];
                }));
            }
            for (Future<Integer> f : fs) {
                if (f.get() != tokens * n) {
                    throw new IllegalStateException("a request generated " + f.get() + " tokens, expected " + tokens * n);
                }
            }
        }
    }

    private static String body(String prompt, int tokens, int n, long seed, String extra) {
        return "{\"model\":\"demo-gpt2\",\"prompt\":\"" + prompt + "\",\"max_tokens\":" + tokens + ",\"n\":" + n
                + ",\"seed\":" + seed + ",\"temperature\":0.8,\"ignore_eos\":true,\"stream\":true" + extra + "}";
    }

    private static double median(List<Double> v) {
        List<Double> s = new ArrayList<>(v);
        Collections.sort(s);
        return s.get(s.size() / 2);
    }

    private static String fmt(List<Double> v) {
        return String.join(" ", v.stream().map(x -> String.format("%.3g", x)).toList());
    }

    private SamplingCostBenchmark() {
    }
}
