package io.spindle.engine;

import io.spindle.engine.request.EngineRequest;
import io.spindle.engine.request.TokenEvent;
import io.spindle.engine.request.TokenListener;
import io.spindle.model.ModelConfig;
import io.spindle.runtime.demo.DemoLayout;
import io.spindle.runtime.family.gpt2.Gpt2Loader;
import io.spindle.runtime.onnx.OrtRuntime;
import io.spindle.sampling.SamplingParams;
import io.spindle.testing.RecordingListener;
import io.spindle.testing.TestModels;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;

/**
 * n samples of one prompt on the real tiny GPT-2 (every layout): the prompt is prefilled once (the
 * engine's prompt-token count), the forks continue from a copy of its cache, and each sample's
 * tokens equal the same request run alone with that sample's seed; greedy samples are identical.
 */
class ParallelSamplesModelTest {
    private static final OrtRuntime ORT = new OrtRuntime("cpu", 2);
    private static final int[] PROMPT = {464, 2068, 7586, 21831, 18045, 625, 262, 16931, 3290};
    private static final int NEW = 10;

    private static Engine engine(DemoLayout layout, AtomicLong promptTokens) throws Exception {
        Path dir = TestModels.tiny(layout);
        Engine e = new Engine("n-" + layout, Gpt2Loader.load(ORT, dir, ModelConfig.read(dir)),
                new EngineConfig(8, 4, 10_000_000, 16, 4));
        e.observe(new EngineObserver() {
            @Override
            public void stepCompleted(int numSequences, int prompt, int generatedTokens, long nanos) {
                promptTokens.addAndGet(prompt);
            }
        });
        return e.start();
    }

    private static SamplingParams seeded(long seed) {
        return new SamplingParams(0.9, 40, 0.95, 1.1, 0, 0, seed);
    }

