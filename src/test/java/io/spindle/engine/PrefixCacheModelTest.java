package io.spindle.engine;

import io.spindle.engine.EngineConfig.PrefixCacheSettings;
import io.spindle.engine.request.EngineRequest;
import io.spindle.engine.request.TokenEvent;
import io.spindle.model.ModelConfig;
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
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The automatic prefix cache on real graphs: a request whose prompt starts with what an earlier one
 * computed (its prompt, or its prompt and answer: the next chat turn) copies those blocks instead of
 * computing them, and generates exactly the tokens a cold engine generates, greedy and seeded, batched
 * with unrelated sequences, in every GPT-2 layout; a T5 source seen before skips its encoder; the cache stays within the KV budget, evicting
 * before it refuses anyone; a request cancelled mid-prefill leaves only whole computed blocks behind.
 */
class PrefixCacheModelTest {
    private static final OrtRuntime ORT = new OrtRuntime("cpu", 2);
    private static final int BLOCK = 16;
    private static final SamplingParams SEEDED = new SamplingParams(0.9, 40, 0.95, 1.1, 0.2, 0.1, 77);

    private static int[] tokens(int n, int seed) {
        int[] t = new int[n];
        for (int i = 0; i < n; i++) {
            t[i] = 100 + (seed * 7919 + i * 104729) % 40000;
        }
        return t;
    }

    private static int[] concat(int[]... parts) {
        int n = 0;
        for (int[] p : parts) {
            n += p.length;
        }
        int[] out = new int[n];
        int at = 0;
        for (int[] p : parts) {
            System.arraycopy(p, 0, out, at, p.length);
            at += p.length;
        }
        return out;
    }

    private static Engine engine(DemoLayout layout, int maxBatch, int tokensPerStep, long kvBytes,
                                 PrefixCacheSettings cache) throws Exception {
        return engine(TestModels.tiny(layout), maxBatch, tokensPerStep, kvBytes, cache);
    }

    private static Engine engine(Path dir, int maxBatch, int tokensPerStep, long kvBytes, PrefixCacheSettings cache)
            throws Exception {
        return new Engine("prefix-" + dir.getFileName(), Gpt2Loader.load(ORT, dir, ModelConfig.read(dir)),
                new EngineConfig(maxBatch, tokensPerStep, kvBytes, 64, tokensPerStep, cache)).start();
    }

    private static EngineRequest request(int[] prompt, SamplingParams sampling, int newTokens) {
        return new EngineRequest("r", prompt, sampling, newTokens, new int[0], false);
    }

    /** Tokens and the finished event of one request. */
    private record Run(int[] tokens, TokenEvent.Finished end) {
        int cached() {
            return end.stats().numCachedPromptTokens();
        }
    }

    private static Run run(Engine e, int[] prompt, SamplingParams sampling, int newTokens) throws Exception {
        RecordingListener l = new RecordingListener();
        e.submit(request(prompt, sampling, newTokens), l);
        TokenEvent.Finished end = assertInstanceOf(TokenEvent.Finished.class, l.awaitEnd());
        return new Run(l.tokens(), end);
    }

    private static int[] cold(DemoLayout layout, int[] prompt, SamplingParams sampling, int newTokens) throws Exception {
        try (Engine e = engine(layout, 1, 512, 10_000_000, PrefixCacheSettings.OFF)) {
            return run(e, prompt, sampling, newTokens).tokens();
        }
    }

