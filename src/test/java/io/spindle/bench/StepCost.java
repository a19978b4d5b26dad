package io.spindle.bench;

import io.spindle.engine.exec.StepInput;
import io.spindle.model.ModelConfig;
import io.spindle.runtime.demo.DemoPreset;
import io.spindle.runtime.family.gpt2.Gpt2Loader;
import io.spindle.runtime.family.gpt2.Gpt2Decoder;
import io.spindle.runtime.onnx.OrtRuntime;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * Where a step's time goes when a prompt is prefilled beside decoding sequences: for each decode
 * batch size and prompt chunk, the median steady decode step against the median step that also
 * carries a prompt chunk (what the scheduler's prefill budget trades). Run it with
 * {@code bash load-tests/lib/run-bench.sh io.spindle.bench.StepCost [--rows 1,4,8,16,32] [--chunks 1,4,8,16,32,64]}.
 */
public final class StepCost {
    private static final long PROMPT_ID = 1_000_000;

    public static void main(String[] args) throws Exception {
        Map<String, String> opt = BenchServer.options(args);
        int[] rowsList = ints(opt.getOrDefault("rows", "1,4,8,16,32"));
        int[] chunks = ints(opt.getOrDefault("chunks", "1,4,8,16,32,64"));
        int len = Integer.parseInt(opt.getOrDefault("len", "96"));
        int steps = Integer.parseInt(opt.getOrDefault("steps", "12"));
        DemoPreset preset = DemoPreset.parse(opt.getOrDefault("preset", "gpt2-124m"));
        Path dir = BenchServer.demoModel(preset);
        try (Gpt2Decoder runner = Gpt2Loader.load(new OrtRuntime("cpu", 0), dir, ModelConfig.read(dir))) {
            int[] prompt = new int[1024];
            for (int i = 0; i < prompt.length; i++) {
                prompt[i] = 200 + (i * 13) % 5000;
            }
            System.out.printf("%s: median step ms; decode rows have ~%d cached tokens%n", preset.id(), len);
            System.out.printf("%5s %10s", "rows", "decode");
            for (int c : chunks) {
                System.out.printf(" %12s", "+chunk " + c);
            }
            System.out.println();
            for (int rows : rowsList) {
                int[][] tokens = new int[rows][len + 64 + steps * (chunks.length + 1) * 2];
                int[] at = new int[rows];
                List<StepInput> batch = new ArrayList<>();
                for (int r = 0; r < rows; r++) {
                    for (int i = 0; i < len; i++) {
                        tokens[r][i] = 100 + (r * 7 + i) % 1000;
                    }
                    batch.add(new StepInput(r, tokens[r], 0, len));
                    at[r] = len;
                }
                runner.execute(batch);
                for (int w = 0; w < 4; w++) {
                    step(runner, rows, tokens, at, null, 0, 0);
                }
                double decode = median(runner, rows, tokens, at, prompt, 0, steps);
                System.out.printf("%5d %10.1f", rows, decode);
                for (int c : chunks) {
                    double mixed = median(runner, rows, tokens, at, prompt, c, steps);
                    System.out.printf(" %6.1f %4.2fx", mixed, mixed / decode);
                }
                System.out.println();
                for (int r = 0; r < rows; r++) {
                    runner.release(r);
                }
            }
        }
    }

    /** Median of {@code steps} steps; with a chunk, a fresh prompt is prefilled that many tokens per step. */
    private static double median(Gpt2Decoder runner, int rows, int[][] tokens, int[] at, int[] prompt, int chunk,
                                 int steps) throws Exception {
        double[] ms = new double[steps];
        for (int i = 0; i < steps; i++) {
            long t0 = System.nanoTime();
            step(runner, rows, tokens, at, prompt, chunk, i * chunk);
            ms[i] = (System.nanoTime() - t0) / 1e6;
        }
        runner.release(PROMPT_ID);
        Arrays.sort(ms);
        return ms[steps / 2];
    }

    private static void step(Gpt2Decoder runner, int rows, int[][] tokens, int[] at, int[] prompt, int chunk, int from)
            throws Exception {
        List<StepInput> batch = new ArrayList<>();
        for (int r = 0; r < rows; r++) {
            tokens[r][at[r]] = 42;
            batch.add(new StepInput(r, tokens[r], at[r], at[r] + 1));
            at[r]++;
        }
        if (chunk > 0) {
            batch.add(new StepInput(PROMPT_ID, prompt, from, from + chunk));
        }
        runner.execute(batch);
    }

    private static int[] ints(String csv) {
        return Arrays.stream(csv.split(",")).mapToInt(Integer::parseInt).toArray();
    }

    private StepCost() {
    }
}
