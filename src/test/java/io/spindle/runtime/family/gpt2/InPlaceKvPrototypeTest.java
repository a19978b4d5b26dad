package io.spindle.runtime.family.gpt2;

import ai.onnxruntime.OrtSession;
import io.spindle.engine.exec.StepInput;
import io.spindle.engine.exec.StepOutput;
import io.spindle.model.ModelConfig;
import io.spindle.runtime.demo.DemoLayout;
import io.spindle.runtime.demo.DemoModelWriter;
import io.spindle.runtime.demo.DemoPreset;
import io.spindle.runtime.onnx.OrtRuntime;
import io.spindle.testing.TestModels;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Issue 17 prototype: the tiny GPT-2 with GroupQueryAttention over a cache that stays in place
 * ({@link InPlaceKvPrototype}) gives the serving graph's logits (through {@link Gpt2Runner}) within
 * 1e-4 at every step, and the same greedy tokens, alone, chunked and in a batch of rows of different
 * lengths that join at different steps.
 */
class InPlaceKvPrototypeTest {
    private static final float TOLERANCE = 1e-4f;
    private static final OrtRuntime ORT = new OrtRuntime("cpu", 2);
    private static final AtomicLong IDS = new AtomicLong(1);
    private static Gpt2Decoder reference;
    private static OrtSession inPlace;

    @BeforeAll
    static void load() throws Exception {
        Path dir = TestModels.tiny(DemoLayout.OPTIMUM);
        reference = Gpt2Loader.load(ORT, dir, ModelConfig.read(dir));
        inPlace = ORT.open(InPlaceKvPrototype.ensureGraph(dir, DemoPreset.TINY.shape(), DemoModelWriter.DEFAULT_SEED));
    }

    @AfterAll
    static void close() throws Exception {
        reference.close();
        inPlace.close();
    }

    private static InPlaceKvPrototype driver(int slots, int maxLen) {
        return new InPlaceKvPrototype(ORT.env(), inPlace, DemoPreset.TINY.shape(), slots, maxLen);
    }

    @Test
    void aloneGreedyDecodeMatchesTheServingGraphAtEveryStep() throws Exception {
        try (InPlaceKvPrototype kv = driver(1, 64)) {
            int[] tokens = new int[40];
            int[] prompt = {15496, 995, 11, 318, 257, 1332, 13};
            System.arraycopy(prompt, 0, tokens, 0, prompt.length);
            long id = IDS.getAndIncrement();
            float[] ref = logits(reference.execute(List.of(new StepInput(id, tokens, 0, prompt.length))), 0);
            float[] got = kv.step(0, new int[][] {prompt}, new int[] {0})[0];
            assertClose(ref, got, "prefill");
            // Beyond the valid length: a kernel that copied the past into a fresh present (or zeroed it)
            // would lose this; one that shares the buffer writes only position `at`.
            kv.pokeKey(0, 1, 63, 3, 42.5f);
            float written = kv.keyAt(0, 2, prompt.length - 1, 5);
            for (int at = prompt.length; at < tokens.length; at++) {
                tokens[at] = argmax(ref);
                assertEquals(argmax(ref), argmax(got), "greedy token at " + at);
                ref = logits(reference.execute(List.of(new StepInput(id, tokens, at, at + 1))), 0);
                got = kv.step(0, new int[][] {{tokens[at]}}, new int[] {at})[0];
                assertClose(ref, got, "decode at " + at);
            }
            assertEquals(42.5f, kv.keyAt(0, 1, 63, 3), "a position no call wrote is untouched: the present is the past's buffer");
            assertEquals(written, kv.keyAt(0, 2, prompt.length - 1, 5), "the prompt's keys stay where they were written");
            reference.release(id);
        }
    }

    @Test
    void aPromptChunkedAfterAPastMatchesAtBatchOne() throws Exception {
        try (InPlaceKvPrototype kv = driver(1, 64)) {
            int[] tokens = new int[24];
            for (int i = 0; i < 11; i++) {
                tokens[i] = 300 + 17 * i;
            }
            long id = IDS.getAndIncrement();
            int[] bounds = {0, 4, 8, 11};
            float[] ref = null;
            float[] got = null;
            for (int c = 0; c + 1 < bounds.length; c++) {
                ref = logits(reference.execute(List.of(new StepInput(id, tokens, bounds[c], bounds[c + 1]))), 0);
                got = kv.step(0, new int[][] {Arrays.copyOfRange(tokens, bounds[c], bounds[c + 1])},
                        new int[] {bounds[c]})[0];
                assertClose(ref, got, "chunk " + c);
            }
            for (int at = 11; at < tokens.length; at++) {
                tokens[at] = argmax(ref);
                assertEquals(argmax(ref), argmax(got), "greedy token at " + at);
                ref = logits(reference.execute(List.of(new StepInput(id, tokens, at, at + 1))), 0);
                got = kv.step(0, new int[][] {{tokens[at]}}, new int[] {at})[0];
                assertClose(ref, got, "decode at " + at);
            }
            reference.release(id);
        }
    }

