package io.spindle.runtime.family.gpt2;

import io.spindle.engine.Engine;
import io.spindle.engine.EngineConfig;
import io.spindle.engine.request.EngineRequest;
import io.spindle.engine.request.TokenEvent;
import io.spindle.model.ModelConfig;
import io.spindle.runtime.demo.DemoLayout;
import io.spindle.runtime.demo.DemoModelWriter;
import io.spindle.runtime.demo.Gpt2Shape;
import io.spindle.runtime.onnx.OrtRuntime;
import io.spindle.sampling.SamplingParams;
import io.spindle.testing.DirectOrtLoop;
import io.spindle.testing.RecordingListener;
import io.spindle.testing.TestModels;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;

/**
 * The builder's fused-op GPT-2 (ONNX Runtime's optimizer's contrib ops) at shapes other than the
 * demo's: it computes what the plain-op graph of the same shape and seed computes (a direct ONNX
 * Runtime forward pass over each), and Spindle serves it token for token like a direct loop over
 * it, alone and batched; with int32 inputs and, as ONNX Runtime's tooling writes them without
 * {@code --use_int32_inputs}, with int64 inputs cast in the graph.
 */
class FusedExportTest {
    private static final OrtRuntime ORT = new OrtRuntime("cpu", 2);
    private static final int[][] PROMPTS = {{5, 17, 300, 42, 9}, {11}, {700, 701, 702, 703, 704, 705, 706, 707, 708}};

    private static Gpt2Shape shape(String name) {
        return switch (name) {
            case "3x48x6" -> new Gpt2Shape(3, 48, 6, 128, 1000);
            case "2x96x4-gpt2vocab" -> new Gpt2Shape(2, 96, 4, 64, Gpt2Shape.GPT2_VOCAB);
            default -> throw new IllegalArgumentException(name);
        };
    }

    private static Path build(String name, DemoLayout layout) throws Exception {
        Path dir = TestModels.DIR.resolve("fused-test-" + name + "-" + layout.id());
        if (!Files.isRegularFile(dir.resolve("model.onnx"))) {
            Files.createDirectories(dir);
            new DemoModelWriter().write(dir, shape(name), name, layout, 99);
        }
        return dir;
    }

    @ParameterizedTest
    @CsvSource({"3x48x6, ORT_FUSED", "2x96x4-gpt2vocab, ORT_FUSED", "3x48x6, ORT_FUSED_INT64"})
    void theFusedGraphComputesThePlainGraphsFunctionAndServesTokenForToken(String name, DemoLayout layout) throws Exception {
        Path fused = build(name, layout);
        Path plain = build(name, DemoLayout.ORT_GPT2);
        List<int[]> expected = new ArrayList<>();
        try (DirectOrtLoop f = new DirectOrtLoop(fused.resolve("model.onnx"));
             DirectOrtLoop p = new DirectOrtLoop(plain.resolve("model.onnx"))) {
            int[] tokens = {5, 17, 300, 42, 9, 1, 2, 3};
            float[][] a = f.logits(tokens);
            float[][] b = p.logits(tokens);
            for (int pos = 0; pos < tokens.length; pos++) {
                for (int v = 0; v < a[pos].length; v++) {
                    assertEquals(b[pos][v], a[pos][v], 1e-4, "position " + pos + " token " + v);
                }
            }
            for (int[] prompt : PROMPTS) {
                int[] greedy = f.greedy(prompt, 12);
                assertArrayEquals(p.greedy(prompt, 12), greedy, "fused and plain decode alike");
                expected.add(greedy);
            }
        }
        try (Engine e = new Engine("fused", Gpt2Loader.load(ORT, fused, ModelConfig.read(fused)),
                new EngineConfig(4, 8, 10_000_000, 16, 4)).start()) {
            List<RecordingListener> ls = new ArrayList<>();
            for (int i = 0; i < PROMPTS.length; i++) {
                RecordingListener l = new RecordingListener();
                e.submit(new EngineRequest("f" + i, PROMPTS[i], SamplingParams.greedy(), 12, new int[0], false), l);
                ls.add(l);
            }
            for (int i = 0; i < PROMPTS.length; i++) {
                assertInstanceOf(TokenEvent.Finished.class, ls.get(i).awaitEnd());
                assertArrayEquals(expected.get(i), ls.get(i).tokens(), "prompt " + i + " through the engine, batched");
            }
        }
    }
}
