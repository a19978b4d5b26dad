package io.spindle.bench;

import ai.onnxruntime.OrtSession;
import io.spindle.engine.exec.StepInput;
import io.spindle.engine.exec.StepOutput;
import io.spindle.model.ModelConfig;
import io.spindle.runtime.demo.DemoLayout;
import io.spindle.runtime.demo.DemoModelWriter;
import io.spindle.runtime.demo.DemoPreset;
import io.spindle.runtime.demo.Gpt2Shape;
import io.spindle.runtime.family.gpt2.Gpt2Loader;
import io.spindle.runtime.family.gpt2.Gpt2Decoder;
import io.spindle.runtime.family.gpt2.InPlaceKvPrototype;
import io.spindle.runtime.onnx.KvDtype;
import io.spindle.runtime.onnx.OrtRuntime;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * Issue 17: the serving graph through {@link Gpt2Runner} (past and present in alternating buffers,
 * the export's Concat copying the whole cache every step) against the in-place KV form
 * (GroupQueryAttention over a cache kept in place) served by {@code InPlaceKvRunner} with a float32 and
 * a float16 cache ({@code spindle.models.kv-dtype}), same weights; with {@code --prototype true} also
 * the first prototype driver ({@link InPlaceKvPrototype}, float32).
 *
 * <ol>
 *   <li>check: rows of different lengths prefilled, then greedy decode of all of them together in
 *   each in-place variant beside the current runner; prints the largest logit difference and whether
 *   every greedy token agreed;</li>
 *   <li>batch: {@code --rows} rows at each context of {@code --contexts}, every (variant, context) pair
 *   held at once and measured in interleaved blocks of {@code --steps} decode steps, {@code --rounds}
 *   times; prints median step ms and the long/short ratio;</li>
 *   <li>single: one row at context 16, interleaved blocks, median tokens/s of the blocks.</li>
 * </ol>
 * Run: {@code bash load-tests/lib/run-bench.sh io.spindle.bench.KvInPlaceBenchmark [--preset gpt2-124m]
 * [--rows 8] [--contexts 16,960] [--steps 10] [--rounds 5] [--prototype true]}.
 *
 * <p>With {@code --burst 8,32} it runs only the burst case instead: that many prompts of
 * {@code --burst-tokens} (16) tokens arriving in one step of the in-place runner (float32 cache), with
 * the step's first chunks batched into one call and without (one call per chunk), alternating
 * {@code --rounds} times; prints median step ms and graph calls per step of each. Then one prompt alone
 * at 2, 16, 64 and 128 tokens, whose fitted line says how many positions of computation one call's fixed
 * cost is worth (what {@code InPlaceKvRunner.PADDING_PER_CALL_SAVED} stands for).
 */
public final class KvInPlaceBenchmark {
    private static long nextId = 1;

    public static void main(String[] args) throws Exception {
        Map<String, String> opt = BenchServer.options(args);
        DemoPreset preset = DemoPreset.parse(opt.getOrDefault("preset", "gpt2-124m"));
        int rows = Integer.parseInt(opt.getOrDefault("rows", "8"));
        int[] contexts = Arrays.stream(opt.getOrDefault("contexts", "16,960").split(",")).mapToInt(Integer::parseInt).toArray();
        int steps = Integer.parseInt(opt.getOrDefault("steps", "10"));
        int rounds = Integer.parseInt(opt.getOrDefault("rounds", "5"));
        int singleSteps = Integer.parseInt(opt.getOrDefault("single-steps", "16"));
        boolean check = !"false".equals(opt.get("check"));
        Gpt2Shape shape = preset.shape();
        Path dir = BenchServer.demoModel(preset);
        OrtRuntime ort = new OrtRuntime("cpu", 0);
        Path graph = InPlaceKvPrototype.ensureGraph(dir, shape, DemoModelWriter.DEFAULT_SEED,
                "true".equals(opt.get("scores-output")));
        int maxLen = shape.contextLength();
        if ("true".equals(opt.get("profile"))) {
            for (int c : contexts) {
                profile(ort, graph, shape, rows, c, maxLen);
            }
            return;
        }
        if (opt.containsKey("burst")) {
            burst(ort, inPlaceModel(preset, KvDtype.FLOAT32),
                    Arrays.stream(opt.get("burst").split(",")).mapToInt(Integer::parseInt).toArray(),
                    Integer.parseInt(opt.getOrDefault("burst-tokens", "16")), rounds);
            return;
        }
        int longest = Arrays.stream(contexts).max().orElse(0);
        if (longest + 2 + rounds * steps >= maxLen) {
            throw new IllegalArgumentException("context " + longest + " + " + (2 + rounds * steps) + " decode steps exceeds "
                    + maxLen + " positions");
        }
        Map<String, Path> inPlace = new java.util.LinkedHashMap<>();
        for (KvDtype d : KvDtype.values()) {
            inPlace.put("in-place " + (d == KvDtype.FLOAT32 ? "f32" : "f16"), inPlaceModel(preset, d));
        }
        boolean prototype = "true".equals(opt.get("prototype"));
        try (OrtSession session = prototype ? ort.open(graph) : null) {
            if (check) {
                check(ort, dir, inPlace, shape, maxLen);
            }
            batch(ort, dir, inPlace, session, shape, rows, contexts, steps, rounds, maxLen);
            single(ort, dir, inPlace, shape, singleSteps, rounds, maxLen);
        }
    }

    /** The demo's in-place KV layout of the same weights, its cache in {@code dtype}. */
    private static Path inPlaceModel(DemoPreset preset, KvDtype dtype) throws java.io.IOException {
        Path cache = Path.of(System.getProperty("user.home"), ".cache", "spindle", "models");
        long seed = DemoModelWriter.DEFAULT_SEED;
        return new DemoModelWriter().withKvDtype(dtype).ensure(
                cache.resolve(DemoModelWriter.cacheName(preset, DemoLayout.IN_PLACE_KV, seed, dtype)),
                preset, DemoLayout.IN_PLACE_KV, seed);
    }

    /** One variant holding {@code rows} sequences at one context. */
    private interface Variant {
        /** One greedy decode step of every row; ms. */
        double step() throws Exception;
    }

    private static final class Current implements Variant {
        final Gpt2Decoder runner;
        final int[][] tokens;
        final int[] at;
        final long[] ids;
        final float[] logits;

        Current(Gpt2Decoder runner, int[][] prompts, int capacity) throws Exception {
            this.runner = runner;
            int rows = prompts.length;
            tokens = new int[rows][capacity];
            at = new int[rows];
            ids = new long[rows];
            logits = new float[runner.graph().vocabSize()];
            for (int r = 0; r < rows; r++) {
                System.arraycopy(prompts[r], 0, tokens[r], 0, prompts[r].length);
                ids[r] = nextId++;
                StepOutput out = runner.execute(List.of(new StepInput(ids[r], tokens[r], 0, prompts[r].length)));
                out.copyLogits(0, logits);
                at[r] = prompts[r].length;
                tokens[r][at[r]] = argmax(logits);
            }
        }

        StepOutput last;

        @Override
        public double step() throws Exception {
            long t0 = System.nanoTime();
            List<StepInput> batch = new ArrayList<>(tokens.length);
            for (int r = 0; r < tokens.length; r++) {
                batch.add(new StepInput(ids[r], tokens[r], at[r], at[r] + 1));
            }
            last = runner.execute(batch);
            for (int r = 0; r < tokens.length; r++) {
                last.copyLogits(r, logits);
                at[r]++;
                tokens[r][at[r]] = argmax(logits);
            }
            return (System.nanoTime() - t0) / 1e6;
        }

        void release() {
            for (long id : ids) {
                runner.release(id);
            }
        }
    }

    private static final class InPlace implements Variant {
        final InPlaceKvPrototype kv;
        final int[][] tokens;
        final int[] at;
        final int[][] fed;
        final int[] past;
        float[][] last;

        InPlace(InPlaceKvPrototype kv, int[][] prompts, int capacity) throws Exception {
            this.kv = kv;
            int rows = prompts.length;
            tokens = new int[rows][capacity];
            at = new int[rows];
            fed = new int[rows][1];
            past = new int[rows];
            for (int r = 0; r < rows; r++) {
                System.arraycopy(prompts[r], 0, tokens[r], 0, prompts[r].length);
                float[] l = kv.step(r, new int[][] {prompts[r]}, new int[] {0})[0];
                at[r] = prompts[r].length;
                tokens[r][at[r]] = argmax(l);
            }
        }

        @Override
        public double step() throws Exception {
            long t0 = System.nanoTime();
            for (int r = 0; r < tokens.length; r++) {
                fed[r][0] = tokens[r][at[r]];
                past[r] = at[r];
            }
            last = kv.step(0, fed, past);
            for (int r = 0; r < tokens.length; r++) {
                at[r]++;
                tokens[r][at[r]] = argmax(last[r]);
            }
            return (System.nanoTime() - t0) / 1e6;
        }
    }

    private static void check(OrtRuntime ort, Path dir, Map<String, Path> inPlace, Gpt2Shape shape, int maxLen)
            throws Exception {
        int decodeSteps = 16;
        int[] lengths = Arrays.stream(new int[] {16, 100, 960, 33, 7, 500, 250, 64})
                .map(n -> Math.min(n, maxLen - decodeSteps - 1)).toArray();
        int[][] prompts = prompts(lengths, 7);
        for (Map.Entry<String, Path> e : inPlace.entrySet()) {
            try (Gpt2Decoder runner = Gpt2Loader.load(ort, dir, ModelConfig.read(dir));
                 Gpt2Decoder kv = Gpt2Loader.load(ort, e.getValue(), ModelConfig.read(e.getValue()))) {
                Current cur = new Current(runner, prompts, maxLen + 1);
                Current gqa = new Current(kv, prompts, maxLen + 1);
                float worst = 0;
                boolean same = Arrays.deepEquals(cur.tokens, gqa.tokens);
                float[] l = new float[shape.vocabSize()];
                float[] m = new float[shape.vocabSize()];
                for (int s = 0; s < decodeSteps; s++) {
                    cur.step();
                    gqa.step();
                    for (int r = 0; r < lengths.length; r++) {
                        cur.last.copyLogits(r, l);
                        gqa.last.copyLogits(r, m);
                        for (int v = 0; v < l.length; v++) {
                            worst = Math.max(worst, Math.abs(l[v] - m[v]));
                        }
                    }
                    same &= Arrays.deepEquals(cur.tokens, gqa.tokens);
                }
                System.out.printf("check %s: %d rows of lengths %s, %d greedy decode steps together: max |dlogit| %.3g over"
                                + " every row and step, greedy tokens %s%n", e.getKey(), lengths.length,
                        Arrays.toString(lengths), decodeSteps, worst, same ? "all equal" : "DIFFER");
                cur.release();
                gqa.release();
            }
        }
    }

    private static void batch(OrtRuntime ort, Path dir, Map<String, Path> inPlace, OrtSession prototype, Gpt2Shape shape,
                              int rows, int[] contexts, int steps, int rounds, int maxLen) throws Exception {
        List<Gpt2Decoder> runners = new ArrayList<>();
        List<InPlaceKvPrototype> drivers = new ArrayList<>();
        List<String> kinds = new ArrayList<>();
        kinds.add("current");
        kinds.addAll(inPlace.keySet());
        if (prototype != null) {
            kinds.add("prototype f32");
        }
        // variants.get(c * kinds + k): kind k at context c.
        List<Variant> variants = new ArrayList<>();
        try {
            for (int c : contexts) {
                int[] lengths = new int[rows];
                Arrays.fill(lengths, c);
                int[][] prompts = prompts(lengths, c);
                StringBuilder took = new StringBuilder();
                for (String kind : kinds) {
                    long t0 = System.nanoTime();
                    if (kind.startsWith("prototype")) {
                        InPlaceKvPrototype kv = new InPlaceKvPrototype(ort.env(), prototype, shape, rows, maxLen);
                        drivers.add(kv);
                        variants.add(new InPlace(kv, prompts, maxLen + 1));
                    } else {
                        Path d = kind.equals("current") ? dir : inPlace.get(kind);
                        Gpt2Decoder runner = Gpt2Loader.load(ort, d, ModelConfig.read(d));
                        runners.add(runner);
                        variants.add(new Current(runner, prompts, maxLen + 1));
                    }
                    took.append(String.format(" %s %.0f ms,", kind, (System.nanoTime() - t0) / 1e6));
                }
                System.out.printf("prefill %d rows x %d tokens, one row per call:%s%n", rows, c, took);
            }
            for (Variant v : variants) {
                for (int w = 0; w < 2; w++) {
                    v.step();
                }
            }
            double[][] ms = new double[variants.size()][rounds * steps];
            for (int round = 0; round < rounds; round++) {
                for (int v = 0; v < variants.size(); v++) {
                    for (int s = 0; s < steps; s++) {
                        ms[v][round * steps + s] = variants.get(v).step();
                    }
                }
            }
            System.out.printf("batch %d, median decode step ms (%d steps each, %d interleaved rounds):%n", rows, steps, rounds);
            int k = kinds.size();
            double[] med = new double[variants.size()];
            for (int v = 0; v < variants.size(); v++) {
                med[v] = median(ms[v]);
                System.out.printf("  %-14s ctx %-5d %8.1f  (p10 %.1f, p90 %.1f)%n", kinds.get(v % k), contexts[v / k], med[v],
                        pct(ms[v], 0.1), pct(ms[v], 0.9));
            }
            int last = contexts.length - 1;
            for (int j = 0; j < k; j++) {
                System.out.printf("  %-14s ctx %d / ctx %d: %.2fx; vs current at ctx %d: %.2f, at ctx %d: %.2f%n", kinds.get(j),
                        contexts[last], contexts[0], med[last * k + j] / med[j], contexts[0], med[j] / med[0],
                        contexts[last], med[last * k + j] / med[last * k]);
            }
            for (Variant v : variants) {
                if (v instanceof Current c) {
                    c.release();
                }
            }
        } finally {
            runners.forEach(Gpt2Decoder::close);
            drivers.forEach(InPlaceKvPrototype::close);
        }
    }

    private static void single(OrtRuntime ort, Path dir, Map<String, Path> inPlace, Gpt2Shape shape, int steps, int rounds,
                               int maxLen) throws Exception {
        int[][] prompts = prompts(new int[] {16}, 3);
        List<String> kinds = new ArrayList<>();
        kinds.add("current");
        kinds.addAll(inPlace.keySet());
        List<Gpt2Decoder> runners = new ArrayList<>();
        try {
            List<Current> vs = new ArrayList<>();
            for (String kind : kinds) {
                Path d = kind.equals("current") ? dir : inPlace.get(kind);
                Gpt2Decoder runner = Gpt2Loader.load(ort, d, ModelConfig.read(d));
                runners.add(runner);
                vs.add(new Current(runner, prompts, maxLen + 1));
            }
            for (int w = 0; w < 3; w++) {
                for (Current v : vs) {
                    v.step();
                }
            }
            double[][] tps = new double[vs.size()][rounds];
            double[][] ms = new double[vs.size()][rounds * steps];
            for (int round = 0; round < rounds; round++) {
                for (int v = 0; v < vs.size(); v++) {
                    tps[v][round] = block(vs.get(v), steps, ms[v], round * steps);
                }
            }
            StringBuilder line = new StringBuilder();
            for (int v = 0; v < vs.size(); v++) {
                line.append(String.format("%s %.1f tokens/s (step %.1f ms, × current %.2f)%s", kinds.get(v), median(tps[v]),
                        median(ms[v]), median(tps[v]) / median(tps[0]), v == vs.size() - 1 ? "" : "; "));
            }
            System.out.printf("batch 1 from context 16, %d blocks of %d greedy tokens: %s%n", rounds, steps, line);
            for (Current v : vs) {
                v.release();
            }
        } finally {
            runners.forEach(Gpt2Decoder::close);
        }
    }

    /**
     * {@code sizes} prompts of {@code tokens} tokens arriving in one step, first chunks batched (one call)
     * and not (a call per chunk), alternating; then one prompt alone at several lengths.
     */
    private static void burst(OrtRuntime ort, Path model, int[] sizes, int tokens, int rounds) throws Exception {
        try (Gpt2Decoder runner = Gpt2Loader.load(ort, model, ModelConfig.read(model))) {
            for (int size : sizes) {
                int[] lengths = new int[size];
                Arrays.fill(lengths, tokens);
                int[][] prompts = prompts(lengths, size);
                double[][] ms = new double[2][rounds];
                long[][] calls = new long[2][rounds];
                for (int w = 0; w < 2; w++) {
                    burstStep(runner, prompts, w == 0);
                }
                for (int round = 0; round < rounds; round++) {
                    for (int mode = 0; mode < 2; mode++) {
                        // Alternate which goes first, so that neither always follows the other.
                        boolean batched = (mode == 0) == (round % 2 == 0);
                        long c0 = io.spindle.runtime.family.gpt2.InPlaceKvRunnerHooks.graphCalls(runner);
                        ms[batched ? 0 : 1][round] = burstStep(runner, prompts, batched);
                        calls[batched ? 0 : 1][round] = io.spindle.runtime.family.gpt2.InPlaceKvRunnerHooks.graphCalls(runner) - c0;
                    }
                }
                System.out.printf("burst of %d prompts x %d tokens in one step, median of %d alternating rounds: batched %.1f ms"
                                + " (%d call), one call per chunk %.1f ms (%d calls): %.2fx (per round: %s vs %s)%n", size, tokens,
                        rounds, median(ms[0]), calls[0][0], median(ms[1]), calls[1][0], median(ms[1]) / median(ms[0]),
                        Arrays.toString(Arrays.stream(ms[0]).map(Math::round).toArray()),
                        Arrays.toString(Arrays.stream(ms[1]).map(Math::round).toArray()));
            }
            int[] lengths = {2, 16, 64, 128};
            double[] ms = new double[lengths.length];
            for (int i = 0; i < lengths.length; i++) {
                int[][] one = prompts(new int[] {lengths[i]}, 5);
                burstStep(runner, one, true);
                double[] each = new double[rounds];
                for (int round = 0; round < rounds; round++) {
                    each[round] = burstStep(runner, one, true);
                }
                ms[i] = median(each);
            }
            double slope = (ms[lengths.length - 1] - ms[0]) / (lengths[lengths.length - 1] - lengths[0]);
            double fixed = ms[0] - slope * lengths[0];
            System.out.printf("one prompt alone, median ms at %s tokens: %s; line: %.1f ms per call + %.2f ms per position"
                    + " (a call is worth %.0f positions)%n", Arrays.toString(lengths),
                    Arrays.toString(Arrays.stream(ms).map(x -> Math.round(x * 10) / 10.0).toArray()), fixed, slope, fixed / slope);
        }
    }

    /** One step feeding every prompt from position 0 as new sequences; ms. The sequences are released after. */
    private static double burstStep(Gpt2Decoder runner, int[][] prompts, boolean batched) throws Exception {
        io.spindle.runtime.family.gpt2.InPlaceKvRunnerHooks.batchFirstChunks(runner, batched);
        List<StepInput> step = new ArrayList<>(prompts.length);
        for (int[] p : prompts) {
            step.add(new StepInput(nextId++, p, 0, p.length));
        }
        float[] logits = new float[runner.vocabSize()];
        long t0 = System.nanoTime();
        StepOutput out = runner.execute(step);
        for (int r = 0; r < step.size(); r++) {
            out.copyLogits(r, logits);
        }
        double ms = (System.nanoTime() - t0) / 1e6;
        for (StepInput in : step) {
            runner.release(in.sequenceId());
        }
        return ms;
    }

    /**
     * ONNX Runtime's profile of in-place decode steps at {@code rows} rows whose caches hold {@code past}
     * positions (zeros: the kernel's work depends on the lengths, not the values).
     */
    private static void profile(OrtRuntime ort, Path graph, Gpt2Shape shape, int rows, int past, int maxLen)
            throws Exception {
        Path prefix = java.nio.file.Files.createTempDirectory("spindle-kv-profile").resolve("decode");
        try (OrtSession.SessionOptions o = new OrtSession.SessionOptions()) {
            o.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.ALL_OPT);
            o.enableProfiling(prefix.toString());
            try (OrtSession s = ort.env().createSession(graph.toString(), o);
                 InPlaceKvPrototype kv = new InPlaceKvPrototype(ort.env(), s, shape, rows, maxLen)) {
                int[][] fed = new int[rows][];
                int[] pasts = new int[rows];
                for (int r = 0; r < rows; r++) {
                    fed[r] = new int[] {500 + r};
                    pasts[r] = past;
                }
                double[] ms = new double[12];
                for (int i = 0; i < ms.length; i++) {
                    long t0 = System.nanoTime();
                    kv.step(0, fed, pasts);
                    ms[i] = (System.nanoTime() - t0) / 1e6;
                }
                System.out.printf("profile: in-place decode, %d rows at past %d: median step %.1f ms%n", rows, past, median(ms));
                com.fasterxml.jackson.databind.JsonNode events = new com.fasterxml.jackson.databind.ObjectMapper()
                        .readTree(Path.of(s.endProfiling()).toFile());
                Map<String, Long> byOp = new java.util.TreeMap<>();
                long total = 0;
                for (var e : events) {
                    if (e.path("cat").asText().equals("Session") && e.path("name").asText().equals("model_run")) {
                        total += e.path("dur").asLong();
                    } else if (e.path("cat").asText().equals("Node") && e.path("name").asText().endsWith("_kernel_time")) {
                        byOp.merge(e.path("args").path("op_name").asText(), e.path("dur").asLong(), Long::sum);
                    }
                }
                final long whole = total;
                byOp.entrySet().stream().sorted((a, b) -> Long.compare(b.getValue(), a.getValue())).limit(6)
                        .forEach(en -> System.out.printf("  %-22s %5.1f%%%n", en.getKey(), 100.0 * en.getValue() / whole));
            }
        }
    }

    private static double block(Variant v, int steps, double[] ms, int at) throws Exception {
        long t0 = System.nanoTime();
        for (int s = 0; s < steps; s++) {
            ms[at + s] = v.step();
        }
        return steps / ((System.nanoTime() - t0) / 1e9);
    }

    private static int[][] prompts(int[] lengths, int salt) {
        int[][] p = new int[lengths.length][];
        for (int r = 0; r < lengths.length; r++) {
            p[r] = new int[lengths[r]];
            for (int i = 0; i < lengths[r]; i++) {
                p[r][i] = 100 + (r * 7919 + i * 13 + salt * 31) % 40000;
            }
        }
        return p;
    }

    private static int argmax(float[] l) {
        int best = 0;
        for (int i = 1; i < l.length; i++) {
            if (l[i] > l[best]) {
                best = i;
            }
        }
        return best;
    }

    private static double median(double[] xs) {
        return pct(xs, 0.5);
    }

    private static double pct(double[] xs, double p) {
        double[] s = xs.clone();
        Arrays.sort(s);
        return s[(int) Math.min(s.length - 1, Math.round(p * (s.length - 1)))];
    }

    private KvInPlaceBenchmark() {
    }
}
