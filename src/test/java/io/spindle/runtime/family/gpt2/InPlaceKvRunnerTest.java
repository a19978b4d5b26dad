package io.spindle.runtime.family.gpt2;

import io.spindle.engine.exec.StepInput;
import io.spindle.engine.exec.StepOutput;
import io.spindle.model.ModelConfig;
import io.spindle.runtime.demo.DemoLayout;
import io.spindle.runtime.onnx.KvDtype;
import io.spindle.runtime.onnx.OrtRuntime;
import io.spindle.testing.TestModels;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * What only the in-place runner does, against the plain layout's {@link Gpt2Runner} fed the same
 * steps (same weights): its cache grows (a copy of every live slot) while rows decode, and a live
 * sequence that skips steps while rows in later slots decode (its slot computes a dummy token) loses
 * nothing; every row's logits agree at every step (1e-4 with a float32 cache, 1e-3 with a float16 one:
 * InPlaceCompileTest measured at most 1.0e-4 for float16 on these weights).
 */
class InPlaceKvRunnerTest {
    private static final OrtRuntime ORT = new OrtRuntime("cpu", 2);
    private static Gpt2Decoder reference;
    private static final java.util.Map<KvDtype, InPlaceKvRunner> IN_PLACE = new java.util.EnumMap<>(KvDtype.class);

    @BeforeAll
    static void load() throws Exception {
        Path plain = TestModels.tiny(DemoLayout.OPTIMUM);
        reference = Gpt2Loader.load(ORT, plain, ModelConfig.read(plain));
        for (KvDtype d : KvDtype.values()) {
            Path dir = TestModels.tiny(DemoLayout.IN_PLACE_KV, d);
            IN_PLACE.put(d, (InPlaceKvRunner) Gpt2Loader.load(ORT, dir, ModelConfig.read(dir)));
        }
    }

    @AfterAll
    static void close() {
        reference.close();
        IN_PLACE.values().forEach(InPlaceKvRunner::close);
    }

    private static float tolerance(KvDtype dtype) {
        return dtype == KvDtype.FLOAT32 ? 1e-4f : 1e-3f;
    }