    @ParameterizedTest
    @EnumSource(DemoLayout.class)
    void chatTurnsHitTheCacheAndGenerateWhatAColdEngineDoes(DemoLayout layout) throws Exception {
        int[] system = tokens(40, 1);
        int[] turn1 = concat(system, tokens(7, 2));
        try (Engine e = engine(layout, 4, 24, 10_000_000, PrefixCacheSettings.DEFAULT)) {
            Run first = run(e, turn1, SamplingParams.greedy(), 12);
            assertEquals(0, first.cached(), "nothing cached yet");
            assertArrayEquals(cold(layout, turn1, SamplingParams.greedy(), 12), first.tokens());

            // The next turn: the whole history (prompt and answer) and a new message, batched with an
            // unrelated request, greedy and seeded.
            int[] turn2 = concat(turn1, first.tokens(), tokens(9, 3));
            int[] unrelated = tokens(30, 4);
            for (SamplingParams sampling : List.of(SamplingParams.greedy(), SEEDED)) {
                RecordingListener a = new RecordingListener();
                RecordingListener b = new RecordingListener();
                e.submit(request(unrelated, sampling, 12), b);
                e.submit(request(turn2, sampling, 12), a);
                TokenEvent.Finished end = assertInstanceOf(TokenEvent.Finished.class, a.awaitEnd());
                assertInstanceOf(TokenEvent.Finished.class, b.awaitEnd());
                // Turn 1 computed its 47 prompt tokens and 11 of its 12 answer tokens: 3 whole blocks; the
                // greedy turn 2 then left its 68-token prompt's 4 blocks for the seeded one.
                assertEquals(sampling == SEEDED ? 64 : 48, end.stats().numCachedPromptTokens(), sampling + ": cached tokens");
                assertArrayEquals(cold(layout, turn2, sampling, 12), a.tokens(), sampling + ": turn 2");
                assertArrayEquals(cold(layout, unrelated, sampling, 12), b.tokens(), sampling + ": unrelated");
            }
            // A prompt that is entirely cached still computes its last token (whose logits it samples).
            Run again = run(e, Arrays.copyOf(turn1, 32), SamplingParams.greedy(), 4);
            assertEquals(16, again.cached(), "a 32-token prompt reuses one block and computes the second");
            assertArrayEquals(cold(layout, Arrays.copyOf(turn1, 32), SamplingParams.greedy(), 4), again.tokens());
            EngineStats stats = e.stats();
            assertEquals(0, stats.kvUsedTokens());
            assertEquals(0, stats.numCachedSequences(), "no sequence left in the runner");
            assertTrue(stats.prefixCacheTokens() > 0 && stats.prefixCacheTokens() % BLOCK == 0, "blocks stay cached");
            assertEquals(stats.prefixCacheTokens() * e.kvBytesPerToken(), stats.prefixCacheBytes());
        }
    }

    /**
     * A float16 in-place cache (spindle.models.kv-dtype): the next chat turn restores its blocks (float16
     * bytes, half the float32 size), batched with an unrelated request, and both generate the plain
     * float32 export's greedy tokens.
     */
    @org.junit.jupiter.api.Test
    void aFloat16InPlaceCacheHitsThePrefixCacheAndGeneratesThePlainLayoutsTokens() throws Exception {
        Path f16 = TestModels.tiny(DemoLayout.IN_PLACE_KV, KvDtype.FLOAT16);
        int[] turn1 = concat(tokens(40, 1), tokens(7, 2));
        try (Engine e = engine(f16, 4, 24, 10_000_000, PrefixCacheSettings.DEFAULT)) {
            Run first = run(e, turn1, SamplingParams.greedy(), 12);
            assertArrayEquals(cold(DemoLayout.OPTIMUM, turn1, SamplingParams.greedy(), 12), first.tokens());
            int[] turn2 = concat(turn1, first.tokens(), tokens(9, 3));
            int[] unrelated = tokens(30, 4);
            RecordingListener a = new RecordingListener();
            RecordingListener b = new RecordingListener();
            e.submit(request(unrelated, SamplingParams.greedy(), 12), b);
            e.submit(request(turn2, SamplingParams.greedy(), 12), a);
            TokenEvent.Finished end = assertInstanceOf(TokenEvent.Finished.class, a.awaitEnd());
            assertInstanceOf(TokenEvent.Finished.class, b.awaitEnd());
            assertEquals(48, end.stats().numCachedPromptTokens(), "turn 1's three whole blocks restored");
            assertArrayEquals(cold(DemoLayout.OPTIMUM, turn2, SamplingParams.greedy(), 12), a.tokens(), "turn 2");
            assertArrayEquals(cold(DemoLayout.OPTIMUM, unrelated, SamplingParams.greedy(), 12), b.tokens(), "unrelated");
            try (Engine plain = engine(DemoLayout.OPTIMUM, 1, 512, 10_000_000, PrefixCacheSettings.OFF)) {
                assertEquals(plain.kvBytesPerToken() / 2, e.kvBytesPerToken(), "float16: half the bytes per token");
            }
            EngineStats stats = e.stats();
            assertEquals(stats.prefixCacheTokens() * e.kvBytesPerToken(), stats.prefixCacheBytes());
        }
    }

