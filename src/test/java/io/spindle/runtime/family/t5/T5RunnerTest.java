package io.spindle.runtime.family.t5;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtSession;
import io.spindle.engine.exec.StepInput;
import io.spindle.engine.exec.StepOutput;
import io.spindle.model.ModelConfig;
import io.spindle.runtime.demo.T5DemoWriter.Variant;
import io.spindle.runtime.onnx.OrtRuntime;
import io.spindle.testing.TestModels;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.nio.FloatBuffer;
import java.nio.LongBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Model tests on real ONNX Runtime sessions over the project-built tiny T5, split and merged decoders. */
class T5RunnerTest {
    private static final float TOLERANCE = 1e-4f;
    private static final OrtRuntime ORT = new OrtRuntime("cpu", 2);
    private static final Map<Variant, T5Runner> RUNNERS = new EnumMap<>(Variant.class);
    private static final AtomicLong IDS = new AtomicLong(1);
    private static final int START = 0;

    @BeforeAll
    static void load() throws Exception {
        for (Variant v : Variant.values()) {
            Path dir = TestModels.tinyT5(v);
            RUNNERS.put(v, T5Loader.load(ORT, dir, ModelConfig.read(dir)));
        }
    }

    @AfterAll
    static void close() {
        RUNNERS.values().forEach(T5Runner::close);
    }

    @ParameterizedTest
    @EnumSource(Variant.class)
    void recognisesTheExport(Variant v) {
        T5Graph g = RUNNERS.get(v).graph();
        assertEquals(new T5Graph(2, 4, 16, 64, 4096, v == Variant.MERGED), g);
        assertEquals(512, RUNNERS.get(v).maxPromptTokens());
    }

    /**
     * At every step the cached decoder's logits equal a full recompute: the encoder again, then the
     * no-past decoder over the whole decoder input. The self-attention cache grows by exactly one
     * decoder position per step; the cross-attention cache stays the size of the source.
     */
    @ParameterizedTest
    @EnumSource(Variant.class)
    void cachedDecodeEqualsFullRecomputeAtEveryStep(Variant v) throws Exception {
        T5Runner runner = RUNNERS.get(v);
        int[] source = {339, 829, 416, 1119, 282, 1131, 410, 534, 1};
        int steps = 20;
        int[] tokens = new int[source.length + steps];
        System.arraycopy(source, 0, tokens, 0, source.length);
        long id = IDS.getAndIncrement();
        float[] logits = logits(runner.execute(List.of(new StepInput(id, tokens, 0, source.length, source.length))));
        assertEquals(1, runner.decoderPositions(id), "the start token");
        assertEquals(source.length, runner.sourcePositions(id));
        int len = source.length;
        List<Integer> decoderInput = new ArrayList<>(List.of(START));
        try (Recompute full = new Recompute(TestModels.tinyT5(Variant.SPLIT))) {
            // Past 16 positions the cache grows its capacity: the copy must keep every position.
            for (int step = 0; step < steps - 1; step++) {
                assertClose(full.logits(source, decoderInput), logits, "step " + step);
                int next = argmax(logits);
                tokens[len] = next;
                decoderInput.add(next);
                logits = logits(runner.execute(List.of(new StepInput(id, tokens, len, len + 1, source.length))));
                assertEquals(step + 2, runner.decoderPositions(id), "one more decoder position at step " + step);
                assertEquals(source.length, runner.sourcePositions(id), "the cross-attention cache is fixed");
                len++;
            }
        } finally {
            runner.release(id);
        }
        assertEquals(0, runner.allocatedBytes(), "an idle runner holds nothing");
        assertEquals(0, runner.numCachedSequences());
    }

    /**
     * Four sequences with sources of different lengths, started at different steps (so their outputs
     * are of different lengths too), generate in shared steps exactly what each generates alone.
     */
    @ParameterizedTest
    @EnumSource(Variant.class)
    void batchedEqualsAlone(Variant v) throws Exception {
        T5Runner runner = RUNNERS.get(v);
        int[][] sources = {{339, 829, 416, 1}, {1119, 282, 1131, 410, 534, 579, 310, 259, 1}, {2733, 1},
                {600, 601, 602, 603, 604, 605, 1}};
        int[] startAt = {0, 0, 2, 3};
        int steps = 10;
        int[][] alone = new int[sources.length][];
        for (int i = 0; i < sources.length; i++) {
            alone[i] = greedyAlone(runner, sources[i], steps);
        }
        int[][] tokens = new int[sources.length][];
        int[] len = new int[sources.length];
        long[] ids = new long[sources.length];
        for (int i = 0; i < sources.length; i++) {
            tokens[i] = new int[sources[i].length + steps];
            System.arraycopy(sources[i], 0, tokens[i], 0, sources[i].length);
            len[i] = sources[i].length;
            ids[i] = IDS.getAndIncrement();
        }
        for (int step = 0; ; step++) {
            List<StepInput> batch = new ArrayList<>();
            List<Integer> who = new ArrayList<>();
            for (int i = 0; i < sources.length; i++) {
                int generated = len[i] - sources[i].length;
                if (step < startAt[i] || generated >= steps) {
                    continue;
                }
                boolean first = step == startAt[i];
                batch.add(first ? new StepInput(ids[i], tokens[i], 0, len[i], sources[i].length)
                        : new StepInput(ids[i], tokens[i], len[i] - 1, len[i], sources[i].length));
                who.add(i);
            }
            if (batch.isEmpty()) {
                break;
            }
            StepOutput out = runner.execute(batch);
            for (int r = 0; r < batch.size(); r++) {
                int i = who.get(r);
                float[] l = new float[runner.vocabSize()];
                out.copyLogits(r, l);
                tokens[i][len[i]++] = argmax(l);
            }
        }
        for (int i = 0; i < sources.length; i++) {
            runner.release(ids[i]);
            int[] batched = java.util.Arrays.copyOfRange(tokens[i], sources[i].length, len[i]);
            assertArrayEquals(alone[i], batched, "sequence " + i);
        }
        assertEquals(0, runner.numCachedSequences());
    }