    /**
     * Three prompts of 5, 9 and 2 tokens prefilled together (right-padded first prompt), a fourth
     * prefilled alone into slot 3 while the others have a past, then all four decode together: each
     * row's logits match the serving graph's batched run of the same rows.
     */
    @Test
    void rowsOfDifferentLengthsJoiningAtDifferentStepsMatch() throws Exception {
        int[][] prompts = {{15496, 995, 11, 318, 257}, {40, 588, 11, 262, 3290, 373, 257, 922, 13}, {464, 2068},
                {50256, 1212, 318, 7, 1332, 286}};
        int rows = prompts.length;
        int[][] tokens = new int[rows][64];
        int[] at = new int[rows];
        long[] ids = new long[rows];
        for (int r = 0; r < rows; r++) {
            System.arraycopy(prompts[r], 0, tokens[r], 0, prompts[r].length);
            ids[r] = IDS.getAndIncrement();
        }
        try (InPlaceKvPrototype kv = driver(rows, 64)) {
            float[][] ref = new float[rows][];
            float[][] got = new float[rows][];
            // Rows 0..2: one batched first prompt, in both.
            StepOutput out = reference.execute(List.of(new StepInput(ids[0], tokens[0], 0, 5),
                    new StepInput(ids[1], tokens[1], 0, 9), new StepInput(ids[2], tokens[2], 0, 2)));
            float[][] first = kv.step(0, new int[][] {prompts[0], prompts[1], prompts[2]}, new int[] {0, 0, 0});
            for (int r = 0; r < 3; r++) {
                ref[r] = logits(out, r);
                got[r] = first[r];
                at[r] = prompts[r].length;
                assertClose(ref[r], got[r], "batched prefill row " + r);
            }
            // Two decode steps of rows 0..2.
            for (int step = 0; step < 2; step++) {
                decode(kv, 3, tokens, at, ids, ref, got, "early decode " + step);
            }
            // Row 3 joins: prefilled alone into its slot while the others keep their caches.
            ref[3] = logits(reference.execute(List.of(new StepInput(ids[3], tokens[3], 0, prompts[3].length))), 0);
            got[3] = kv.step(3, new int[][] {prompts[3]}, new int[] {0})[0];
            at[3] = prompts[3].length;
            assertClose(ref[3], got[3], "joining prefill");
            for (int step = 0; step < 20; step++) {
                decode(kv, rows, tokens, at, ids, ref, got, "decode " + step);
            }
        }
        for (long id : ids) {
            reference.release(id);
        }
    }

    /** The limit that shapes the design: ONNX Runtime refuses chunks after a past at batch > 1. */
    @Test
    void onnxRuntimeRefusesChunksAfterAPastAtBatchAboveOne() throws Exception {
        try (InPlaceKvPrototype kv = driver(2, 64)) {
            kv.step(0, new int[][] {{464, 2068, 7}, {40, 588, 11}}, new int[] {0, 0});
            ai.onnxruntime.OrtException e = org.junit.jupiter.api.Assertions.assertThrows(ai.onnxruntime.OrtException.class,
                    () -> kv.step(0, new int[][] {{318, 257}, {262, 3290}}, new int[] {3, 3}, false));
            assertTrue(e.getMessage().contains("batch_size must be 1 when sequence_length > 1 and past context is given"),
                    e.getMessage());
        }
    }

    private static void decode(InPlaceKvPrototype kv, int rows, int[][] tokens, int[] at, long[] ids, float[][] ref,
                               float[][] got, String what) throws Exception {
        List<StepInput> batch = new ArrayList<>();
        int[][] fed = new int[rows][];
        int[] past = new int[rows];
        for (int r = 0; r < rows; r++) {
            assertEquals(argmax(ref[r]), argmax(got[r]), what + ": greedy token of row " + r);
            tokens[r][at[r]] = argmax(ref[r]);
            batch.add(new StepInput(ids[r], tokens[r], at[r], at[r] + 1));
            fed[r] = new int[] {tokens[r][at[r]]};
            past[r] = at[r];
            at[r]++;
        }
        StepOutput out = reference.execute(batch);
        float[][] step = kv.step(0, fed, past);
        for (int r = 0; r < rows; r++) {
            ref[r] = logits(out, r);
            got[r] = step[r];
            assertClose(ref[r], got[r], what + " row " + r);
        }
    }

    private static float[] logits(StepOutput out, int row) {
        float[] l = new float[reference.graph().vocabSize()];
        out.copyLogits(row, l);
        return l;
    }

    static int argmax(float[] l) {
        int best = 0;
        for (int i = 1; i < l.length; i++) {
            if (l[i] > l[best]) {
                best = i;
            }
        }
        return best;
    }

    static void assertClose(float[] expected, float[] actual, String what) {
        float worst = 0;
        for (int i = 0; i < expected.length; i++) {
            worst = Math.max(worst, Math.abs(expected[i] - actual[i]));
        }
        assertTrue(worst <= TOLERANCE, what + ": max |Δlogit| = " + worst);
    }
}