    @ParameterizedTest
    @EnumSource(KvDtype.class)
    void theCacheGrowsUnderDecodingRowsAndASkippedRowKeepsItsPositions(KvDtype dtype) throws Exception {
        InPlaceKvRunner inPlace = IN_PLACE.get(dtype);
        assertEquals(dtype.javaType(), inPlace.graph().kvType());
        // Token arrays as short as the prompts, grown as the engine grows them: the reservation hint
        // starts small, so the cache must grow (and move) mid-decode.
        int[][] tokens = {{464, 2068, 7586, 21831}, {40, 1101, 257}, {1212, 318, 257, 1332, 286, 262}};
        int[] len = {4, 3, 6};
        long[] ids = {1, 2, 3};
        long movesBefore = inPlace.cacheMoves();
        List<StepInput> step = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            step.add(new StepInput(ids[i], tokens[i], 0, len[i]));
        }
        for (int k = 0; k < 110; k++) {
            int[] rows = rowsOf(step, ids);
            StepOutput want = reference.execute(step);
            float[][] expected = new float[step.size()][];
            for (int r = 0; r < step.size(); r++) {
                expected[r] = logits(want, r);
            }
            StepOutput got = inPlace.execute(step);
            for (int r = 0; r < step.size(); r++) {
                float[] actual = logits(got, r);
                assertClose(expected[r], actual, "step " + k + ", sequence " + ids[rows[r]], tolerance(dtype));
                int i = rows[r];
                if (len[i] == tokens[i].length) {
                    tokens[i] = Arrays.copyOf(tokens[i], tokens[i].length * 2);
                }
                tokens[i][len[i]++] = argmax(actual);
            }
            // Sequence 1 (slot 0) sits out steps 20–39 while the rows in slots 1 and 2 decode.
            step = new ArrayList<>();
            for (int i = 0; i < 3; i++) {
                if (i == 0 && k >= 19 && k < 39) {
                    continue;
                }
                step.add(new StepInput(ids[i], tokens[i], len[i] - 1, len[i]));
            }
        }
        assertTrue(inPlace.cacheMoves() > movesBefore, "the cache grew past its first length");
        for (long id : ids) {
            reference.release(id);
            inPlace.release(id);
        }
        assertEquals(0, inPlace.numCachedSequences());
        assertEquals(0, inPlace.allocatedBytes(), "an idle runner holds no buffers");
    }

    /**
     * Streams that arrive one step apart (as a closed-loop load brings them) grow the slots in quanta of
     * {@link SlotCache#SLOT_QUANTUM}: 8 arrivals move the cache once per quantum after the first, not at
     * every arrival (7 moves), and every row still equals the plain layout's logits.
     */
    @org.junit.jupiter.api.Test
    void arrivalsOneStepApartGrowTheSlotsInQuanta() throws Exception {
        InPlaceKvRunner inPlace = IN_PLACE.get(KvDtype.FLOAT32);
        int arrivals = 8;
        int[][] tokens = new int[arrivals][32];
        int[] len = new int[arrivals];
        long movesBefore = inPlace.cacheMoves();
        try {
            for (int k = 0; k < arrivals; k++) {
                List<StepInput> step = new ArrayList<>();
                for (int i = 0; i < k; i++) {
                    step.add(new StepInput(100 + i, tokens[i], len[i] - 1, len[i]));
                }
                tokens[k][0] = 464 + k;
                tokens[k][1] = 2068;
                tokens[k][2] = 7586;
                len[k] = 3;
                step.add(new StepInput(100 + k, tokens[k], 0, 3));
                StepOutput want = reference.execute(step);
                StepOutput got = inPlace.execute(step);
                for (int r = 0; r < step.size(); r++) {
                    float[] actual = logits(got, r);
                    assertClose(logits(want, r), actual, "arrival " + k + ", row " + r, tolerance(KvDtype.FLOAT32));
                    int i = r < k ? r : k;
                    tokens[i][len[i]++] = argmax(actual);
                }
            }
            int quanta = (arrivals + SlotCache.SLOT_QUANTUM - 1) / SlotCache.SLOT_QUANTUM;
            assertEquals(quanta - 1, inPlace.cacheMoves() - movesBefore, "one move per quantum of slots added");
            assertTrue(quanta - 1 < arrivals - 1, "fewer moves than arrivals");
        } finally {
            for (int i = 0; i < arrivals; i++) {
                reference.release(100 + i);
                inPlace.release(100 + i);
            }
        }
        assertEquals(0, inPlace.allocatedBytes());
    }

    /** A row the runner has no cache for must start at 0; one it holds must continue from its length. */
    @ParameterizedTest
    @EnumSource(KvDtype.class)
    void aRowThatDoesNotContinueItsCacheIsRefused(KvDtype dtype) throws Exception {
        InPlaceKvRunner inPlace = IN_PLACE.get(dtype);
        int[] t = {464, 2068, 7586, 21831, 0, 0};
        assertThrowsModelFailure(() -> inPlace.execute(List.of(new StepInput(50, t, 2, 4))));
        inPlace.execute(List.of(new StepInput(51, t, 0, 4)));
        assertThrowsModelFailure(() -> inPlace.execute(List.of(new StepInput(51, t, 3, 4))));
        inPlace.release(50);
        inPlace.release(51);
        assertEquals(0, inPlace.allocatedBytes());
    }

    private static void assertThrowsModelFailure(org.junit.jupiter.api.function.Executable e) {
        org.junit.jupiter.api.Assertions.assertThrows(io.spindle.engine.exec.ModelExecutionException.class, e);
    }

    private static int[] rowsOf(List<StepInput> step, long[] ids) {
        int[] rows = new int[step.size()];
        for (int r = 0; r < step.size(); r++) {
            for (int i = 0; i < ids.length; i++) {
                if (ids[i] == step.get(r).sequenceId()) {
                    rows[r] = i;
                }
            }
        }
        return rows;
    }

    private static float[] logits(StepOutput out, int row) {
        float[] l = new float[50257];
        out.copyLogits(row, l);
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

    private static void assertClose(float[] expected, float[] actual, String what, float tolerance) {
        float worst = 0;
        for (int i = 0; i < expected.length; i++) {
            worst = Math.max(worst, Math.abs(expected[i] - actual[i]));
        }
        assertTrue(worst <= tolerance, what + ": max |Δlogit| = " + worst);
    }
}
