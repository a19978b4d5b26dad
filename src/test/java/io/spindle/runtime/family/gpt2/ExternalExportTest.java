package io.spindle.runtime.family.gpt2;

import ai.onnxruntime.OnnxJavaType;
import io.spindle.engine.Engine;
import io.spindle.engine.EngineConfig;
import io.spindle.engine.request.EngineRequest;
import io.spindle.engine.request.TokenEvent;
import io.spindle.model.ModelConfig;
import io.spindle.runtime.onnx.OrtRuntime;
import io.spindle.sampling.SamplingParams;
import io.spindle.testing.DirectOrtLoop;
import io.spindle.testing.ModelFolders;
import io.spindle.testing.RecordingListener;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;

/**
 * A real export Spindle did not build: onnxruntime-genai's tiny random GPT-2 (ONNX Runtime's
 * transformer tooling: fused EmbedLayerNormalization, Attention, SkipLayerNormalization, FastGelu;
 * int32 inputs; genai folder layout with {@code genai_config.json} and {@code past.onnx}), loaded from
 * its folder unchanged. Spindle's tokens equal a plain ONNX Runtime loop's, alone and batched.
 */
class ExternalExportTest {
    private static final Path GENAI_GPT2 = ModelFolders.GENAI_GPT2;
    /** Token-id prompts inside the graph's 1,000-token vocabulary, of different lengths. */
    private static final int[][] PROMPTS = {{98}, {10, 20, 30, 40}, {500, 3, 999, 1, 77, 640, 12}, {250, 251},
            {7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17}, {420}};
    private static final int NEW_TOKENS = 16;
    private static final OrtRuntime ORT = new OrtRuntime("cpu", 2);
    private static DirectOrtLoop direct;

    @BeforeAll
    static void open() throws Exception {
        direct = new DirectOrtLoop(GENAI_GPT2.resolve("past.onnx"));
    }

    @AfterAll
    static void close() throws Exception {
        direct.close();
    }

    @Test
    void theGenaiFolderIsRecognisedFromGenaiConfigAndTheGraph() throws Exception {
        ModelConfig config = ModelConfig.read(GENAI_GPT2);
        assertEquals("gpt2", config.modelType());
        assertEquals(512, config.contextLength());
        assertEquals("past.onnx", config.graphFile());
        assertArrayEquals(new int[] {98}, config.eosTokenIds());
        try (Gpt2Decoder runner = Gpt2Loader.load(ORT, GENAI_GPT2, config)) {
            Gpt2Graph g = runner.graph();
            assertEquals(Gpt2Graph.ORT_GPT2, g.layoutName());
            assertEquals(5, g.numLayers());
            assertEquals(4, g.numHeads());
            assertEquals(8, g.headDim());
            assertEquals(1000, g.vocabSize());
            assertEquals(OnnxJavaType.INT32, g.idsType());
            assertEquals(OnnxJavaType.INT32, g.maskType());
        }
    }

    @Test
    void greedyTokensEqualADirectOnnxRuntimeLoopAloneAndBatched() throws Exception {
        List<int[]> expected = new ArrayList<>();
        for (int[] p : PROMPTS) {
            expected.add(direct.greedy(p, NEW_TOKENS));
        }
        // Alone: one sequence per engine step.
        for (int i = 0; i < PROMPTS.length; i++) {
            try (Engine e = engine(1).start()) {
                RecordingListener l = new RecordingListener();
                e.submit(request(i), l);
                assertInstanceOf(TokenEvent.Finished.class, l.awaitEnd());
                assertArrayEquals(expected.get(i), l.tokens(), "prompt " + i + " alone");
            }
        }
        // Batched: all rows share steps (different lengths, so left padding and a mask), half of them
        // joining while the others decode, prompts chunked 4 tokens per step.
        try (Engine e = engine(8)) {
            List<RecordingListener> ls = new ArrayList<>();
            for (int i = 0; i < PROMPTS.length; i++) {
                ls.add(new RecordingListener());
            }
            for (int i = 0; i < 3; i++) {
                e.submit(request(i), ls.get(i));
            }
            e.start();
            for (int i = 3; i < PROMPTS.length; i++) {
                ls.get(i - 3).firstToken.get();
                e.submit(request(i), ls.get(i));
            }
            for (int i = 0; i < PROMPTS.length; i++) {
                assertInstanceOf(TokenEvent.Finished.class, ls.get(i).awaitEnd());
                assertArrayEquals(expected.get(i), ls.get(i).tokens(), "prompt " + i + " batched");
            }
        }
    }

    private static Engine engine(int maxBatch) throws Exception {
        Gpt2Decoder runner = Gpt2Loader.load(ORT, GENAI_GPT2, ModelConfig.read(GENAI_GPT2));
        return new Engine("genai-gpt2", runner, new EngineConfig(maxBatch, 4 * maxBatch + 4, 50_000_000, 64, 4));
    }

    /** Greedy, EOS not a stop token (random weights may emit it early; the direct loop runs on). */
    private static EngineRequest request(int i) {
        return new EngineRequest("r" + i, PROMPTS[i], SamplingParams.greedy(), NEW_TOKENS, new int[0], false);
    }
}