    @ParameterizedTest
    @EnumSource(T5DemoWriter.Variant.class)
    void t5ReusesTheEncoderOutputOfAnIdenticalSource(T5DemoWriter.Variant variant) throws Exception {
        Path dir = TestModels.tinyT5(variant);
        int[] source = {37, 1712, 15, 8, 3, 9, 1};
        int[] other = {100, 200, 300, 1};
        for (SamplingParams sampling : List.of(SamplingParams.greedy(), SEEDED)) {
            int[] cold;
            try (Engine e = new Engine("t5-cold", T5Loader.load(ORT, dir, ModelConfig.read(dir)),
                    new EngineConfig(1, 512, 10_000_000, 64, 512, PrefixCacheSettings.OFF)).start()) {
                cold = run(e, source, sampling, 8).tokens();
            }
            try (Engine e = new Engine("t5-warm", T5Loader.load(ORT, dir, ModelConfig.read(dir)),
                    new EngineConfig(4, 512, 10_000_000, 64, 512, PrefixCacheSettings.DEFAULT)).start()) {
                Run first = run(e, source, sampling, 8);
                assertEquals(0, first.cached());
                assertArrayEquals(cold, first.tokens());
                RecordingListener a = new RecordingListener();
                RecordingListener b = new RecordingListener();
                e.submit(request(other, sampling, 8), b);
                e.submit(request(source, sampling, 8), a);
                TokenEvent.Finished end = assertInstanceOf(TokenEvent.Finished.class, a.awaitEnd());
                assertInstanceOf(TokenEvent.Finished.class, b.awaitEnd());
                assertEquals(source.length - 1, end.stats().numCachedPromptTokens(), "all but the token that starts it");
                assertArrayEquals(cold, a.tokens(), sampling + ": the same source again");
                assertEquals(source.length + other.length, e.stats().prefixCacheTokens(), "both sources kept");
            }
        }
    }

    @ParameterizedTest
    @EnumSource(value = DemoLayout.class, names = {"OPTIMUM", "IN_PLACE_KV"})
    void concurrentRequestsSharingOnePrefixAgreeWithColdRuns(DemoLayout layout) throws Exception {
        int[] shared = tokens(48, 5);
        List<int[]> prompts = new ArrayList<>();
        for (int i = 0; i < 8; i++) {
            prompts.add(concat(shared, tokens(3 + i, 10 + i)));
        }
        try (Engine e = engine(layout, 3, 32, 10_000_000, PrefixCacheSettings.DEFAULT)) {
            List<RecordingListener> ls = new ArrayList<>();
            for (int[] p : prompts) {
                RecordingListener l = new RecordingListener();
                e.submit(request(p, SamplingParams.greedy(), 8), l);
                ls.add(l);
            }
            int hits = 0;
            for (int i = 0; i < prompts.size(); i++) {
                TokenEvent.Finished end = assertInstanceOf(TokenEvent.Finished.class, ls.get(i).awaitEnd());
                int cached = end.stats().numCachedPromptTokens();
                assertTrue(cached == 0 || cached == 48, "whole shared blocks only: " + cached);
                hits += cached > 0 ? 1 : 0;
                assertArrayEquals(cold(layout, prompts.get(i), SamplingParams.greedy(), 8), ls.get(i).tokens(), "request " + i);
            }
            // Three run at once, so the first wave computes the prefix; those admitted after it was in hit it.
            assertTrue(hits >= 4, "requests admitted after the first prompt was in hit the cache: " + hits);
        }
    }

