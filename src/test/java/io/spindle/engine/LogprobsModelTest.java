package io.spindle.engine;

import io.spindle.engine.request.EngineRequest;
import io.spindle.engine.request.TokenEvent;
import io.spindle.model.ModelConfig;
import io.spindle.runtime.demo.DemoLayout;
import io.spindle.runtime.family.gpt2.Gpt2Loader;
import io.spindle.runtime.onnx.OrtRuntime;
import io.spindle.sampling.SamplingParams;
import io.spindle.testing.DirectOrtLoop;
import io.spindle.testing.RecordingListener;
import io.spindle.testing.TestModels;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Log-probabilities against a reference computed directly from the logits of a plain ONNX Runtime
 * forward pass over the same graph (log-softmax in double precision): the prompt's tokens (fed in
 * chunks, batched with other sequences), the generated tokens, and the top alternatives; raw, so
 * temperature and penalties change which token is drawn but not its reported log-probability.
 */
class LogprobsModelTest {
    private static final OrtRuntime ORT = new OrtRuntime("cpu", 2);
    private static final double TOLERANCE = 2e-4;
    private static final int[][] PROMPTS = {{464, 2068, 7586, 21831, 18045, 625, 262}, {40, 1101},
            {1212, 318, 257, 1332, 286, 262, 6152, 1080, 13, 383, 11}};

    /** The graph as an exporter writes it (logits at every position), which the engine's serving form must match. */
    private static Path graph(Path dir) {
        return Files.isRegularFile(dir.resolve("model.onnx")) ? dir.resolve("model.onnx")
                : dir.resolve("decoder_with_past_model.onnx");
    }


    @ParameterizedTest
    @EnumSource(value = DemoLayout.class, names = {"OPTIMUM", "ORT_GPT2", "ORT_FUSED", "IN_PLACE_KV"})
    void promptAndGeneratedLogprobsEqualADirectForwardPass(DemoLayout layout) throws Exception {
        Path dir = TestModels.tiny(layout);
        int newTokens = 5;
        int top = 4;
        // Chunks of 3 prompt tokens per step, three sequences in one batch.
        try (Engine e = new Engine("lp", Gpt2Loader.load(ORT, dir, ModelConfig.read(dir)),
                new EngineConfig(4, 6, 10_000_000, 16, 3));
             // The in-place KV form has no export of its own: the plain export of the same weights is its reference.
             DirectOrtLoop direct = new DirectOrtLoop(graph(TestModels.tinyExported(
                     layout == DemoLayout.IN_PLACE_KV ? DemoLayout.OPTIMUM : layout)))) {
            List<RecordingListener> ls = new ArrayList<>();
            for (int i = 0; i < PROMPTS.length; i++) {
                RecordingListener l = new RecordingListener();
                SamplingParams sampling = i == 2 ? new SamplingParams(0.7, 0, 1, 1.3, 0, 0, 42) : SamplingParams.greedy();
                e.submit(new EngineRequest("r" + i, PROMPTS[i], sampling, newTokens, new int[0], top, true, 0), l);
                ls.add(l);
            }
            e.start();
            for (int i = 0; i < PROMPTS.length; i++) {
                RecordingListener l = ls.get(i);
                assertInstanceOf(TokenEvent.Finished.class, l.awaitEnd());
                TokenEvent.PromptScores scores = (TokenEvent.PromptScores) l.events.getFirst();
                int[] generated = l.tokens();
                int[] all = Arrays.copyOf(PROMPTS[i], PROMPTS[i].length + generated.length);
                System.arraycopy(generated, 0, all, PROMPTS[i].length, generated.length);
                // One pass over prompt + generated gives every position's reference distribution.
                float[][] logits = direct.logits(all);
                assertTrue(Float.isNaN(scores.logprobs()[0]), "the first prompt token has no context");
                for (int p = 1; p < PROMPTS[i].length; p++) {
                    double[] ref = DirectOrtLoop.logSoftmax(logits[p - 1]);
                    assertEquals(ref[PROMPTS[i][p]], scores.logprobs()[p], TOLERANCE, "prompt " + i + " token " + p);
                    assertTopMatches(ref, scores.top()[p].tokenIds(), scores.top()[p].logprobs(), "prompt " + i + " pos " + p);
                }
                List<TokenEvent.Token> tokens = l.events.stream().filter(ev -> ev instanceof TokenEvent.Token)
                        .map(ev -> (TokenEvent.Token) ev).toList();
                for (int k = 0; k < tokens.size(); k++) {
                    double[] ref = DirectOrtLoop.logSoftmax(logits[PROMPTS[i].length - 1 + k]);
                    assertEquals(ref[tokens.get(k).tokenId()], tokens.get(k).logprob(), TOLERANCE, "seq " + i + " token " + k);
                    assertTopMatches(ref, tokens.get(k).top().tokenIds(), tokens.get(k).top().logprobs(), "seq " + i + " gen " + k);
                }
            }
        }
    }

    @ParameterizedTest
    @EnumSource(value = DemoLayout.class, names = {"OPTIMUM", "IN_PLACE_KV"})
    void scoringAPromptWithNoNewTokensEndsAfterPrefill(DemoLayout layout) throws Exception {
        Path dir = TestModels.tiny(layout);
        try (Engine e = new Engine("lp0", Gpt2Loader.load(ORT, dir, ModelConfig.read(dir)),
                new EngineConfig(2, 64, 10_000_000, 16)).start()) {
            RecordingListener l = new RecordingListener();
            e.submit(new EngineRequest("s", PROMPTS[0], SamplingParams.greedy(), 0, new int[0], 0, true, 0), l);
            TokenEvent.Finished f = assertInstanceOf(TokenEvent.Finished.class, l.awaitEnd());
            assertEquals(0, f.stats().numGeneratedTokens());
            assertEquals(2, l.events.size(), "scores, then the end: " + l.events);
            assertEquals(PROMPTS[0].length, ((TokenEvent.PromptScores) l.events.getFirst()).logprobs().length);
            assertEquals(0, e.stats().kvUsedTokens());
        }
    }

    private static void assertTopMatches(double[] ref, int[] ids, float[] lps, String where) {
        Integer[] order = new Integer[ref.length];
        for (int v = 0; v < ref.length; v++) {
            order[v] = v;
        }
        Arrays.sort(order, (a, b) -> Double.compare(ref[b], ref[a]));
        for (int r = 0; r < ids.length; r++) {
            assertEquals(ref[order[r]], lps[r], TOLERANCE, where + " rank " + r);
            assertEquals(ref[ids[r]], lps[r], TOLERANCE, where + " rank " + r + " id " + ids[r]);
        }
    }
}
