package io.spindle.bench;

import io.spindle.engine.exec.ModelRunner;
import io.spindle.engine.exec.StepInput;
import io.spindle.model.ModelConfig;
import io.spindle.runtime.demo.DemoPreset;
import io.spindle.runtime.family.gpt2.Gpt2Loader;
import io.spindle.runtime.onnx.OrtRuntime;
import io.spindle.runtime.onnx.quant.Agreement;
import io.spindle.runtime.onnx.quant.DynamicInt8Form;
import io.spindle.runtime.onnx.quant.QuantizeSettings;
import io.spindle.runtime.onnx.quant.QuantizedCopy;
import io.spindle.runtime.onnx.quant.WeightQuantizer;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Issue 18, bare speed: the gpt2-124m demo preset (random weights, Spindle's serving form, through
 * {@code Gpt2Runner}) as float32 and quantized by {@link WeightQuantizer} with several settings, all
 * loaded at once and measured in interleaved rounds: batch-1 decode step (median), batch-32 decode
 * step (median; aggregate tokens/s), a 960-token prefill (TTFT), and the resident memory each
 * session added (VmRSS before and after opening it). Also the quantized models' next-token top-1
 * agreement and mean KL vs float32 over a fixed 64-token stream (random weights: a check that the
 * rewrite is right at full size more than a quality figure).
 *
 * <p>Run: {@code bash load-tests/lib/run-bench.sh io.spindle.bench.QuantizeBenchmark [--rounds 3]
 * [--steps 24] [--rows 32] [--prompt 960] [--threads 0] [--spinning true]
 * [--variants "none;int8;int8-dynamic;int4;int4,symmetric"] [--quality-only true]} ({@code int8-dynamic},
 * {@code int8-dynamic-per-channel}: ONNX Runtime's {@code quantize_dynamic} form, {@link DynamicInt8Form};
 * a {@code rtn:} prefix, e.g. {@code rtn:int4}: quant-v1's round-to-nearest scales instead of the served
 * search, for the comparison; {@code --quality-only true}: only the quantizing time and the agreement,
 * one quantized model loaded at a time, always quantized afresh so that the time is measured).
 */
public final class QuantizeBenchmark {
    private static long nextId = 1;
    /** The variant name of ONNX Runtime's quantize_dynamic form ({@link DynamicInt8Form}), for comparison. */
    private static final String DYNAMIC = "int8-dynamic";
    /** Variant prefix for quant-v1's round-to-nearest scales. */
    private static final String RTN = "rtn:";

    private record Variant(String label, QuantizeSettings settings, ModelRunner runner, long rssBytes,
                           double quantizeSeconds, List<Double> b1, List<Double> b32, List<Double> prefill) {
    }

