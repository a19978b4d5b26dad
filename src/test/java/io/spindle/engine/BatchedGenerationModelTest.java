package io.spindle.engine;

import io.spindle.engine.request.EngineRequest;
import io.spindle.engine.request.TokenEvent;
import io.spindle.model.ModelConfig;
import io.spindle.engine.exec.ModelRunner;
import io.spindle.runtime.demo.DemoLayout;
import io.spindle.runtime.demo.T5DemoWriter;
import io.spindle.runtime.family.gpt2.Gpt2Loader;
import io.spindle.runtime.family.t5.T5Loader;
import io.spindle.runtime.onnx.KvDtype;
import io.spindle.runtime.onnx.OrtRuntime;
import io.spindle.sampling.SamplingParams;
import io.spindle.testing.RecordingListener;
import io.spindle.testing.TestModels;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Continuous batching on real graphs: requests with different prompt lengths, arriving at different
 * times, sharing forward passes, generate exactly the tokens they generate alone: GPT-2 in both
 * layouts and T5 with split and merged decoders (whose sources are fed whole, then share decode steps).
 */
class BatchedGenerationModelTest {
    private static final OrtRuntime ORT = new OrtRuntime("cpu", 2);
    private static final int[][] PROMPTS = {
            {464, 2068, 7586, 21831}, {40}, {1212, 318, 257, 1332, 286, 262, 6152, 1080, 13}, {15496, 995},
            {3666, 1438, 318}, {818, 262, 3726, 373, 262, 1573, 11, 290, 262, 1573, 373, 351, 1793, 13}, {1},
            {2061, 318, 257, 1266, 30}};
    private static final int NEW_TOKENS = 12;

    /** A model under test: how to open its runner and how a prompt reads in its vocabulary. */
    enum Subject {
        GPT2_OPTIMUM, GPT2_ORT, GPT2_ORT_FUSED, GPT2_IN_PLACE_KV, GPT2_IN_PLACE_KV_F16, T5_SPLIT, T5_MERGED;

        ModelRunner open() throws Exception {
            Path dir = switch (this) {
                case GPT2_OPTIMUM -> TestModels.tiny(DemoLayout.OPTIMUM);
                case GPT2_ORT -> TestModels.tiny(DemoLayout.ORT_GPT2);
                case GPT2_ORT_FUSED -> TestModels.tiny(DemoLayout.ORT_FUSED);
                case GPT2_IN_PLACE_KV -> TestModels.tiny(DemoLayout.IN_PLACE_KV);
                case GPT2_IN_PLACE_KV_F16 -> TestModels.tiny(DemoLayout.IN_PLACE_KV, KvDtype.FLOAT16);
                case T5_SPLIT -> TestModels.tinyT5(T5DemoWriter.Variant.SPLIT);
                case T5_MERGED -> TestModels.tinyT5(T5DemoWriter.Variant.MERGED);
            };
            ModelConfig config = ModelConfig.read(dir);
            return this == T5_SPLIT || this == T5_MERGED ? T5Loader.load(ORT, dir, config) : Gpt2Loader.load(ORT, dir, config);
        }

        /** T5's vocabulary is smaller and a source ends with {@code </s>} (id 1). */
        int[] prompt(int i) {
            if (this != T5_SPLIT && this != T5_MERGED) {
                return PROMPTS[i];
            }
            int[] p = new int[PROMPTS[i].length + 1];
            for (int t = 0; t < PROMPTS[i].length; t++) {
                p[t] = 3 + PROMPTS[i][t] % 4000;
            }
            p[p.length - 1] = 1;
            return p;
        }
    }

    private static Engine engine(Subject subject, int maxBatch, int tokensPerStep) throws Exception {
        return new Engine("batch-" + subject, subject.open(), new EngineConfig(maxBatch, tokensPerStep, 100_000, 64));
    }

    private static EngineRequest request(Subject subject, int i, SamplingParams sampling) {
        return new EngineRequest("r" + i, subject.prompt(i), sampling, NEW_TOKENS, new int[0], false);
    }

    private static int[] alone(Subject layout, int i, SamplingParams sampling) throws Exception {
        try (Engine e = engine(layout, 1, 512).start()) {
            RecordingListener l = new RecordingListener();
            e.submit(request(layout, i, sampling), l);
            assertInstanceOf(TokenEvent.Finished.class, l.awaitEnd());
            return l.tokens();
        }
    }

    /** Half the requests are queued before the loop starts, the rest join while the first decode. */
    private static List<int[]> together(Subject layout, SamplingParams sampling) throws Exception {
        try (Engine e = engine(layout, 8, 16)) {
            List<RecordingListener> ls = new ArrayList<>();
            for (int i = 0; i < PROMPTS.length; i++) {
                ls.add(new RecordingListener());
            }
            for (int i = 0; i < 4; i++) {
                e.submit(request(layout, i, sampling), ls.get(i));
            }
            e.start();
            for (int i = 4; i < PROMPTS.length; i++) {
                ls.get(i - 4).firstToken.get();
                e.submit(request(layout, i, sampling), ls.get(i));
            }
            List<int[]> out = new ArrayList<>();
            for (RecordingListener l : ls) {
                assertInstanceOf(TokenEvent.Finished.class, l.awaitEnd());
                out.add(l.tokens());
            }
            assertTrue(e.stats().numSteps() < PROMPTS.length * NEW_TOKENS, "requests shared steps: " + e.stats().numSteps());
            assertTrue(e.stats().numCachedSequences() == 0 && e.stats().kvUsedTokens() == 0, "everything released");
            return out;
        }
    }

    @ParameterizedTest
    @EnumSource(Subject.class)
    void greedyBatchedOutputsEqualEachRequestAlone(Subject layout) throws Exception {
        List<int[]> batched = together(layout, SamplingParams.greedy());
        for (int i = 0; i < PROMPTS.length; i++) {
            assertArrayEquals(alone(layout, i, SamplingParams.greedy()), batched.get(i), "request " + i);
        }
    }

    /**
     * The in-place KV form (same weights, GroupQueryAttention over slot-resident caches) generates
     * exactly the plain layout's greedy tokens, batched as requests arrive, with a float32 cache and
     * with a float16 one (spindle.models.kv-dtype).
     */
    @ParameterizedTest
    @EnumSource(value = Subject.class, names = {"GPT2_IN_PLACE_KV", "GPT2_IN_PLACE_KV_F16"})
    void inPlaceKvLayoutGeneratesThePlainLayoutsGreedyTokens(Subject subject) throws Exception {
        List<int[]> plain = together(Subject.GPT2_OPTIMUM, SamplingParams.greedy());
        List<int[]> inPlace = together(subject, SamplingParams.greedy());
        for (int i = 0; i < PROMPTS.length; i++) {
            assertArrayEquals(plain.get(i), inPlace.get(i), "request " + i);
        }
    }

    @ParameterizedTest
    @EnumSource(Subject.class)
    void seededSamplingUnderBatchingEqualsAlone(Subject layout) throws Exception {
        SamplingParams sampling = new SamplingParams(0.9, 40, 0.95, 1.1, 0.2, 0.1, 77);
        List<int[]> batched = together(layout, sampling);
        for (int i = 0; i < PROMPTS.length; i++) {
            assertArrayEquals(alone(layout, i, sampling), batched.get(i), "request " + i);
        }
    }
}
