package io.spindle.bench;

import io.spindle.engine.Engine;
import io.spindle.engine.EngineConfig;
import io.spindle.engine.EngineObserver;
import io.spindle.engine.request.EngineRequest;
import io.spindle.engine.request.TokenEvent;
import io.spindle.model.ModelConfig;
import io.spindle.runtime.demo.DemoPreset;
import io.spindle.runtime.family.gpt2.Gpt2Loader;
import io.spindle.runtime.onnx.OrtRuntime;
import io.spindle.sampling.SamplingParams;
import io.spindle.sampling.constraint.CompiledConstraint;
import io.spindle.sampling.constraint.ConstraintCompiler;
import io.spindle.sampling.constraint.ConstraintSpec;
import io.spindle.sampling.constraint.TokenVocabulary;
import io.spindle.testing.ConstraintSchemas;
import io.spindle.testing.ConstraintValidity;
import io.spindle.text.TokenBytes;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;

/**
 * Issue 16's structured-output figures, printed, never asserted:
 * <ul>
 * <li>{@code validity}: the twenty shared JSON Schemas ({@link ConstraintSchemas}) × {@code --seeds}
 * seeded random generations (temperature 1) through the real engine on a random-weight demo GPT-2;
 * each output parsed (Jackson) and validated (networknt); pass counts per schema and in total.</li>
 * <li>{@code overhead}: on the 124M-shaped demo (50,257-token vocabulary), the decode step at batch 1
 * with a JSON-Schema constraint vs without (interleaved runs, medians), and a batch of 16 with 8
 * constrained rows vs 16 unconstrained (tokens/s); the engine's own mask time per row.</li>
 * <li>{@code compile}: the tool schema (5 properties, a nested object, an enum) compiled cold (fresh
 * compiler, JIT warm) and cached, medians.</li>
 * </ul>
 * Run it with {@code bash load-tests/lib/run-bench.sh io.spindle.bench.ConstraintBenchmark
 * [--parts validity,overhead,compile] [--seeds 1000] [--preset tiny|gpt2-124m] [--max-tokens 160]
 * [--runs 7] [--tokens 64]}.
 */
public final class ConstraintBenchmark {
    /** A constraint whose rows keep decoding (a free string, closed by steering near the limit). */
    private static final String OPEN_SCHEMA = """
            {"type":"object","properties":{"answer":{"type":"string"},"confidence":{"type":"number"}},
             "required":["answer","confidence"],"additionalProperties":false}""";

    public static void main(String[] args) throws Exception {
        Map<String, String> opt = BenchServer.options(args);
        Set<String> parts = Set.of(opt.getOrDefault("parts", "validity,overhead,compile").split(","));
        System.out.printf("ConstraintBenchmark %s; %d cores; java %s%n", String.join(" ", args),
                Runtime.getRuntime().availableProcessors(), System.getProperty("java.version"));
        if (parts.contains("compile")) {
            compile(Integer.parseInt(opt.getOrDefault("compile-runs", "15")));
        }
        if (parts.contains("validity")) {
            validity(DemoPreset.parse(opt.getOrDefault("preset", "tiny")), Integer.parseInt(opt.getOrDefault("seeds", "1000")),
                    Integer.parseInt(opt.getOrDefault("max-tokens", "160")));
        }
        if (parts.contains("overhead")) {
            overhead(DemoPreset.parse(opt.getOrDefault("overhead-preset", "gpt2-124m")),
                    Integer.parseInt(opt.getOrDefault("runs", "7")), Integer.parseInt(opt.getOrDefault("tokens", "64")));
        }
    }

    private static TokenVocabulary vocabulary(Path dir, ModelConfig config) throws Exception {
        return TokenBytes.read(dir.resolve("tokenizer.json"), 50257, config.eosTokenIds());
    }

    private static void compile(int runs) throws Exception {
        Path dir = BenchServer.demoModel(DemoPreset.TINY);
        TokenVocabulary vocab = vocabulary(dir, ModelConfig.read(dir));
        ConstraintSpec tool = new ConstraintSpec.JsonSchema(ConstraintSchemas.TOOL);
        long t0 = System.nanoTime();
        CompiledConstraint first = new ConstraintCompiler().compile(tool, vocab);
        double firstMs = (System.nanoTime() - t0) / 1e6;
        double[] cold = new double[runs];
        for (int i = 0; i < runs; i++) {
            ConstraintCompiler fresh = new ConstraintCompiler();
            t0 = System.nanoTime();
            fresh.compile(tool, vocab);
            cold[i] = (System.nanoTime() - t0) / 1e6;
        }
        ConstraintCompiler compiler = new ConstraintCompiler();
        compiler.compile(tool, vocab);
        int lookups = 10_000;
        double[] cached = new double[runs];
        for (int i = 0; i < runs; i++) {
            t0 = System.nanoTime();
            for (int k = 0; k < lookups; k++) {
                compiler.compile(tool, vocab);
            }
            cached[i] = (System.nanoTime() - t0) / 1e3 / lookups;
        }
        t0 = System.nanoTime();
        first.indexAllStates();
        double indexMs = (System.nanoTime() - t0) / 1e6;
        System.out.printf("compile tool schema (5 properties, nested object, enum; %d DFA states): first in JVM %.1f ms; "
                        + "cold (fresh compiler) median %.1f ms [min %.1f, max %.1f] over %d; cached median %.2f us per lookup; "
                        + "token index of every state (built lazily while decoding) %.1f ms%n",
                first.numStates(), firstMs, median(cold), min(cold), max(cold), runs, median(cached), indexMs);
    }

