package io.spindle.bench;

import io.spindle.engine.exec.StepInput;
import io.spindle.model.ModelConfig;
import io.spindle.runtime.demo.DemoPreset;
import io.spindle.runtime.family.gpt2.Gpt2Loader;
import io.spindle.runtime.family.gpt2.Gpt2Decoder;
import io.spindle.runtime.onnx.OrtRuntime;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The cost of a batch repack: with {@code --rows} sequences of {@code --len} cached tokens decoding
 * together, times steady decode steps (presents fed back, no copy) against steps right after one
 * sequence leaves (every remaining cache copied once). Run it with
 * {@code bash load-tests/lib/run-bench.sh io.spindle.bench.RepackCost [--rows 16] [--len 96]}.
 */
public final class RepackCost {
    public static void main(String[] args) throws Exception {
        Map<String, String> opt = BenchServer.options(args);
        int rows = Integer.parseInt(opt.getOrDefault("rows", "16"));
        int len = Integer.parseInt(opt.getOrDefault("len", "96"));
        DemoPreset preset = DemoPreset.parse(opt.getOrDefault("preset", "gpt2-124m"));
        Path dir = BenchServer.demoModel(preset);
        try (Gpt2Decoder runner = Gpt2Loader.load(new OrtRuntime("cpu", 0), dir, ModelConfig.read(dir))) {
            int[][] tokens = new int[rows][len + 64];
            List<StepInput> batch = new ArrayList<>();
            for (int r = 0; r < rows; r++) {
                for (int i = 0; i < len; i++) {
                    tokens[r][i] = 100 + (r * 7 + i) % 1000;
                }
                batch.add(new StepInput(r, tokens[r], 0, len));
            }
            runner.execute(batch);
            int[] at = new int[rows];
            java.util.Arrays.fill(at, len);
            List<Long> ids = new ArrayList<>();
            for (long r = 0; r < rows; r++) {
                ids.add(r);
            }
            // Warm up so that both buffer sets have grown (growing allocates and zeroes a buffer).
            for (int w = 0; w < 4; w++) {
                step(runner, ids, tokens, at);
            }
            double steady = 0;
            double repack = 0;
            int rounds = Math.min(8, rows - 2);
            for (int k = 0; k < rounds; k++) {
                double best = Double.MAX_VALUE;
                for (int i = 0; i < 3; i++) {
                    long t0 = System.nanoTime();
                    step(runner, ids, tokens, at);
                    best = Math.min(best, (System.nanoTime() - t0) / 1e6);
                }
                steady += best;
                runner.release(ids.removeLast());
                long t0 = System.nanoTime();
                step(runner, ids, tokens, at);
                repack += (System.nanoTime() - t0) / 1e6;
            }
            long bytes = runner.kvBytesPerToken() * rows * len;
            System.out.printf("%s, ~%d rows × ~%d cached tokens (%.0f MB of cache): fastest of 3 steady decode steps %.1f ms, "
                    + "step after a sequence leaves (repack) %.1f ms, repack cost ≈ %.1f ms%n", preset.id(), rows, len,
                    bytes / 1e6, steady / rounds, repack / rounds, (repack - steady) / rounds);
        }
    }

    private static void step(Gpt2Decoder runner, List<Long> ids, int[][] tokens, int[] at) throws Exception {
        List<StepInput> batch = new ArrayList<>();
        for (long id : ids) {
            int r = (int) id;
            tokens[r][at[r]] = 42;
            batch.add(new StepInput(id, tokens[r], at[r], at[r] + 1));
            at[r]++;
        }
        runner.execute(batch);
    }

    private RepackCost() {
    }
}
