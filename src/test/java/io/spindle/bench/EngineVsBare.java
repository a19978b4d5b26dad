package io.spindle.bench;

import io.spindle.engine.Engine;
import io.spindle.engine.EngineConfig;
import io.spindle.engine.request.EngineRequest;
import io.spindle.engine.request.TokenEvent;
import io.spindle.model.ModelConfig;
import io.spindle.runtime.demo.DemoPreset;
import io.spindle.runtime.family.gpt2.Gpt2Loader;
import io.spindle.runtime.onnx.OrtRuntime;
import io.spindle.sampling.SamplingParams;

import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

/**
 * Splits the server's batch-1 overhead in two: in one process, alternating, the bare ONNX Runtime loop
 * vs. Spindle's engine and GPT-2 runner (no HTTP, no text). What this ratio does not explain belongs
 * to the server around the engine. Run it with
 * {@code bash load-tests/lib/run-bench.sh io.spindle.bench.EngineVsBare [--tokens 128] [--runs 7]}.
 */
public final class EngineVsBare {
    public static void main(String[] args) throws Exception {
        Map<String, String> opt = BenchServer.options(args);
        int tokens = Integer.parseInt(opt.getOrDefault("tokens", "128"));
        int runs = Integer.parseInt(opt.getOrDefault("runs", "7"));
        DemoPreset preset = DemoPreset.parse(opt.getOrDefault("preset", "gpt2-124m"));
        Path dir = BenchServer.demoModel(preset);
        OrtRuntime ort = new OrtRuntime("cpu", 0);
        int[] prompt = {464, 2068, 7586, 21831};
        long[] promptLong = {464, 2068, 7586, 21831};
        try (Engine engine = new Engine("bench", Gpt2Loader.load(ort, dir, ModelConfig.read(dir)),
                new EngineConfig(1, 512, 1L << 30, 8)).start();
             DecodeBenchmark.BareLoop bare = new DecodeBenchmark.BareLoop(dir.resolve("model.onnx"), preset.shape())) {
            for (int r = 0; r < runs; r++) {
                long t0 = System.nanoTime();
                bare.generate(promptLong, tokens);
                double b = tokens * 1e9 / (System.nanoTime() - t0);
                CompletableFuture<TokenEvent> end = new CompletableFuture<>();
                t0 = System.nanoTime();
                engine.submit(new EngineRequest("bench", prompt, SamplingParams.greedy(), tokens, new int[0], false), ev -> {
                    if (ev.isEnd()) {
                        end.complete(ev);
                    }
                });
                end.get();
                double e = tokens * 1e9 / (System.nanoTime() - t0);
                System.out.printf("run %d: bare %.1f tokens/s, engine+runner %.1f tokens/s, ratio %.3f%n", r + 1, b, e, e / b);
            }
        }
    }

    private EngineVsBare() {
    }
}