    @ParameterizedTest
    @EnumSource(value = DemoLayout.class, names = {"ORT_GPT2", "IN_PLACE_KV"})
    void evictionUnderASmallBudgetLosesNoRequestAndStaysWithinIt(DemoLayout layout) throws Exception {
        long perToken;
        try (Engine probe = engine(layout, 1, 512, 10_000_000, PrefixCacheSettings.OFF)) {
            perToken = probe.kvBytesPerToken();
        }
        int capacity = 160;
        AtomicReference<String> violation = new AtomicReference<>();
        AtomicBoolean done = new AtomicBoolean();
        try (Engine e = engine(layout, 2, 32, capacity * perToken, new PrefixCacheSettings(true, BLOCK, 1.0))) {
            Thread watcher = Thread.ofPlatform().start(() -> {
                while (!done.get()) {
                    EngineStats s = e.stats();
                    if (s.kvUsedTokens() + s.prefixCacheTokens() > s.kvCapacityTokens()) {
                        violation.compareAndSet(null, s.kvUsedTokens() + " reserved + " + s.prefixCacheTokens()
                                + " cached > " + s.kvCapacityTokens());
                    }
                    Thread.onSpinWait();
                }
            });
            List<int[]> prompts = new ArrayList<>();
            List<RecordingListener> ls = new ArrayList<>();
            for (int i = 0; i < 12; i++) {
                // Each request reserves 40 + 8 = 48 tokens; two run at once; every prompt leaves 32 tokens cached.
                int[] p = i % 3 == 2 ? prompts.get(i - 2) : tokens(40, 100 + i);
                prompts.add(p);
                RecordingListener l = new RecordingListener();
                e.submit(request(p, SamplingParams.greedy(), 8), l);
                ls.add(l);
            }
            for (int i = 0; i < ls.size(); i++) {
                assertInstanceOf(TokenEvent.Finished.class, ls.get(i).awaitEnd(), "request " + i);
                assertArrayEquals(cold(layout, prompts.get(i), SamplingParams.greedy(), 8), ls.get(i).tokens(), "request " + i);
            }
            done.set(true);
            watcher.join();
            assertNull(violation.get());
            assertTrue(e.stats().prefixCacheTokens() <= capacity);
        }
    }

    @ParameterizedTest
    @EnumSource(value = DemoLayout.class, names = {"OPTIMUM_SPLIT", "IN_PLACE_KV"})
    void aRequestCancelledMidPrefillLeavesWholeComputedBlocks(DemoLayout layout) throws Exception {
        int[] prompt = tokens(200, 9);
        // 8 prompt tokens per step: the cancel lands while the prompt is still being fed.
        try (Engine e = engine(layout, 2, 8, 10_000_000, PrefixCacheSettings.DEFAULT)) {
            RecordingListener l = new RecordingListener();
            var handle = e.submit(request(prompt, SamplingParams.greedy(), 4), l);
            while (e.stats().numSteps() < 5) {
                Thread.sleep(1);
            }
            handle.abort();
            TokenEvent.Finished end = assertInstanceOf(TokenEvent.Finished.class, l.awaitEnd());
            assertEquals(0, l.tokens().length, "cancelled before its first token");
            int cachedAfterCancel = e.stats().prefixCacheTokens();
            assertTrue(cachedAfterCancel % BLOCK == 0 && cachedAfterCancel < prompt.length, "whole blocks of what was computed: "
                    + cachedAfterCancel);
            Run again = run(e, prompt, SamplingParams.greedy(), 6);
            assertEquals(cachedAfterCancel, again.cached());
            assertArrayEquals(cold(layout, prompt, SamplingParams.greedy(), 6), again.tokens());
            assertTrue(end.stats().numGeneratedTokens() == 0);
        }
    }
}