    private static void validity(DemoPreset preset, int seeds, int maxTokens) throws Exception {
        Path dir = BenchServer.demoModel(preset);
        ModelConfig config = ModelConfig.read(dir);
        TokenVocabulary vocab = vocabulary(dir, config);
        List<Long> maskNanos = new ArrayList<>();
        try (Engine engine = new Engine("validity", Gpt2Loader.load(new OrtRuntime("cpu", 0), dir, config),
                new EngineConfig(16, 512, 256L << 20, 64)).start()) {
            engine.observe(maskRecorder(maskNanos));
            int limit = Math.min(maxTokens, engine.contextLength() - ConstraintValidity.PROMPT.length);
            System.out.printf("validity on demo %s (random weights), %d seeds per schema, temperature 1, max_tokens %d, batch up to 16%n",
                    preset.id(), seeds, limit);
            System.out.printf("%-22s %7s %7s %9s %8s %12s %9s%n", "schema", "valid", "runs", "truncated", "invalid",
                    "tokens/out", "seconds");
            int valid = 0;
            int runs = 0;
            long t0 = System.nanoTime();
            List<String> failures = new ArrayList<>();
            for (ConstraintSchemas.Named s : ConstraintSchemas.ALL) {
                long s0 = System.nanoTime();
                ConstraintValidity.Outcome o = ConstraintValidity.run(engine, vocab, config.eosTokenIds(), List.of(s), seeds,
                        1, limit, 32).getFirst();
                System.out.printf("%-22s %7d %7d %9d %8d %12.1f %9.1f%n", o.name(), o.valid(), o.runs(), o.truncated(),
                        o.invalid(), o.tokens() / (double) o.runs(), (System.nanoTime() - s0) / 1e9);
                valid += o.valid();
                runs += o.runs();
                for (String f : o.failures()) {
                    failures.add(o.name() + ": " + f);
                }
            }
            System.out.printf("TOTAL %d/%d valid (%.3f%%) in %.0f s%n", valid, runs, 100.0 * valid / runs,
                    (System.nanoTime() - t0) / 1e9);
            for (String f : failures) {
                System.out.println("  failure: " + (f.length() > 400 ? f.substring(0, 400) + "…" : f));
            }
            printMask("mask time per constrained row during the validity runs", maskNanos);
        }
    }

    private static EngineObserver maskRecorder(List<Long> into) {
        return new EngineObserver() {
            @Override
            public void constraintMasked(long nanos) {
                into.add(nanos); // engine thread only; read after the engine is idle
            }
        };
    }

    private static void printMask(String what, List<Long> nanos) {
        if (nanos.isEmpty()) {
            return;
        }
        double[] us = nanos.stream().mapToDouble(n -> n / 1e3).sorted().toArray();
        System.out.printf("%s: %d rows, median %.1f us, p90 %.1f us, p99 %.1f us, max %.1f ms, mean %.1f us%n", what,
                us.length, us[us.length / 2], us[(int) (us.length * 0.9)], us[(int) (us.length * 0.99)],
                us[us.length - 1] / 1e3, Arrays.stream(us).average().orElse(0));
    }

    private static void overhead(DemoPreset preset, int runs, int tokens) throws Exception {
        Path dir = BenchServer.demoModel(preset);
        ModelConfig config = ModelConfig.read(dir);
        TokenVocabulary vocab = vocabulary(dir, config);
        CompiledConstraint tool = new ConstraintCompiler().compile(new ConstraintSpec.JsonSchema(ConstraintSchemas.TOOL), vocab);
        CompiledConstraint open = new ConstraintCompiler().compile(new ConstraintSpec.JsonSchema(OPEN_SCHEMA), vocab);
        OrtRuntime ort = new OrtRuntime("cpu", 0);
        List<Long> maskNanos = new ArrayList<>();
        System.out.printf("overhead on demo %s (vocabulary %d), %d interleaved runs of up to %d tokens, temperature 1%n",
                preset.id(), vocab.size(), runs, tokens);
        try (Engine engine = new Engine("batch1", Gpt2Loader.load(ort, dir, config), new EngineConfig(1, 512, 1L << 30, 64)).start()) {
            generate(engine, 1, 1, tokens, tool, 0); // warm-up: JIT, and the constraint's first-visit token sets
            generate(engine, 1, 0, tokens, null, 0);
            engine.observe(maskRecorder(maskNanos));
            double[] free = new double[runs];
            double[] held = new double[runs];
            for (int r = 0; r < runs; r++) {
                free[r] = generate(engine, 1, 0, tokens, null, r + 1).medianGapMs;
                held[r] = generate(engine, 1, 1, tokens, tool, r + 1).medianGapMs;
                System.out.printf("  batch 1 run %d: decode step median %.2f ms unconstrained, %.2f ms with the tool schema%n",
                        r + 1, free[r], held[r]);
            }
            System.out.printf("batch 1: decode step median %.2f ms unconstrained vs %.2f ms constrained (tool schema): +%.1f%%%n",
                    median(free), median(held), 100 * (median(held) / median(free) - 1));
        }
        engine16(ort, dir, config, open, runs, tokens, maskNanos);
        printMask("engine mask time per constrained row (124M runs, states warm)", maskNanos);
    }

