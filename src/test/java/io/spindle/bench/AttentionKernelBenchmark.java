package io.spindle.bench;

import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import io.spindle.runtime.demo.AttentionKernelGraphs;
import io.spindle.runtime.demo.AttentionKernelGraphs.Scores;
import io.spindle.runtime.onnx.OrtRuntime;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Decode attention alone (one new token per row, 124M shape: 12 heads × 64, batch 8): the in-place
 * KV form's {@code GroupQueryAttention} with present bound to past (ONNX Runtime 1.29 CPU) against
 * standard-op forms that read the cache as a read-only input ({@link AttentionKernelGraphs#readOnly}),
 * the caller writing the new position's k/v afterwards. Question: does one of them read a 960-position
 * cache at a higher rate than GQA (issue 17's 960/16 ITL ratio)?
 *
 * <ol>
 *   <li>inputs: a direct buffer wrapped once is read in place by every run (a value changed in the
 *   buffer between runs shows in the output), and a graph reading one element of two cache-sized
 *   inputs costs the same at every length (no per-run input copy); and the rate at which ONNX Runtime
 *   reads such inputs at all (ReduceSum over K and V, once over one pair, once cycling over
 *   {@code --stack-layers} pairs);</li>
 *   <li>check: rows of different past lengths (mask and seqlens_k), every form's output against a
 *   double-precision reference computed here, and against GQA's;</li>
 *   <li>time: every row at past length L, {@code --rounds} rounds of a block of {@code --calls} runs
 *   of each (form, L), each case's runs taking turns over {@code --copies} copies of its caches (so
 *   that a run reads from memory rather than the last-level cache, as in a decode step whose other
 *   layers came between); median ms per run, the cache read rate (2·B·H·L·D·4 bytes per layer over
 *   the median), the ratio of medians to GQA's at the same L, and "paired": the median of the ratios
 *   of run k of a block to run k of GQA's block in the same round (less sensitive to a shared
 *   machine's slower spells);</li>
 *   <li>stack: the same with {@code --stack-layers} independent layers per graph (one copy: the layers
 *   are distinct memory) for the forms of {@code --stack} (a decode step's 12 attentions).</li>
 * </ol>
 * Every cache holds L + {@code --pad} positions (GQA's buffer is max_len; a read-only form reads the
 * whole buffer, the positions past a row's length masked). Sessions are opened as the server opens
 * them ({@link OrtRuntime}, CPU, intra-op threads 0 = one per core, spinning on, all optimisations).
 *
 * <p>Run: {@code bash load-tests/lib/run-bench.sh io.spindle.bench.AttentionKernelBenchmark
 * [--contexts 16,480,960] [--pad 64] [--forms gqa,gqa-qk,gqa-prescaled,k-q,q-kt,q-transpose-k,einsum,mul-reduce]
 * [--rounds 7] [--calls 30] [--copies 4] [--stack gqa,q-kt] [--stack-layers 12] [--stack-contexts 16,960] [--threads 0]}; with
 * {@code --profile FORMS [--profile-layers N]} only ONNX Runtime's per-node profile of those forms.
 */
public final class AttentionKernelBenchmark {
    static final int BATCH = 8;
    static final int HEADS = 12;
    static final int HEAD_DIM = 64;
    static final int HIDDEN = HEADS * HEAD_DIM;
    private static final float MASK_NEG = -1e9f;
    private static final double TOLERANCE = 1e-4;

    /** A form of decode attention under test, by its command-line name. */
    enum Form {
        GQA("gqa", null, false),
        GQA_QK("gqa-qk", null, true),
        /** GQA at scale 1 after a Mul that scales q inside the packed QKV. */
        GQA_PRESCALED("gqa-prescaled", null, false),
        K_Q("k-q", Scores.K_Q, false),
        Q_KT("q-kt", Scores.Q_KT, false),
        Q_TRANSPOSE_K("q-transpose-k", Scores.Q_TRANSPOSE_K, false),
        EINSUM("einsum", Scores.EINSUM, false),
        MUL_REDUCE("mul-reduce", Scores.MUL_REDUCE, false);

        final String label;
        final Scores scores;
        final boolean qk;

        Form(String label, Scores scores, boolean qk) {
            this.label = label;
            this.scores = scores;
            this.qk = qk;
        }

        boolean gqa() {
            return scores == null;
        }

        byte[] graph(int layers) {
            return gqa() ? AttentionKernelGraphs.groupQueryAttention(layers, HEADS, HEAD_DIM, qk, this == GQA_PRESCALED)
                    : AttentionKernelGraphs.readOnly(scores, layers, HEADS, HEAD_DIM);
        }

        static Form of(String label) {
            for (Form f : values()) {
                if (f.label.equals(label)) {
                    return f;
                }
            }
            throw new IllegalArgumentException("no form " + label + "; forms: "
                    + Arrays.stream(values()).map(f -> f.label).toList());
        }
    }

    public static void main(String[] args) throws Exception {
        Map<String, String> opt = BenchServer.options(args);
        int[] contexts = ints(opt.getOrDefault("contexts", "16,480,960"));
        int pad = Integer.parseInt(opt.getOrDefault("pad", "64"));
        List<Form> forms = forms(opt.getOrDefault("forms", "gqa,gqa-qk,gqa-prescaled,k-q,q-kt,q-transpose-k,einsum,mul-reduce"));
        int rounds = Integer.parseInt(opt.getOrDefault("rounds", "7"));
        int copies = Integer.parseInt(opt.getOrDefault("copies", "4"));
        int calls = Integer.parseInt(opt.getOrDefault("calls", "30"));
        String stackForms = opt.getOrDefault("stack", "gqa,q-kt");
        int stackLayers = Integer.parseInt(opt.getOrDefault("stack-layers", "12"));
        int[] stackContexts = ints(opt.getOrDefault("stack-contexts", "16,960"));
        if (pad < 1) {
            throw new IllegalArgumentException("--pad must be at least 1: GQA writes the new position at index L");
        }
        int threads = Integer.parseInt(opt.getOrDefault("threads", "0"));
        OrtRuntime ort = new OrtRuntime("cpu", threads);
        System.out.printf("batch %d, %d heads × %d, float32; caches of L + %d positions; %d cores, intra-op threads %s; load %s%n",
                BATCH, HEADS, HEAD_DIM, pad, Runtime.getRuntime().availableProcessors(),
                threads == 0 ? "0 (one per core)" : threads, loadAverage());
        if (opt.containsKey("profile")) {
            for (int L : contexts) {
                for (Form f : forms(opt.get("profile"))) {
                    profile(f, L, pad, threads, Integer.parseInt(opt.getOrDefault("profile-layers", "1")));
                }
            }
            return;
        }
        inputsInPlace(ort, contexts, pad, stackLayers);
        if (!forms.isEmpty()) {
            measure(ort, forms, contexts, pad, 1, copies, rounds, calls);
        }
        if (!stackForms.isBlank()) {
            // The closed cases' direct buffers (gigabytes) go back before the stack allocates as much again.
            System.gc();
            measure(ort, forms(stackForms), stackContexts, pad, stackLayers, 1, rounds, Math.max(3, calls / 4));
        }
        System.out.printf("load at the end %s%n", loadAverage());
    }

    private static void measure(OrtRuntime ort, List<Form> forms, int[] contexts, int pad, int layers, int copies, int rounds,
                                int calls) throws Exception {
        List<Case> cases = new ArrayList<>();
        try {
            for (int L : contexts) {
                CacheData data = new CacheData(L + pad, new SplittableRandom(17 + L));
                int[] mixed = mixedLengths(L);
                double[] reference = reference(data, mixed);
                Case gqa = null;
                for (Form f : forms) {
                    Case c = new Case(ort, f, L, L + pad, layers, copies, data);
                    cases.add(c);
                    double[] worst = check(c, mixed, reference, gqa);
                    boolean ok = worst[0] <= TOLERANCE && worst[1] <= TOLERANCE;
                    System.out.printf("check %d layer(s) L %d %-14s rows of past lengths %s: max |diff| vs reference %.2e,"
                                    + " vs gqa %s  %s%n", layers, L, f.label, Arrays.toString(mixed), worst[0],
                            gqa == null ? "-" : String.format("%.2e", worst[1]), ok ? "OK" : "MISMATCH");
                    if (!ok) {
                        throw new IllegalStateException(f.label + " at L " + L + " differs beyond " + TOLERANCE);
                    }
                    if (f.gqa() && gqa == null) {
                        gqa = c;
                    }
                    int[] uniform = new int[BATCH];
                    Arrays.fill(uniform, L);
                    c.lengths(uniform);
                }
            }
            for (Case c : cases) {
                for (int w = 0; w < 3; w++) {
                    c.run();
                }
            }
            // Blocks of runs, case after case, round after round: each session keeps its intra-op threads spinning between
            // its own runs, as the server's one session does (alternating sessions run by run slowed every case several
            // times over). Each case's runs take turns over its copies of the caches, so that a run reads memory
            // that the last-level cache no longer holds, as it would after a decode step's other layers.
            double[][] ms = new double[cases.size()][rounds * calls];
            for (int r = 0; r < rounds; r++) {
                for (int ci = 0; ci < cases.size(); ci++) {
                    for (int k = 0; k < calls; k++) {
                        long t0 = System.nanoTime();
                        cases.get(ci).run();
                        ms[ci][r * calls + k] = (System.nanoTime() - t0) / 1e6;
                    }
                }
            }
            System.out.printf("%d layer(s) per run, %d cache cop%s taken in turn, every row at past length L; %d rounds of a"
                    + " block of %d runs per case (load %s):%n", layers, copies, copies == 1 ? "y" : "ies", rounds, calls,
                    loadAverage());
            System.out.printf("  %-14s %5s %9s %9s %9s %8s %8s %8s  %s%n", "form", "L", "median", "p10", "p90", "GB/s", "× gqa",
                    "paired", "round medians");
            Map<Integer, Integer> gqaAt = new HashMap<>();
            for (int ci = 0; ci < cases.size(); ci++) {
                if (cases.get(ci).form == Form.GQA) {
                    gqaAt.put(cases.get(ci).L, ci);
                }
            }
            for (int ci = 0; ci < cases.size(); ci++) {
                Case c = cases.get(ci);
                double m = median(ms[ci]);
                double bytes = 2.0 * BATCH * HEADS * c.L * HEAD_DIM * Float.BYTES * layers;
                Integer g = gqaAt.get(c.L);
                String vsGqa = "-";
                String paired = "-";
                if (g != null) {
                    vsGqa = String.format("%.2f", m / median(ms[g]));
                    double[] ratio = new double[ms[ci].length];
                    for (int j = 0; j < ratio.length; j++) {
                        ratio[j] = ms[ci][j] / ms[g][j];
                    }
                    paired = String.format("%.2f", median(ratio));
                }
                List<String> perRound = new ArrayList<>();
                for (int r = 0; r < rounds; r++) {
                    perRound.add(String.format("%.2f", median(Arrays.copyOfRange(ms[ci], r * calls, (r + 1) * calls))));
                }
                System.out.printf("  %-14s %5d %9.3f %9.3f %9.3f %8.1f %8s %8s  %s%n", c.form.label, c.L, m, pct(ms[ci], 0.1),
                        pct(ms[ci], 0.9), bytes / (m / 1e3) / 1e9, vsGqa, paired, perRound);
            }
            Map<Form, Map<Integer, Double>> byForm = new LinkedHashMap<>();
            for (int ci = 0; ci < cases.size(); ci++) {
                byForm.computeIfAbsent(cases.get(ci).form, f -> new HashMap<>()).put(cases.get(ci).L, median(ms[ci]));
            }
            int lo = contexts[0];
            int hi = contexts[contexts.length - 1];
            for (Map.Entry<Form, Map<Integer, Double>> e : byForm.entrySet()) {
                System.out.printf("  %-14s L %d − L %d: +%.3f ms per run%n", e.getKey().label, hi, lo,
                        e.getValue().get(hi) - e.getValue().get(lo));
            }
        } finally {
            for (Case c : cases) {
                c.close();
            }
        }
    }

    /**
     * Runs {@code c} once with rows of past lengths {@code past}; the largest difference of any layer's
     * output from {@code reference} and from {@code gqa}'s last output (0 when null).
     */
    static double[] check(Case c, int[] past, double[] reference, Case gqa) throws OrtException {
        c.lengths(past);
        c.run();
        double worstRef = 0;
        double worstGqa = 0;
        for (int i = 0; i < c.layers; i++) {
            float[] out = c.attention(i);
            worstRef = Math.max(worstRef, maxDiff(out, reference));
            if (gqa != null) {
                worstGqa = Math.max(worstGqa, maxDiff(out, gqa.attention(i)));
            }
        }
        return new double[] {worstRef, worstGqa};
    }

    /** Row b's past length in the check: the first row at L, the others shorter (at least 1). */
    static int[] mixedLengths(int L) {
        int[] lengths = new int[BATCH];
        int[] percent = {100, 50, 3, 90, 33, 75, 10, 61};
        for (int b = 0; b < BATCH; b++) {
            lengths[b] = Math.max(1, Math.min(L, L * percent[b] / 100 - b % 2));
        }
        lengths[0] = L;
        return lengths;
    }

    /** The cache and new-token values every form of one L starts from. */
    static final class CacheData {
        final int capacity;
        /** [B,H,capacity,D] */
        final float[] keys;
        final float[] values;
        /** [B,1,3·H·D]: q, k_new, v_new. */
        final float[] qkv;

        CacheData(int capacity, SplittableRandom random) {
            this.capacity = capacity;
            int n = BATCH * HEADS * capacity * HEAD_DIM;
            keys = new float[n];
            values = new float[n];
            qkv = new float[BATCH * 3 * HIDDEN];
            for (int i = 0; i < n; i++) {
                keys[i] = (float) random.nextDouble(-1, 1);
                values[i] = (float) random.nextDouble(-1, 1);
            }
            for (int i = 0; i < qkv.length; i++) {
                qkv[i] = (float) random.nextDouble(-1, 1);
            }
        }

        int at(int b, int h, int p, int d) {
            return ((b * HEADS + h) * capacity + p) * HEAD_DIM + d;
        }
    }

    /** Softmax attention of each row's q over its first lengths[b] cached positions and its own k/v, in double; [B,1,H·D]. */
    static double[] reference(CacheData data, int[] lengths) {
        double[] out = new double[BATCH * HIDDEN];
        double scale = 1.0 / Math.sqrt(HEAD_DIM);
        for (int b = 0; b < BATCH; b++) {
            int base = b * 3 * HIDDEN;
            for (int h = 0; h < HEADS; h++) {
                int n = lengths[b];
                double[] s = new double[n + 1];
                for (int p = 0; p <= n; p++) {
                    double dot = 0;
                    for (int d = 0; d < HEAD_DIM; d++) {
                        double k = p < n ? data.keys[data.at(b, h, p, d)] : data.qkv[base + HIDDEN + h * HEAD_DIM + d];
                        dot += data.qkv[base + h * HEAD_DIM + d] * k;
                    }
                    s[p] = dot * scale;
                }
                double max = Arrays.stream(s).max().orElseThrow();
                double sum = 0;
                for (int p = 0; p <= n; p++) {
                    s[p] = Math.exp(s[p] - max);
                    sum += s[p];
                }
                for (int d = 0; d < HEAD_DIM; d++) {
                    double acc = 0;
                    for (int p = 0; p <= n; p++) {
                        double v = p < n ? data.values[data.at(b, h, p, d)] : data.qkv[base + 2 * HIDDEN + h * HEAD_DIM + d];
                        acc += s[p] / sum * v;
                    }
                    out[b * HIDDEN + h * HEAD_DIM + d] = acc;
                }
            }
        }
        return out;
    }

    /**
     * One form at one L: its session and, per layer, cache tensors over direct buffers wrapped once and
     * pinned output tensors, so that a run moves nothing between Java and ONNX Runtime.
     */
    static final class Case implements AutoCloseable {
        final Form form;
        final int L;
        final int capacity;
        final int layers;
        private final OrtEnvironment env;
        private final OrtSession session;
        private final Map<String, OnnxTensor> inputs = new HashMap<>();
        private final Map<String, OnnxTensor> outputs = new HashMap<>();
        private final List<Map<String, OnnxTensor>> inputsByCopy = new ArrayList<>();
        private final List<Map<String, OnnxTensor>> outputsByCopy = new ArrayList<>();
        private int next;
        private final List<OnnxTensor> owned = new ArrayList<>();
        private final FloatBuffer[] attention;
        private final ByteBuffer lengthInput;
        private final ByteBuffer totalInput;

        Case(OrtRuntime ort, Form form, int L, int capacity, int layers, int copies, CacheData data) throws Exception {
            this(open(ort, form, layers), form, L, capacity, layers, copies, data);
        }

        private static OrtSession open(OrtRuntime ort, Form form, int layers) throws Exception {
            Path file = Files.createTempFile("spindle-attention-" + form.label + "-", ".onnx");
            try {
                Files.write(file, form.graph(layers));
                return ort.open(file);
            } finally {
                Files.deleteIfExists(file);
            }
        }

        /**
         * Over {@code session}, which this case closes; with {@code copies} sets of caches (same values) that runs
         * take in turn.
         */
        Case(OrtSession session, Form form, int L, int capacity, int layers, int copies, CacheData data) throws Exception {
            this.form = form;
            this.L = L;
            this.capacity = capacity;
            this.layers = layers;
            this.env = OrtEnvironment.getEnvironment();
            this.session = session;
            attention = new FloatBuffer[layers];
            try {
                long[] cacheShape = {BATCH, HEADS, capacity, HEAD_DIM};
                ByteBuffer qkv = direct(data.qkv.length);
                qkv.asFloatBuffer().put(data.qkv);
                OnnxTensor qkvTensor = own(OnnxTensor.createTensor(env, qkv, new long[] {BATCH, 1, 3 * HIDDEN}, OnnxJavaType.FLOAT));
                for (int i = 0; i < layers; i++) {
                    inputs.put("qkv." + i, qkvTensor);
                    ByteBuffer a = direct(BATCH * HIDDEN);
                    attention[i] = a.asFloatBuffer();
                    outputs.put("attn." + i, own(OnnxTensor.createTensor(env, a, new long[] {BATCH, 1, HIDDEN}, OnnxJavaType.FLOAT)));
                    if (!form.gqa()) {
                        long[] one = {BATCH, HEADS, 1, HEAD_DIM};
                        outputs.put("k_new." + i, own(OnnxTensor.createTensor(env, direct(BATCH * HIDDEN), one, OnnxJavaType.FLOAT)));
                        outputs.put("v_new." + i, own(OnnxTensor.createTensor(env, direct(BATCH * HIDDEN), one, OnnxJavaType.FLOAT)));
                    }
                }
                if (form.gqa()) {
                    lengthInput = direct(BATCH);
                    totalInput = direct(1);
                    inputs.put("seqlens_k", own(OnnxTensor.createTensor(env, lengthInput, new long[] {BATCH}, OnnxJavaType.INT32)));
                    inputs.put("total_sequence_length", own(OnnxTensor.createTensor(env, totalInput, new long[0], OnnxJavaType.INT32)));
                } else {
                    lengthInput = direct(BATCH * capacity);
                    totalInput = null;
                    inputs.put("mask", own(OnnxTensor.createTensor(env, lengthInput, new long[] {BATCH, 1, 1, capacity},
                            OnnxJavaType.FLOAT)));
                }
                long[] keyShape = form.scores != null && form.scores.transposedKeys()
                        ? new long[] {BATCH, HEADS, HEAD_DIM, capacity} : cacheShape;
                for (int copy = 0; copy < copies; copy++) {
                    Map<String, OnnxTensor> in = new HashMap<>(inputs);
                    Map<String, OnnxTensor> out = new HashMap<>(outputs);
                    for (int i = 0; i < layers; i++) {
                        ByteBuffer k = direct(data.keys.length);
                        ByteBuffer v = direct(data.values.length);
                        v.asFloatBuffer().put(data.values);
                        if (keyShape != cacheShape) {
                            FloatBuffer kt = k.asFloatBuffer();
                            for (int bh = 0; bh < BATCH * HEADS; bh++) {
                                for (int p = 0; p < capacity; p++) {
                                    for (int d = 0; d < HEAD_DIM; d++) {
                                        kt.put((bh * HEAD_DIM + d) * capacity + p, data.keys[(bh * capacity + p) * HEAD_DIM + d]);
                                    }
                                }
                            }
                        } else {
                            k.asFloatBuffer().put(data.keys);
                        }
                        OnnxTensor kt = own(OnnxTensor.createTensor(env, k, keyShape, OnnxJavaType.FLOAT));
                        OnnxTensor vt = own(OnnxTensor.createTensor(env, v, cacheShape, OnnxJavaType.FLOAT));
                        in.put("cache." + i + ".key", kt);
                        in.put("cache." + i + ".value", vt);
                        if (form.gqa()) {
                            // As InPlaceKvRunner binds them: each present output is its past input's very tensor.
                            out.put("present." + i + ".key", kt);
                            out.put("present." + i + ".value", vt);
                        }
                    }
                    inputsByCopy.add(in);
                    outputsByCopy.add(out);
                }
            } catch (OrtException | RuntimeException e) {
                close();
                throw e;
            }
        }

        /** Sets each row's past length (GQA: seqlens_k and total_sequence_length; the others: the mask), in place. */
        void lengths(int[] past) {
            if (form.gqa()) {
                int total = 0;
                for (int b = 0; b < BATCH; b++) {
                    lengthInput.putInt(b * 4, past[b]);
                    total = Math.max(total, past[b] + 1);
                }
                totalInput.putInt(0, total);
            } else {
                for (int b = 0; b < BATCH; b++) {
                    for (int p = 0; p < capacity; p++) {
                        lengthInput.putFloat((b * capacity + p) * 4, p < past[b] ? 0f : MASK_NEG);
                    }
                }
            }
        }

        /** One run, over the next copy of the caches. */
        void run() throws OrtException {
            int copy = next++ % inputsByCopy.size();
            session.run(inputsByCopy.get(copy), outputsByCopy.get(copy)).close();
        }

        float[] attention(int layer) {
            float[] out = new float[BATCH * HIDDEN];
            attention[layer].get(0, out);
            return out;
        }

        private OnnxTensor own(OnnxTensor t) {
            owned.add(t);
            return t;
        }

        void closeTensors() {
            for (OnnxTensor t : owned) {
                t.close();
            }
            owned.clear();
        }

        @Override
        public void close() throws OrtException {
            closeTensors();
            session.close();
        }
    }

    /**
     * Whether ONNX Runtime reads a tensor over a direct buffer in place on every run: a value written
     * into the buffer after the tensor was made shows in the next run's output, and a run of a graph
     * that touches one element of two cache-sized inputs costs the same at every length.
     */
    private static void inputsInPlace(OrtRuntime ort, int[] contexts, int pad, int copies) throws Exception {
        Path touch = Files.createTempFile("spindle-attention-touch-", ".onnx");
        Path read = Files.createTempFile("spindle-attention-read-", ".onnx");
        Files.write(touch, AttentionKernelGraphs.touchOnly(HEADS, HEAD_DIM));
        Files.write(read, AttentionKernelGraphs.readAll(HEADS, HEAD_DIM));
        try (OrtSession s = ort.open(touch); OrtSession all = ort.open(read)) {
            StringBuilder line = new StringBuilder();
            StringBuilder rate = new StringBuilder();
            for (int L : contexts) {
                int n = BATCH * HEADS * (L + pad) * HEAD_DIM;
                ByteBuffer k = direct(n);
                ByteBuffer v = direct(n);
                long[] shape = {BATCH, HEADS, L + pad, HEAD_DIM};
                try (OnnxTensor kt = OnnxTensor.createTensor(ort.env(), k, shape, OnnxJavaType.FLOAT);
                     OnnxTensor vt = OnnxTensor.createTensor(ort.env(), v, shape, OnnxJavaType.FLOAT)) {
                    Map<String, OnnxTensor> in = Map.of("cache.0.key", kt, "cache.0.value", vt);
                    k.putFloat(0, 1.5f);
                    v.putFloat(0, 2f);
                    float first = touched(s, in);
                    k.putFloat(0, 4f);
                    float second = touched(s, in);
                    if (first != 3.5f || second != 6f) {
                        throw new IllegalStateException("ONNX Runtime did not read the direct buffer in place: " + first
                                + ", " + second + " (expected 3.5, 6)");
                    }
                    double[] ms = new double[200];
                    double[] readMs = new double[60];
                    for (int i = 0; i < ms.length; i++) {
                        long t0 = System.nanoTime();
                        touched(s, in);
                        ms[i] = (System.nanoTime() - t0) / 1e6;
                    }
                    for (int i = 0; i < readMs.length; i++) {
                        long t0 = System.nanoTime();
                        all.run(in).close();
                        readMs[i] = (System.nanoTime() - t0) / 1e6;
                    }
                    double mb = 2.0 * n * 4 / 1e6;
                    line.append(String.format(" L %d (%.1f MB): %.3f ms;", L, mb, median(ms)));
                    rate.append(String.format(" L %d: %.3f ms, %.1f GB/s;", L, median(readMs), mb / median(readMs)));
                }
            }
            // The same read cycling over as many cache pairs as a stack has layers, as a decode step does: what
            // stays in the last-level cache between reads of one pair no longer counts.
            int L = contexts[contexts.length - 1];
            int n = BATCH * HEADS * (L + pad) * HEAD_DIM;
            long[] shape = {BATCH, HEADS, L + pad, HEAD_DIM};
            List<Map<String, OnnxTensor>> pairs = new ArrayList<>();
            List<OnnxTensor> tensors = new ArrayList<>();
            try {
                for (int c = 0; c < copies; c++) {
                    ByteBuffer k = direct(n);
                    ByteBuffer v = direct(n);
                    for (int i = 0; i < n; i += 1024) {
                        k.putFloat(i * 4, 1f);
                        v.putFloat(i * 4, 1f);
                    }
                    OnnxTensor kt = OnnxTensor.createTensor(ort.env(), k, shape, OnnxJavaType.FLOAT);
                    tensors.add(kt);
                    OnnxTensor vt = OnnxTensor.createTensor(ort.env(), v, shape, OnnxJavaType.FLOAT);
                    tensors.add(vt);
                    pairs.add(Map.of("cache.0.key", kt, "cache.0.value", vt));
                }
                double[] cycleMs = new double[copies * 8];
                for (int i = 0; i < cycleMs.length; i++) {
                    long t0 = System.nanoTime();
                    all.run(pairs.get(i % copies)).close();
                    cycleMs[i] = (System.nanoTime() - t0) / 1e6;
                }
                double mb = 2.0 * n * 4 / 1e6;
                rate.append(String.format(" L %d cycling over %d pairs (%.0f MB): %.3f ms, %.1f GB/s", L, copies, mb * copies,
                        median(cycleMs), mb / median(cycleMs)));
            } finally {
                tensors.forEach(OnnxTensor::close);
            }
            System.out.printf("inputs: direct buffers read in place (a write between runs shows in the output); a run that"
                    + " touches one element of K and V, median:%s%n", line);
            System.out.printf("read rate: ReduceSum over all of K and V (L + pad positions), median:%s%n", rate);
        } finally {
            Files.deleteIfExists(touch);
            Files.deleteIfExists(read);
        }
    }

    /** ONNX Runtime's profile of {@code form} at L: each node's median kernel time over 40 runs. */
    private static void profile(Form form, int L, int pad, int threads, int layers) throws Exception {
        Path dir = Files.createTempDirectory("spindle-attention-profile");
        Path file = dir.resolve(form.label + ".onnx");
        Files.write(file, form.graph(layers));
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        try (OrtSession.SessionOptions o = new OrtSession.SessionOptions()) {
            o.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.ALL_OPT);
            if (threads > 0) {
                o.setIntraOpNumThreads(threads);
            }
            o.addConfigEntry("session.intra_op.allow_spinning", "1");
            o.enableProfiling(dir.resolve("profile").toString());
            CacheData data = new CacheData(L + pad, new SplittableRandom(3));
            try (OrtSession s = env.createSession(file.toString(), o)) {
                Case c = new Case(s, form, L, L + pad, layers, 1, data);
                int[] uniform = new int[BATCH];
                Arrays.fill(uniform, L);
                c.lengths(uniform);
                double[] ms = new double[40];
                for (int i = 0; i < ms.length; i++) {
                    long t0 = System.nanoTime();
                    c.run();
                    ms[i] = (System.nanoTime() - t0) / 1e6;
                }
                c.closeTensors();
                Map<String, List<Double>> byNode = new LinkedHashMap<>();
                Map<String, String> opOf = new HashMap<>();
                for (var e : new com.fasterxml.jackson.databind.ObjectMapper().readTree(Path.of(s.endProfiling()).toFile())) {
                    if (e.path("cat").asText().equals("Node") && e.path("name").asText().endsWith("_kernel_time")) {
                        String node = e.path("name").asText().replace("_kernel_time", "");
                        byNode.computeIfAbsent(node, k -> new ArrayList<>()).add(e.path("dur").asDouble() / 1e3);
                        opOf.put(node, e.path("args").path("op_name").asText());
                    }
                }
                StringBuilder line = new StringBuilder();
                byNode.entrySet().stream()
                        .map(e -> Map.entry(e.getKey(), median(e.getValue().stream().mapToDouble(Double::doubleValue).toArray())))
                        .sorted((a, b) -> Double.compare(b.getValue(), a.getValue())).limit(6)
                        .forEach(e -> line.append(String.format(" %s(%s) %.3f;", opOf.get(e.getKey()), e.getKey(), e.getValue())));
                double kernels = byNode.values().stream().mapToDouble(v -> median(v.stream().mapToDouble(Double::doubleValue)
                        .toArray())).sum();
                System.out.printf("profile %-14s L %d, %d layer(s): run median %.3f ms, nodes' medians sum to %.3f ms; slowest"
                        + " nodes, median ms:%s%n", form.label, L, layers, median(ms), kernels, line);
            }
        }
    }

    private static float touched(OrtSession s, Map<String, OnnxTensor> in) throws OrtException {
        try (OrtSession.Result r = s.run(in)) {
            return ((float[][][][]) r.get(0).getValue())[0][0][0][0];
        }
    }

    private static ByteBuffer direct(int floats) {
        return ByteBuffer.allocateDirect(floats * 4).order(ByteOrder.nativeOrder());
    }

    private static double maxDiff(float[] a, double[] b) {
        double m = 0;
        for (int i = 0; i < a.length; i++) {
            m = Math.max(m, Math.abs(a[i] - b[i]));
        }
        return m;
    }

    private static double maxDiff(float[] a, float[] b) {
        double m = 0;
        for (int i = 0; i < a.length; i++) {
            m = Math.max(m, Math.abs(a[i] - b[i]));
        }
        return m;
    }

    private static List<Form> forms(String csv) {
        return Arrays.stream(csv.split(",")).map(String::trim).filter(s -> !s.isEmpty()).map(Form::of).toList();
    }

    private static int[] ints(String csv) {
        return Arrays.stream(csv.split(",")).map(String::trim).mapToInt(Integer::parseInt).toArray();
    }

    private static String loadAverage() {
        try {
            return Files.readString(Path.of("/proc/loadavg")).trim();
        } catch (IOException e) {
            return "?";
        }
    }

    static double median(double[] xs) {
        return pct(xs, 0.5);
    }

    static double pct(double[] xs, double p) {
        double[] s = xs.clone();
        Arrays.sort(s);
        return s[(int) Math.min(s.length - 1, Math.round(p * (s.length - 1)))];
    }

    private AttentionKernelBenchmark() {
    }
}
