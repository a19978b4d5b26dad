package io.spindle.bench;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.spindle.runtime.demo.DemoLayout;
import io.spindle.runtime.demo.DemoModelWriter;
import io.spindle.runtime.demo.DemoPreset;
import io.spindle.runtime.onnx.GatherRewrite;

import java.nio.FloatBuffer;
import java.nio.LongBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.TreeMap;

/**
 * Where one GPT-2-124M prefill's time goes inside ONNX Runtime: the demo graph (serving form) of a
 * layout runs a P-token prompt from an empty cache with ONNX Runtime's profiler on, and the node
 * times are summed by operator type (the share of the whole run each takes). Run it with
 * {@code bash load-tests/lib/run-bench.sh io.spindle.bench.PrefillProfile [--layout optimum] [--prompt 960] [--threads 0]
 * [--disable Optimizer1;Optimizer2] [--decode-rows 32 --past 128 --runs 20]} (the latter profiles one
 * decode step of that many rows instead, Optimum layout).
 */
public final class PrefillProfile {
    public static void main(String[] args) throws Exception {
        Map<String, String> opt = BenchServer.options(args);
        DemoLayout layout = DemoLayout.parse(opt.getOrDefault("layout", "optimum"));
        int p = Integer.parseInt(opt.getOrDefault("prompt", "960"));
        int threads = Integer.parseInt(opt.getOrDefault("threads", "0"));
        Path cache = Path.of(System.getProperty("user.home"), ".cache", "spindle", "models");
        long seed = DemoModelWriter.DEFAULT_SEED;
        Path dir = new DemoModelWriter().ensure(cache.resolve(DemoModelWriter.cacheName(DemoPreset.GPT2_124M, layout, seed)),
                DemoPreset.GPT2_124M, layout, seed);
        Path graph = dir.resolve(layout == DemoLayout.OPTIMUM_SPLIT ? "decoder_model.onnx" : "model.onnx");
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        Path prefix = Files.createTempDirectory("spindle-profile").resolve("prefill");
        try (OrtSession.SessionOptions o = new OrtSession.SessionOptions()) {
            o.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.ALL_OPT);
            if (threads > 0) {
                o.setIntraOpNumThreads(threads);
            }
            if (opt.containsKey("disable")) {
                o.addConfigEntry("optimization.disable_specified_optimizers", opt.get("disable"));
            }
            boolean profile = !opt.getOrDefault("profile", "1").equals("0");
            if (profile) {
                o.enableProfiling(prefix.toString());
            }
            try (OrtSession s = env.createSession(graph.toString(), o)) {
                int rows = Integer.parseInt(opt.getOrDefault("decode-rows", "0"));
                Map<String, OnnxTensor> in = rows > 0
                        ? decodeInputs(env, s, rows, Integer.parseInt(opt.getOrDefault("past", "128")))
                        : inputs(env, s, p);
                for (int r = 0; r < Integer.parseInt(opt.getOrDefault("runs", "4")); r++) {
                    long t0 = System.nanoTime();
                    s.run(in).close();
                    System.out.printf("run %d: %.3f s%n", r, (System.nanoTime() - t0) / 1e9);
                }
                if (profile) {
                    report(Path.of(s.endProfiling()));
                }
            }
        }
    }

    private static void report(Path file) throws Exception {
        JsonNode events = new ObjectMapper().readTree(file.toFile());
        Map<String, Long> byOp = new TreeMap<>();
        long runs = 0;
        long total = 0;
        for (JsonNode e : events) {
            String cat = e.path("cat").asText();
            if (cat.equals("Session") && e.path("name").asText().equals("model_run")) {
                runs++;
                total += e.path("dur").asLong();
            } else if (cat.equals("Node") && e.path("name").asText().endsWith("_kernel_time")) {
                byOp.merge(e.path("args").path("op_name").asText(), e.path("dur").asLong(), Long::sum);
            }
        }
        long nodes = byOp.values().stream().mapToLong(Long::longValue).sum();
        final long n = runs;
        final long whole = total;
        System.out.printf("%d runs, %.3f s per run; node kernels %.3f s per run (%.0f%%)%n", runs, total / 1e6 / runs,
                nodes / 1e6 / runs, 100.0 * nodes / total);
        byOp.entrySet().stream().sorted((a, b) -> Long.compare(b.getValue(), a.getValue())).limit(15)
                .forEach(en -> System.out.printf("  %-28s %8.1f ms per run %5.1f%%%n", en.getKey(),
                        en.getValue() / 1e3 / n, 100.0 * en.getValue() / whole));
    }

    /** input_ids, attention_mask, position_ids (and the gather index of the serving form) and empty pasts for one prompt of {@code p} tokens, in the graph's id types. */
    static Map<String, OnnxTensor> inputs(OrtEnvironment env, OrtSession s, int p) throws Exception {
        Map<String, OnnxTensor> in = new HashMap<>();
        long[] ids = new long[p];
        long[] pos = new long[p];
        long[] mask = new long[p];
        for (int i = 0; i < p; i++) {
            ids[i] = 100 + (i * 7919L) % 50000;
            pos[i] = i;
            mask[i] = 1;
        }
        boolean int32 = s.getInputInfo().get("input_ids").getInfo().toString().contains("INT32");
        in.put("input_ids", ints(env, int32, ids));
        in.put("attention_mask", ints(env, int32, mask));
        if (s.getInputNames().contains("position_ids")) {
            in.put("position_ids", ints(env, int32, pos));
        }
        if (s.getInputNames().contains(GatherRewrite.INPUT)) {
            in.put(GatherRewrite.INPUT, OnnxTensor.createTensor(env, LongBuffer.wrap(new long[] {p - 1}), new long[] {1, 1}));
        }
        for (String name : s.getInputNames()) {
            if (name.startsWith("past_key_values.")) {
                in.put(name, OnnxTensor.createTensor(env, FloatBuffer.allocate(0), new long[] {1, 12, 0, 64}));
            } else if (name.startsWith("past_")) {
                in.put(name, OnnxTensor.createTensor(env, FloatBuffer.allocate(0), new long[] {2, 1, 12, 0, 64}));
            }
        }
        return in;
    }

    /** One decode step of {@code rows} sequences, each with {@code past} cached positions (Optimum layout). */
    private static Map<String, OnnxTensor> decodeInputs(OrtEnvironment env, OrtSession s, int rows, int past)
            throws Exception {
        Map<String, OnnxTensor> in = new HashMap<>();
        long[] ids = new long[rows];
        long[] pos = new long[rows];
        long[] mask = new long[rows * (past + 1)];
        long[] gather = new long[rows];
        for (int r = 0; r < rows; r++) {
            ids[r] = 100 + r;
            pos[r] = past;
            gather[r] = r;
        }
        java.util.Arrays.fill(mask, 1);
        in.put("input_ids", OnnxTensor.createTensor(env, LongBuffer.wrap(ids), new long[] {rows, 1}));
        in.put("attention_mask", OnnxTensor.createTensor(env, LongBuffer.wrap(mask), new long[] {rows, past + 1}));
        in.put("position_ids", OnnxTensor.createTensor(env, LongBuffer.wrap(pos), new long[] {rows, 1}));
        if (s.getInputNames().contains(GatherRewrite.INPUT)) {
            in.put(GatherRewrite.INPUT, OnnxTensor.createTensor(env, LongBuffer.wrap(gather), new long[] {1, rows}));
        }
        float[] kv = new float[rows * 12 * past * 64];
        for (String name : s.getInputNames()) {
            if (name.startsWith("past_key_values.")) {
                in.put(name, OnnxTensor.createTensor(env, FloatBuffer.wrap(kv), new long[] {rows, 12, past, 64}));
            }
        }
        return in;
    }

    private static OnnxTensor ints(OrtEnvironment env, boolean int32, long[] v) throws Exception {
        if (!int32) {
            return OnnxTensor.createTensor(env, LongBuffer.wrap(v), new long[] {1, v.length});
        }
        int[] w = new int[v.length];
        for (int i = 0; i < v.length; i++) {
            w[i] = (int) v[i];
        }
        return OnnxTensor.createTensor(env, java.nio.IntBuffer.wrap(w), new long[] {1, v.length});
    }

    private PrefillProfile() {
    }
}