    private static void engine16(OrtRuntime ort, Path dir, ModelConfig config, CompiledConstraint open, int runs,
                                 int tokens, List<Long> maskNanos) throws Exception {
        try (Engine engine = new Engine("batch16", Gpt2Loader.load(ort, dir, config), new EngineConfig(16, 512, 1L << 30, 64)).start()) {
            generate(engine, 16, 8, tokens, open, 0);
            generate(engine, 16, 0, tokens, null, 0);
            engine.observe(maskRecorder(maskNanos));
            double[] free = new double[runs];
            double[] held = new double[runs];
            for (int r = 0; r < runs; r++) {
                Run f = generate(engine, 16, 0, tokens, null, r + 1);
                Run h = generate(engine, 16, 8, tokens, open, r + 1);
                free[r] = f.tokensPerSecond;
                held[r] = h.tokensPerSecond;
                System.out.printf("  batch 16 run %d: %.1f tokens/s unconstrained (%d tokens), %.1f tokens/s with 8 constrained rows (%d tokens)%n",
                        r + 1, free[r], f.tokens, held[r], h.tokens);
            }
            System.out.printf("batch 16: %.1f tokens/s unconstrained vs %.1f with 8 of 16 rows constrained: ratio %.3f (%.1f%% lost)%n",
                    median(free), median(held), median(held) / median(free), 100 * (1 - median(held) / median(free)));
        }
    }

    /** What one batch did: its median gap between a row's tokens, and all rows' tokens per second of decoding. */
    private record Run(double medianGapMs, double tokensPerSecond, int tokens) {
    }

    /**
     * Submits {@code rows} requests at once ({@code constrained} of them with {@code constraint}; no
     * stop tokens, so unconstrained rows run {@code tokens} tokens) and times their tokens.
     */
    private static Run generate(Engine engine, int rows, int constrained, int tokens, CompiledConstraint constraint,
                                int seed) throws Exception {
        List<CompletableFuture<long[]>> ends = new ArrayList<>();
        for (int r = 0; r < rows; r++) {
            CompletableFuture<long[]> end = new CompletableFuture<>();
            ends.add(end);
            long[] times = new long[tokens];
            int[] n = {0};
            CompiledConstraint c = r < constrained ? constraint : null;
            engine.submit(new EngineRequest("r" + r, new int[] {464, 2068, 7586, 21831, 18045 + r},
                    new SamplingParams(1.0, 0, 1, 1, 0, 0, 1000L * seed + r), tokens, new int[0], -1, false, 0, c), ev -> {
                if (ev instanceof TokenEvent.Token) {
                    times[n[0]++] = System.nanoTime();
                }
                if (ev.isEnd()) {
                    end.complete(Arrays.copyOf(times, n[0]));
                }
            });
        }
        List<Double> gaps = new ArrayList<>();
        long firstToken = Long.MAX_VALUE;
        long lastToken = 0;
        int total = 0;
        for (CompletableFuture<long[]> e : ends) {
            long[] t = e.get();
            for (int i = 1; i < t.length; i++) {
                gaps.add((t[i] - t[i - 1]) / 1e6);
            }
            if (t.length > 0) {
                firstToken = Math.min(firstToken, t[0]);
                lastToken = Math.max(lastToken, t[t.length - 1]);
                total += t.length - 1; // tokens after each row's first: decode only, no prefill
            }
        }
        double[] g = gaps.stream().mapToDouble(Double::doubleValue).toArray();
        return new Run(median(g), total * 1e9 / Math.max(1, lastToken - firstToken), total);
    }

    private static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        return s.length == 0 ? Double.NaN : s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }

    private static double min(double[] v) {
        return Arrays.stream(v).min().orElse(Double.NaN);
    }

    private static double max(double[] v) {
        return Arrays.stream(v).max().orElse(Double.NaN);
    }

    private ConstraintBenchmark() {
    }
}
