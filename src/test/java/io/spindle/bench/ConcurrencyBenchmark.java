package io.spindle.bench;

import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.Collections;
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
    private static int jitWarmupTokens;

    /** Extra server JVM options ({@code --server-opts "-Dkey=value ..."}). */
    private static List<String> serverOpts = List.of();

    /** {@code at}: System.nanoTime() of each token's arrival. */
    record StreamResult(double ttftMs, List<Double> itlMs, int tokens, List<Long> at) {
        /** The gaps between tokens that both arrived within [from, to]. */
        List<Double> itlWithin(long from, long to) {
            List<Double> gaps = new ArrayList<>();
            for (int i = 1; i < at.size(); i++) {
                if (at.get(i - 1) >= from && at.get(i) <= to) {
                    gaps.add((at.get(i) - at.get(i - 1)) / 1e6);
                }
            }
            return gaps;
        }
    }

    public static void main(String[] args) throws Exception {
        Map<String, String> opt = BenchServer.options(args);
        String preset = opt.getOrDefault("preset", "gpt2-124m");
        int tokens = Integer.parseInt(opt.getOrDefault("tokens", "64"));
        int port = Integer.parseInt(opt.getOrDefault("port", "18091"));
        int baseline = Integer.parseInt(opt.getOrDefault("baseline-streams", "16"));
        int prefill = Integer.parseInt(opt.getOrDefault("prefill-tokens", "512"));
        String perStep = opt.getOrDefault("max-tokens-per-step", "512");
        String whileDecoding = opt.getOrDefault("prefill-while-decoding", "16");
        int interferenceRuns = Integer.parseInt(opt.getOrDefault("interference-runs", "1"));
        jitWarmupTokens = Integer.parseInt(opt.getOrDefault("jit-warmup-tokens", "16000"));
        // Only the gaps while the prompt prefills are counted: streams that finish first just give fewer.
        int interferenceTokens = Integer.parseInt(opt.getOrDefault("interference-tokens", "128"));
        serverOpts = BenchServer.split(opt.getOrDefault("server-opts", ""));
        List<Integer> levels = new ArrayList<>();
        for (String s : opt.getOrDefault("streams", "1,4,16,32").split(",")) {
            levels.add(Integer.parseInt(s.trim()));
        }
        int maxBatch = Collections.max(levels);
        if (interferenceRuns > 0 && maxBatch < 5) {
            // The server's batch is the largest level: at 4, the long prompt would wait in the queue
            // until a decoding stream finished, and nothing would be measured beside it.
            throw new IllegalArgumentException("the prefill-interference measurement runs 4 decoding streams and a "
                    + "long prompt together: give --streams a level of at least 5, or --interference-runs 0");
        }
        System.out.printf("preset %s, %d new tokens per stream, %d cores%n", preset, tokens,
                Runtime.getRuntime().availableProcessors());
        System.out.println("| server | streams | tokens/s (all streams) | TTFT p50 ms | TTFT p99 ms | ITL p50 ms | ITL p99 ms |");
        System.out.println("|---|---|---|---|---|---|---|");
        double single = 0;
        try (BenchServer server = start(preset, port, maxBatch, perStep, whileDecoding)) {
            run(server, 2, 8);
            for (int c : levels) {
                double rate = report("batch " + maxBatch, server, c, tokens);
                if (c == 1) {
                    single = rate;
                }
            }
            List<Double> ratios = new ArrayList<>();
            for (int r = 0; r < interferenceRuns; r++) {
                ratios.add(interference(server, interferenceTokens, prefill, perStep + ", max-prefill-tokens-while-decoding " + whileDecoding));
            }
            if (interferenceRuns > 1) {
                System.out.printf("decode ITL p95 while prefilling / steady, median of %d runs: %.2fx (%s)%n", interferenceRuns,
                        pct(ratios, 50), String.join(" ", ratios.stream().map(x -> String.format("%.2f", x)).toList()));
            }
        }
        if (baseline > 0) {
            try (BenchServer server = start(preset, port, 1, perStep, whileDecoding)) {
                run(server, 1, 8);
                report("batch 1 (baseline)", server, baseline, tokens);
            }
        }
        if (single > 0) {
            System.out.printf("one stream: %.1f tokens/s%n", single);
        }
    }

    private static double report(String label, BenchServer server, int streams, int tokens) throws Exception {
        long t0 = System.nanoTime();
        List<StreamResult> results = run(server, streams, tokens);
        double wall = (System.nanoTime() - t0) / 1e9;
        int total = results.stream().mapToInt(StreamResult::tokens).sum();
        List<Double> ttft = results.stream().map(StreamResult::ttftMs).toList();
        List<Double> itl = results.stream().flatMap(r -> r.itlMs().stream()).toList();
        double rate = total / wall;
        System.out.printf("| %s | %d | %.1f | %.0f | %.0f | %.1f | %.1f |%n", label, streams, rate,
                pct(ttft, 50), pct(ttft, 99), pct(itl, 50), pct(itl, 99));
        return rate;
    }

    /** Decode ITL of 4 streams, steady, then while a long prompt is prefilled beside them; returns the p95 ratio. */
    private static double interference(BenchServer server, int tokens, int prefillTokens, String perStep) throws Exception {
        List<Double> steady = itls(run(server, 4, tokens));
        List<Double> mixed;
        try (var pool = Executors.newVirtualThreadPerTaskExecutor()) {
            List<Future<StreamResult>> decoders = new ArrayList<>();
            for (int i = 0; i < 4; i++) {
                int k = i;
                decoders.add(pool.submit(() -> send(server, "\"prompt\":\"Stream " + k + " says\"", tokens)));
            }
            Thread.sleep(300);
            String longPrompt = "[" + "464, ".repeat(prefillTokens - 1) + "464]";
            long sent = System.nanoTime();
            Future<StreamResult> prefill = pool.submit(() -> send(server, "\"prompt\":" + longPrompt, 4));
            StreamResult prompt = prefill.get();
            // Only the gaps while the prompt was being prefilled: from sending it to its first token.
            mixed = new ArrayList<>();
            int decoding = 0;
            for (Future<StreamResult> f : decoders) {
                StreamResult r = f.get();
                mixed.addAll(r.itlWithin(sent, prompt.at().getFirst()));
                decoding += r.at().getLast() > prompt.at().getFirst() ? 1 : 0;
            }
            System.out.printf("the %d-token prompt's time to first token: %d ms (%d gaps measured beside it; %d of 4 "
                    + "streams still decoding at its end)%n", prefillTokens, Math.round(prompt.ttftMs()), mixed.size(), decoding);
        }
        System.out.printf("decode ITL p95 with max-tokens-per-step %s: steady %.1f ms, while a %d-token prompt is prefilled "
                + "%.1f ms (%.2fx); p50 %.1f vs %.1f ms; max %.1f ms vs %.1f ms%n", perStep, pct(steady, 95), prefillTokens,
                pct(mixed, 95), pct(mixed, 95) / pct(steady, 95), pct(mixed, 50), pct(steady, 50), max(mixed), max(steady));
        return pct(mixed, 95) / pct(steady, 95);
    }

    private static double max(List<Double> v) {
        return v.isEmpty() ? Double.NaN : Collections.max(v);
    }

    private static List<Double> itls(List<StreamResult> rs) {
        return rs.stream().flatMap(r -> r.itlMs().stream()).toList();
    }

    private static List<StreamResult> run(BenchServer server, int streams, int tokens) throws Exception {
        try (var pool = Executors.newVirtualThreadPerTaskExecutor()) {
            List<Future<StreamResult>> fs = new ArrayList<>();
            for (int i = 0; i < streams; i++) {
                int k = i;
                fs.add(pool.submit(() -> send(server, "\"prompt\":\"Request " + k + " begins with\"", tokens)));
            }
            List<StreamResult> out = new ArrayList<>();
            for (Future<StreamResult> f : fs) {
                out.add(f.get());
            }
            return out;
        }
    }

    private static StreamResult send(BenchServer server, String prompt, int tokens) throws Exception {
        String body = "{\"model\":\"demo-gpt2\"," + prompt + ",\"max_tokens\":" + tokens
                + ",\"temperature\":0,\"ignore_eos\":true,\"stream\":true}";
        long t0 = System.nanoTime();
        HttpResponse<java.util.stream.Stream<String>> resp = server.stream(body);
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
        return new StreamResult((at.getFirst() - t0) / 1e6, itl, at.size(), at);
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

    private static BenchServer start(String preset, int port, int maxBatch, String perStep, String whileDecoding)
            throws Exception {
        List<String> opts = new ArrayList<>(List.of("-Dspindle.demo.preset=" + preset,
                "-Dspindle.engine.max-batch-size=" + maxBatch, "-Dspindle.engine.max-tokens-per-step=" + perStep,
                "-Dspindle.engine.max-prefill-tokens-while-decoding=" + whileDecoding,
                "-Dspindle.engine.max-waiting=256"));
        opts.addAll(serverOpts);
        BenchServer server = new BenchServer("target/quarkus-app/quarkus-run.jar", port,
                BenchServer.withJitWarmupModel(opts));
        try {
            server.jitWarmup(jitWarmupTokens);
        } catch (Exception e) {
            server.close();
            throw e;
        }
        return server;
    }

    private ConcurrencyBenchmark() {
    }
}