    public static void main(String[] args) throws Exception {
        Map<String, String> opt = BenchServer.options(args);
        int rounds = Integer.parseInt(opt.getOrDefault("rounds", "3"));
        int steps = Integer.parseInt(opt.getOrDefault("steps", "24"));
        int rows = Integer.parseInt(opt.getOrDefault("rows", "32"));
        int prompt = Integer.parseInt(opt.getOrDefault("prompt", "960"));
        int threads = Integer.parseInt(opt.getOrDefault("threads", "0"));
        boolean spinning = !"false".equals(opt.get("spinning"));
        boolean qualityOnly = "true".equals(opt.get("quality-only"));
        List<String> specs = Arrays.asList(opt.getOrDefault("variants",
                "none;int8;int4;int4,symmetric;int4,block=64;int4,block=128;int4,accuracy=0;int4,lm-head=no;int4,embeddings=yes")
                .split(";"));
        DemoPreset preset = DemoPreset.GPT2_124M;
        Path floatDir = BenchServer.demoModel(preset);
        OrtRuntime ort = new OrtRuntime("cpu", threads, spinning);
        System.out.printf(Locale.ROOT, "gpt2-124m, %d intra-op threads (0 = ORT default), spinning %s, %d cores%n", threads,
                spinning, Runtime.getRuntime().availableProcessors());

        List<Variant> variants = new ArrayList<>();
        for (String spec : specs) {
            if (spec.trim().startsWith(DYNAMIC)) {
                boolean perChannel = spec.trim().contains("-per-channel");
                boolean scalarZeroPoint = spec.trim().endsWith("-scalar-zp");
                Path dir = floatDir.resolveSibling(floatDir.getFileName() + "-" + spec.trim());
                if (!Files.isRegularFile(dir.resolve("model.onnx"))) {
                    QuantizedCopy.write(floatDir, dir, QuantizeSettings.NONE);
                    Files.write(dir.resolve("model.onnx"), DynamicInt8Form.rewrite(ai.onnx.proto.OnnxMl.ModelProto.parseFrom(
                            Files.readAllBytes(floatDir.resolve("model.onnx"))), perChannel, scalarZeroPoint).toByteArray());
                }
                long resident = residentInFreshJvm(dir, threads, spinning);
                variants.add(new Variant(spec.trim(), QuantizeSettings.NONE,
                        Gpt2Loader.load(ort, dir, ModelConfig.read(dir)), resident, 0, new ArrayList<>(), new ArrayList<>(),
                        new ArrayList<>()));
                continue;
            }
            boolean rtn = spec.trim().startsWith(RTN);
            WeightQuantizer.Scales scales = rtn ? WeightQuantizer.Scales.ROUND_TO_NEAREST : WeightQuantizer.Scales.SEARCH;
            QuantizeSettings s = QuantizeSettings.parse("--variants", spec.trim().substring(rtn ? RTN.length() : 0));
            Path dir = floatDir;
            double qs = 0;
            String label = s.enabled() ? (rtn ? RTN : "") + s.cacheTag() : "float32";
            if (s.enabled()) {
                dir = floatDir.resolveSibling(floatDir.getFileName() + "-" + s.cacheTag() + "-" + WeightQuantizer.VERSION
                        + (rtn ? "-rtn" : ""));
                if (qualityOnly || !Files.isRegularFile(dir.resolve("model.onnx"))) {
                    long t0 = System.nanoTime();
                    var r = QuantizedCopy.write(floatDir, dir, s, scales).get("model.onnx");
                    qs = (System.nanoTime() - t0) / 1e9;
                    System.out.printf(Locale.ROOT, "quantized %s in %.1f s: %d MatMuls, %d Gathers, weights %.1f → %.1f MB; left as is: %s%n",
                            label, qs, r.quantizedMatMuls(), r.quantizedGathers(), r.floatWeightBytesBefore() / 1e6,
                            r.weightBytesAfter() / 1e6, r.leftAsIs());
                }
            }
            if (qualityOnly) {
                if (!s.enabled()) {
                    variants.add(new Variant(label, s, Gpt2Loader.load(ort, dir, ModelConfig.read(dir)), 0, 0, List.of(),
                            List.of(), List.of()));
                    continue;
                }
                ModelRunner reference = variants.getFirst().runner;
                try (ModelRunner runner = Gpt2Loader.load(ort, dir, ModelConfig.read(dir))) {
                    Agreement a = Agreement.measure(reference, runner, Agreement.stream(64, reference.vocabSize(), 42), 16,
                            nextId++);
                    System.out.printf(Locale.ROOT, "| %-40s | quantized in %5.1f s | top-1 %.1f%% | mean KL %.2e | max KL %.2e |%n",
                            label, qs, 100 * a.top1(), a.meanKl(), a.maxKl());
                }
                continue;
            }
            long resident = residentInFreshJvm(dir, threads, spinning);
            ModelRunner runner = Gpt2Loader.load(ort, dir, ModelConfig.read(dir));
            variants.add(new Variant(label, s, runner, resident, qs,
                    new ArrayList<>(), new ArrayList<>(), new ArrayList<>()));
            System.out.printf(Locale.ROOT, "loaded %s: +%.0f MB resident%n", variants.getLast().label, resident / 1e6);
        }
        if (qualityOnly) {
            variants.getFirst().runner.close();
            return;
        }
        ModelRunner reference = variants.getFirst().runner;
        Map<String, Agreement> quality = new LinkedHashMap<>();
        for (Variant v : variants.subList(1, variants.size())) {
            quality.put(v.label, Agreement.measure(reference, v.runner, Agreement.stream(64, reference.vocabSize(), 42), 16,
                    nextId++));
        }
        for (int r = 0; r < rounds; r++) {
            for (Variant v : variants) {
                v.b1.addAll(decode(v.runner, 1, steps));
                v.b32.addAll(decode(v.runner, rows, Math.max(4, steps / 4)));
                v.prefill.add(prefill(v.runner, prompt));
            }
            System.out.printf(Locale.ROOT, "round %d done%n", r + 1);
        }
        Variant base = variants.getFirst();
        double b1Base = median(base.b1);
        double b32Base = median(base.b32);
        double preBase = median(base.prefill);
        System.out.println();
        System.out.printf(Locale.ROOT, "| %-32s | %12s | %15s | %16s | %15s | %11s | %22s |%n", "weights", "RSS MB (×)",
                "b1 ms (tok/s ×)", "b" + rows + " ms (agg tok/s)", "agg × float32", "prefill " + prompt + " ms (×)",
                "top-1 / mean KL");
        System.out.println("|---|---|---|---|---|---|---|");
        for (Variant v : variants) {
            double b1 = median(v.b1);
            double b32 = median(v.b32);
            double pre = median(v.prefill);
            Agreement a = quality.get(v.label);
            System.out.printf(Locale.ROOT, "| %-32s | %6.0f (%.2f) | %6.2f (%.2f×) | %7.1f (%.0f) | %.2f× | %6.0f (%.2f×) | %s |%n",
                    v.label, v.rssBytes / 1e6, v.rssBytes / (double) base.rssBytes, b1, b1Base / b1, b32, rows * 1000 / b32,
                    b32Base / b32, pre, preBase / pre,
                    a == null ? "reference" : String.format(Locale.ROOT, "%.1f%% / %.2e", 100 * a.top1(), a.meanKl()));
        }
        for (Variant v : variants) {
            v.runner.close();
        }
    }