    @ParameterizedTest
    @EnumSource(DemoLayout.class)
    void eachSampleEqualsItsSeedAloneAndThePromptIsPrefilledOnce(DemoLayout layout) throws Exception {
        int n = 4;
        List<int[]> alone = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            AtomicLong ignored = new AtomicLong();
            try (Engine e = engine(layout, ignored)) {
                RecordingListener l = new RecordingListener();
                e.submit(new EngineRequest("a" + i, PROMPT, seeded(100 + i), NEW, new int[0], false), l);
                assertInstanceOf(TokenEvent.Finished.class, l.awaitEnd());
                alone.add(l.tokens());
            }
        }
        AtomicLong promptTokens = new AtomicLong();
        try (Engine e = engine(layout, promptTokens)) {
            // Another stream decodes meanwhile, so forks join a batch that already holds a row.
            RecordingListener other = new RecordingListener();
            e.submit(new EngineRequest("o", new int[] {40, 1101}, SamplingParams.greedy(), 30, new int[0], false), other);
            other.firstToken.get();
            List<EngineRequest> group = new ArrayList<>();
            List<TokenListener> listeners = new ArrayList<>();
            List<RecordingListener> ls = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                group.add(new EngineRequest("g" + i, PROMPT, seeded(100 + i), NEW, new int[0], false));
                RecordingListener l = new RecordingListener();
                ls.add(l);
                listeners.add(l);
            }
            e.submitGroup(group, listeners);
            for (int i = 0; i < n; i++) {
                assertInstanceOf(TokenEvent.Finished.class, ls.get(i).awaitEnd());
                assertArrayEquals(alone.get(i), ls.get(i).tokens(), "sample " + i);
            }
            other.awaitEnd();
            assertEquals(PROMPT.length + 2, promptTokens.get(), "the group's prompt was computed once (plus the other's 2)");
            assertEquals(0, e.stats().numCachedSequences());
            assertEquals(0, e.stats().kvUsedTokens());
        }
    }

    /** The parent ends with its first token (and its batch, with the logits the forks read, goes). */
    @ParameterizedTest
    @EnumSource(value = DemoLayout.class, names = {"OPTIMUM", "ORT_GPT2", "IN_PLACE_KV"})
    void samplesOfOneTokenEachEqualTheirSeedsAlone(DemoLayout layout) throws Exception {
        int n = 4;
        int[] alone = new int[n];
        for (int i = 0; i < n; i++) {
            try (Engine e = engine(layout, new AtomicLong())) {
                RecordingListener l = new RecordingListener();
                e.submit(new EngineRequest("a" + i, PROMPT, seeded(300 + i), 1, new int[0], false), l);
                assertInstanceOf(TokenEvent.Finished.class, l.awaitEnd());
                alone[i] = l.tokens()[0];
            }
        }
        try (Engine e = engine(layout, new AtomicLong())) {
            List<EngineRequest> group = new ArrayList<>();
            List<RecordingListener> ls = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                group.add(new EngineRequest("g" + i, PROMPT, seeded(300 + i), 1, new int[0], false));
                ls.add(new RecordingListener());
            }
            e.submitGroup(group, ls);
            for (int i = 0; i < n; i++) {
                assertInstanceOf(TokenEvent.Finished.class, ls.get(i).awaitEnd(), "sample " + i);
                assertArrayEquals(new int[] {alone[i]}, ls.get(i).tokens(), "sample " + i);
            }
            assertEquals(0, e.stats().numCachedSequences());
        }
    }

    @ParameterizedTest
    @EnumSource(value = DemoLayout.class, names = {"OPTIMUM", "IN_PLACE_KV"})
    void greedySamplesAreIdentical(DemoLayout layout) throws Exception {
        try (Engine e = engine(layout, new AtomicLong())) {
            List<RecordingListener> ls = List.of(new RecordingListener(), new RecordingListener(), new RecordingListener());
            EngineRequest r = new EngineRequest("g", PROMPT, SamplingParams.greedy(), NEW, new int[0], false);
            e.submitGroup(List.of(r, r, r), List.copyOf(ls));
            for (RecordingListener l : ls) {
                l.awaitEnd();
                assertArrayEquals(ls.getFirst().tokens(), l.tokens());
            }
        }
    }

    /** An encoder-decoder: the source is encoded once; the samples share its cross-attention cache. */
    @org.junit.jupiter.params.ParameterizedTest
    @EnumSource(io.spindle.runtime.demo.T5DemoWriter.Variant.class)
    void t5SamplesEncodeTheSourceOnceAndEachEqualsItsSeedAlone(io.spindle.runtime.demo.T5DemoWriter.Variant variant)
            throws Exception {
        Path dir = TestModels.tinyT5(variant);
        int[] source = {3, 17, 250, 42, 9, 1};
        int n = 3;
        List<int[]> alone = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            try (Engine e = new Engine("t5-a", io.spindle.runtime.family.t5.T5Loader.load(ORT, dir, ModelConfig.read(dir)),
                    new EngineConfig(4, 64, 10_000_000, 16)).start()) {
                RecordingListener l = new RecordingListener();
                e.submit(new EngineRequest("a" + i, source, seeded(500 + i), NEW, new int[0], false), l);
                assertInstanceOf(TokenEvent.Finished.class, l.awaitEnd());
                alone.add(l.tokens());
            }
        }
        AtomicLong promptTokens = new AtomicLong();
        try (Engine e = new Engine("t5-g", io.spindle.runtime.family.t5.T5Loader.load(ORT, dir, ModelConfig.read(dir)),
                new EngineConfig(4, 64, 10_000_000, 16))) {
            e.observe(new EngineObserver() {
                @Override
                public void stepCompleted(int numSequences, int prompt, int generatedTokens, long nanos) {
                    promptTokens.addAndGet(prompt);
                }
            });
            e.start();
            List<EngineRequest> group = new ArrayList<>();
            List<RecordingListener> ls = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                group.add(new EngineRequest("g" + i, source, seeded(500 + i), NEW, new int[0], false));
                ls.add(new RecordingListener());
            }
            e.submitGroup(group, ls);
            for (int i = 0; i < n; i++) {
                assertInstanceOf(TokenEvent.Finished.class, ls.get(i).awaitEnd());
                assertArrayEquals(alone.get(i), ls.get(i).tokens(), "sample " + i);
            }
            assertEquals(source.length, promptTokens.get(), "the source was encoded once");
            assertEquals(0, e.stats().numCachedSequences());
        }
    }
}