    @Test
    void mergedAndSplitDecodersGiveIdenticalTokens() throws Exception {
        int[] source = {1119, 282, 1131, 410, 534, 579, 310, 259, 1};
        int[] split = greedyAlone(RUNNERS.get(Variant.SPLIT), source, 16);
        int[] merged = greedyAlone(RUNNERS.get(Variant.MERGED), source, 16);
        assertArrayEquals(split, merged);
        assertTrue(java.util.Arrays.stream(split).distinct().count() > 1, "random weights still vary their output");
    }

    private static int[] greedyAlone(T5Runner runner, int[] source, int steps) throws Exception {
        int[] tokens = new int[source.length + steps];
        System.arraycopy(source, 0, tokens, 0, source.length);
        long id = IDS.getAndIncrement();
        int len = source.length;
        try {
            for (int step = 0; step < steps; step++) {
                StepInput in = step == 0 ? new StepInput(id, tokens, 0, len, source.length)
                        : new StepInput(id, tokens, len - 1, len, source.length);
                tokens[len++] = argmax(logits(runner.execute(List.of(in))));
            }
        } finally {
            runner.release(id);
        }
        return java.util.Arrays.copyOfRange(tokens, source.length, len);
    }

    /** The encoder and the no-past decoder, run directly over whole sequences. */
    private static final class Recompute implements AutoCloseable {
        private final OrtSession encoder;
        private final OrtSession decoder;

        Recompute(Path dir) throws Exception {
            encoder = ORT.open(dir.resolve("encoder_model.onnx"));
            decoder = ORT.open(dir.resolve("decoder_model.onnx"));
        }

        float[] logits(int[] source, List<Integer> decoderInput) throws Exception {
            var env = ORT.env();
            long[] src = java.util.Arrays.stream(source).asLongStream().toArray();
            long[] mask = new long[source.length];
            java.util.Arrays.fill(mask, 1);
            long[] dec = decoderInput.stream().mapToLong(Integer::longValue).toArray();
            try (OnnxTensor ids = OnnxTensor.createTensor(env, LongBuffer.wrap(src), new long[] {1, src.length});
                 OnnxTensor m = OnnxTensor.createTensor(env, LongBuffer.wrap(mask), new long[] {1, src.length});
                 OrtSession.Result enc = encoder.run(Map.of("input_ids", ids, "attention_mask", m));
                 OnnxTensor d = OnnxTensor.createTensor(env, LongBuffer.wrap(dec), new long[] {1, dec.length});
                 OrtSession.Result out = decoder.run(Map.of("encoder_attention_mask", m, "input_ids", d,
                         "encoder_hidden_states", (OnnxTensor) enc.get("last_hidden_state").orElseThrow()))) {
                FloatBuffer all = ((OnnxTensor) out.get("logits").orElseThrow()).getFloatBuffer();
                int vocab = all.remaining() / dec.length;
                float[] last = new float[vocab];
                all.position((dec.length - 1) * vocab);
                all.get(last);
                return last;
            }
        }

        @Override
        public void close() throws Exception {
            encoder.close();
            decoder.close();
        }
    }

    private static float[] logits(StepOutput out) {
        float[] l = new float[RUNNERS.get(Variant.SPLIT).vocabSize()];
        out.copyLogits(0, l);
        return l;
    }

    private static int argmax(float[] l) {
        int best = 0;
        for (int i = 1; i < l.length; i++) {
            if (l[i] > l[best]) {
                best = i;
            }
        }
        return best;
    }

    private static void assertClose(float[] expected, float[] actual, String what) {
        assertEquals(expected.length, actual.length, what);
        float worst = 0;
        for (int i = 0; i < expected.length; i++) {
            worst = Math.max(worst, Math.abs(expected[i] - actual[i]));
        }
        assertTrue(worst <= TOLERANCE, what + ": max |Δlogit| " + worst);
    }
}