    /** Step times (ms) of {@code steps} greedy decode steps of {@code rows} sequences after 16-token prompts. */
    private static List<Double> decode(ModelRunner runner, int rows, int steps) throws Exception {
        int vocab = runner.vocabSize();
        int[][] tokens = new int[rows][];
        long[] ids = new long[rows];
        List<StepInput> batch = new ArrayList<>();
        for (int i = 0; i < rows; i++) {
            tokens[i] = Arrays.copyOf(Agreement.stream(16, vocab, 100 + i), 16 + steps);
            ids[i] = nextId++;
            batch.add(new StepInput(ids[i], tokens[i], 0, 16));
        }
        float[] logits = new float[vocab];
        List<Double> times = new ArrayList<>();
        try {
            var out = runner.execute(batch);
            for (int s = 0; s < steps; s++) {
                batch.clear();
                for (int i = 0; i < rows; i++) {
                    out.copyLogits(i, logits);
                    tokens[i][16 + s] = argmax(logits);
                    batch.add(new StepInput(ids[i], tokens[i], 16 + s, 17 + s));
                }
                long t0 = System.nanoTime();
                out = runner.execute(batch);
                times.add((System.nanoTime() - t0) / 1e6);
            }
        } finally {
            for (long id : ids) {
                runner.release(id);
            }
        }
        return times;
    }

    private static double prefill(ModelRunner runner, int length) throws Exception {
        long id = nextId++;
        int[] tokens = Agreement.stream(length, runner.vocabSize(), 7);
        try {
            long t0 = System.nanoTime();
            runner.execute(List.of(new StepInput(id, tokens, 0, length)));
            return (System.nanoTime() - t0) / 1e6;
        } finally {
            runner.release(id);
        }
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

    private static double median(List<Double> xs) {
        double[] a = xs.stream().mapToDouble(Double::doubleValue).sorted().toArray();
        return a.length % 2 == 1 ? a[a.length / 2] : (a[a.length / 2 - 1] + a[a.length / 2]) / 2;
    }

    /**
     * What opening the model and running one decode step adds to a fresh JVM's VmRSS: measured in a
     * child process, because in this one the heap that quantizing and earlier loads used comes and
     * goes with the collector.
     */
    private static long residentInFreshJvm(Path dir, int threads, boolean spinning) throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process p = new ProcessBuilder(java, "--enable-native-access=ALL-UNNAMED", "-cp", System.getProperty("java.class.path"),
                ResidentProbe.class.getName(), dir.toString(), Integer.toString(threads), Boolean.toString(spinning))
                .redirectError(ProcessBuilder.Redirect.DISCARD).start();
        String out = new String(p.getInputStream().readAllBytes()).trim();
        if (p.waitFor() != 0 || out.isEmpty()) {
            throw new IllegalStateException("resident probe failed for " + dir + ": " + out);
        }
        String[] lines = out.split("\n");
        return Long.parseLong(lines[lines.length - 1].trim());
    }

    /** Child process: prints the VmRSS growth from before opening the model to after one decode step. */
    public static final class ResidentProbe {
        public static void main(String[] args) throws Exception {
            OrtRuntime ort = new OrtRuntime("cpu", Integer.parseInt(args[1]), Boolean.parseBoolean(args[2]));
            Path dir = Path.of(args[0]);
            ModelConfig config = ModelConfig.read(dir);
            System.gc();
            long before = rss();
            try (ModelRunner runner = Gpt2Loader.load(ort, dir, config)) {
                decode(runner, 1, 2);
                System.out.println(rss() - before);
            }
        }
    }

    static long rss() throws Exception {
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith("VmRSS:")) {
                return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
            }
        }
        return 0;
    }
}
