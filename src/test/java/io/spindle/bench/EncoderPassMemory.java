package io.spindle.bench;

import io.spindle.engine.exec.EncoderRunner;
import io.spindle.runtime.demo.BertDemoWriter;
import io.spindle.runtime.demo.BertGraphBuilder;
import io.spindle.runtime.demo.BertShape;
import io.spindle.runtime.family.bert.BertLoader;
import io.spindle.runtime.family.bert.BundledMiniLm;
import io.spindle.runtime.onnx.OrtRuntime;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * What one encoder forward pass adds to the process's resident memory, by rows × padded length: each
 * shape runs in a fresh JVM (ONNX Runtime's arena keeps its high-water mark), which loads the model,
 * runs one 8-token pass, notes VmRSS, runs the measured pass and reports VmHWM − that figure.
 * Run it with {@code bash load-tests/lib/run-bench.sh io.spindle.bench.EncoderPassMemory
 * [--model all-minilm-l6-v2|demo-bert-mlm] [--shapes 8x512,16x512,32x128] [--as-exported true] [--repeat N]}
 * ({@code --as-exported} serves the masked-LM graph without its rewrite: logits at every position).
 */
public final class EncoderPassMemory {
    private static final Path CACHE = Path.of("target", "test-models");

    public static void main(String[] args) throws Exception {
        Map<String, String> opt = BenchServer.options(args);
        String model = opt.getOrDefault("model", BundledMiniLm.ID);
        boolean asExported = Boolean.parseBoolean(opt.getOrDefault("as-exported", "false"));
        int repeat = Integer.parseInt(opt.getOrDefault("repeat", "1"));
        if (opt.containsKey("one")) {
            String[] s = opt.get("one").split("x");
            measure(model, asExported, Integer.parseInt(s[0]), Integer.parseInt(s[1]), repeat);
            return;
        }
        System.out.printf("%s%s: resident memory one pass adds (VmHWM after it − VmRSS before it), MiB%n", model,
                asExported ? " (as exported)" : "");
        System.out.printf("%6s %6s %8s %10s%n", "rows", "len", "tokens", "MiB");
        for (String shape : opt.getOrDefault("shapes", "1x512,4x512,8x512,16x512,32x512,32x128,64x128").split(",")) {
            List<String> cmd = new ArrayList<>(List.of(ProcessHandle.current().info().command().orElse("java"),
                    "--enable-native-access=ALL-UNNAMED", "-Xmx1g", "-Dai.djl.offline=true",
                    "-cp", System.getProperty("java.class.path"), EncoderPassMemory.class.getName(),
                    "--model", model, "--as-exported", Boolean.toString(asExported), "--one", shape,
                    "--repeat", Integer.toString(repeat)));
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes());
            p.waitFor();
            List<String> lines = out.lines().filter(l -> l.startsWith("RESULT ")).toList();
            if (lines.isEmpty()) {
                System.out.println("failed: " + out.substring(Math.max(0, out.length() - 600)));
            }
            lines.forEach(l -> System.out.println(l.substring(7)));
        }
    }

    private static void measure(String model, boolean asExported, int rows, int len, int repeat) throws Exception {
        Path dir = model.equals(BundledMiniLm.ID) ? BundledMiniLm.ensure(CACHE)
                : new BertDemoWriter().ensure(CACHE.resolve(BertDemoWriter.cacheName(BertGraphBuilder.Head.MASKED_LM, 1234)),
                BertShape.TINY, BertGraphBuilder.Head.MASKED_LM, 1234);
        try (EncoderRunner runner = BertLoader.load(new OrtRuntime("cpu", 0), dir, 512, 103,
                asExported ? null : CACHE.resolve("rewritten"))) {
            runner.encode(List.of(tokens(8, 0)));
            System.gc();
            // Resets VmHWM to the current VmRSS, so that loading the model does not count.
            Files.writeString(Path.of("/proc/self/clear_refs"), "5");
            long before = status("VmRSS");
            List<int[]> inputs = new ArrayList<>();
            for (int r = 0; r < rows; r++) {
                inputs.add(tokens(len, r));
            }
            for (int i = 0; i < repeat; i++) {
                long t0 = System.nanoTime();
                runner.encode(inputs);
                long ms = (System.nanoTime() - t0) / 1_000_000;
                long peak = status("VmHWM");
                System.out.printf("RESULT %6d %6d %8d %10.1f   (VmRSS before %.1f MiB, pass %d: %d ms)%n", rows, len,
                        rows * len, (peak - before) / 1048576.0, before / 1048576.0, i + 1, ms);
            }
        }
    }

    /** Ordinary word ids, one mask (id 103) per row, [CLS] and [SEP] around. */
    private static int[] tokens(int len, int row) {
        int[] ids = new int[len];
        for (int t = 0; t < len; t++) {
            ids[t] = 2000 + (t * 31 + row * 7) % 20000;
        }
        ids[0] = 101;
        ids[len - 1] = 102;
        ids[len / 2] = 103;
        return ids;
    }

    private static long status(String key) throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith(key + ":")) {
                return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
            }
        }
        throw new IOException(key + " not in /proc/self/status");
    }
}
