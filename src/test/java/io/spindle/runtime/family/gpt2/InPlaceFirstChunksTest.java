package io.spindle.runtime.family.gpt2;

import ai.onnxruntime.OrtSession;
import io.spindle.engine.exec.StepInput;
import io.spindle.engine.exec.StepInput.Logits;
import io.spindle.engine.exec.StepOutput;
import io.spindle.model.ModelConfig;
import io.spindle.runtime.demo.DemoLayout;
import io.spindle.runtime.onnx.GraphSignature;
import io.spindle.runtime.onnx.KvDtype;
import io.spindle.runtime.onnx.OrtRuntime;
import io.spindle.testing.TestModels;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * First prompt chunks of one step batched into one first-prompt call of the in-place runner (right-padded
 * to the longest chunk), on both bindings and both cache types, against the plain layout's
 * {@link Gpt2Runner} fed the same steps (same weights; full-cache attention with a mask, no padding) and
 * against the in-place runner with that batching off or with each prompt run alone: logits where read
 * (the last position, every position, none), the decode steps after, a prompt continued by a later
 * chunk, the number of graph calls, and a live sequence whose slot lies between arrivals' slots (a
 * first-prompt call writes every slot it covers from position 0).
 */
class InPlaceFirstChunksTest {
    private static final OrtRuntime ORT = new OrtRuntime("cpu", 2);
    private static Gpt2Decoder reference;

    @BeforeAll
    static void load() throws Exception {
        Path plain = TestModels.tiny(DemoLayout.OPTIMUM);
        reference = Gpt2Loader.load(ORT, plain, ModelConfig.read(plain));
    }

    @AfterAll
    static void close() {
        reference.close();
    }

    static Stream<Arguments> variants() {
        List<Arguments> out = new ArrayList<>();
        for (InPlaceKvRunner.Binding b : List.of(InPlaceKvRunner.Binding.JAVA_API, InPlaceKvRunner.Binding.FFM)) {
            for (KvDtype d : KvDtype.values()) {
                out.add(Arguments.of(b, d));
            }
        }
        return out.stream();
    }

    private static InPlaceKvRunner open(InPlaceKvRunner.Binding binding, KvDtype dtype) throws Exception {
        Path dir = TestModels.tiny(DemoLayout.IN_PLACE_KV, dtype);
        OrtSession session = ORT.open(dir.resolve("model.onnx"));
        ModelConfig config = ModelConfig.read(dir);
        Gpt2Graph graph = Gpt2Graph.recognise(GraphSignature.of(dir.resolve("model.onnx"), session), config.numHeads());
        assertEquals(dtype.javaType(), graph.kvType());
        return new InPlaceKvRunner(ORT, session, graph, config.contextLength(), binding);
    }

    private static float tolerance(KvDtype dtype) {
        return dtype == KvDtype.FLOAT32 ? 1e-4f : 1e-3f;
    }

    /**
     * Four prompts (2 to 9 tokens; last-position, every-position and no logits, the last a chunk its
     * prompt continues) arrive in one step: one graph call where the runner with batching off makes four,
     * logits equal to the plain layout's and to each prompt run alone, and so are those of the prompt's
     * next chunk and of six decode steps of every row together.
     */
    @ParameterizedTest
    @MethodSource("variants")
    void firstChunksArrivingTogetherRunAsOneCall(InPlaceKvRunner.Binding binding, KvDtype dtype) throws Exception {
        try (InPlaceKvRunner batched = open(binding, dtype); InPlaceKvRunner unbatched = open(binding, dtype);
             InPlaceKvRunner alone = open(binding, dtype)) {
            unbatched.batchFirstChunks(false);
            int[][] tokens = {
                    {464, 2068, 7586, 21831, 625, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
                    {40, 1101, 257, 1332, 286, 262, 3303, 1080, 13, 0, 0, 0, 0, 0, 0, 0},
                    {1212, 318, 0, 0, 0, 0, 0, 0, 0, 0},
                    {15496, 995, 11, 318, 257, 1332, 13, 40, 41, 42, 43, 44, 0, 0, 0, 0, 0, 0, 0, 0}};
            for (int r = 0; r < tokens.length; r++) {
                tokens[r] = Arrays.copyOf(tokens[r], 32);
            }
            int[] prompt = {5, 9, 2, 12};
            int[] len = {5, 9, 2, 7};
            long[] ids = {11, 12, 13, 14};
            List<StepInput> first = List.of(
                    new StepInput(ids[0], tokens[0], 0, 5, prompt[0], Logits.LAST),
                    new StepInput(ids[1], tokens[1], 0, 9, prompt[1], Logits.EVERY),
                    new StepInput(ids[2], tokens[2], 0, 2, prompt[2], Logits.LAST),
                    new StepInput(ids[3], tokens[3], 0, 7, prompt[3], Logits.NONE));
            StepOutput want = reference.execute(first);
            long calls = batched.graphCalls();
            StepOutput got = batched.execute(first);
            assertEquals(1, batched.graphCalls() - calls, "four first chunks, one call");
            calls = unbatched.graphCalls();
            StepOutput one = unbatched.execute(first);
            assertEquals(4, unbatched.graphCalls() - calls, "without batching, one call per chunk");
            StepOutput[] alones = new StepOutput[first.size()];
            float[][][] aloneLogits = new float[first.size()][][];
            for (int r = 0; r < first.size(); r++) {
                alones[r] = alone.execute(List.of(first.get(r)));
                aloneLogits[r] = readAll(alones[r], 0, first.get(r));
            }
            for (int r = 0; r < first.size(); r++) {
                StepInput in = first.get(r);
                float[][] g = readAll(got, r, in);
                assertAllClose(readAll(want, r, in), g, "first chunk of " + in.sequenceId() + " vs the plain layout", tolerance(dtype));
                assertAllClose(readAll(one, r, in), g, "first chunk of " + in.sequenceId() + " vs unbatched", tolerance(dtype));
                assertAllClose(aloneLogits[r], g, "first chunk of " + in.sequenceId() + " vs alone", tolerance(dtype));
                if (in.logits() != Logits.NONE) {
                    tokens[r][len[r]] = argmax(g[g.length - 1]);
                    len[r]++;
                }
            }
            InPlaceKvRunner[] candidates = {batched, unbatched, alone};
            for (int k = 0; k < 7; k++) {
                List<StepInput> step = new ArrayList<>();
                for (int r = 0; r < ids.length; r++) {
                    if (r == 3 && len[r] < prompt[r]) {
                        // The prompt's next chunk continues the positions the batched call wrote.
                        step.add(new StepInput(ids[r], tokens[r], len[r], prompt[r], prompt[r], Logits.LAST));
                    } else {
                        step.add(new StepInput(ids[r], tokens[r], len[r] - 1, len[r]));
                    }
                }
                StepOutput w = reference.execute(step);
                float[][] expected = new float[step.size()][];
                for (int r = 0; r < step.size(); r++) {
                    expected[r] = logits(w, r);
                }
                for (InPlaceKvRunner c : candidates) {
                    StepOutput o = c.execute(step);
                    for (int r = 0; r < step.size(); r++) {
                        assertClose(expected[r], logits(o, r), "step " + (k + 1) + ", sequence " + ids[r]
                                + (c == batched ? "" : c == unbatched ? " (unbatched)" : " (alone)"), tolerance(dtype));
                    }
                }
                for (int r = 0; r < step.size(); r++) {
                    len[r] = step.get(r).to();
                    tokens[r][len[r]] = argmax(expected[r]);
                    len[r]++;
                }
            }
            for (long id : ids) {
                for (InPlaceKvRunner c : candidates) {
                    c.release(id);
                }
            }
            assertEquals(0, batched.allocatedBytes(), "an idle runner holds no buffers");
        } finally {
            for (long id = 11; id <= 14; id++) {
                reference.release(id);
            }
        }
    }

    /**
     * A live sequence (decoding this step) holds slot 1 and arrivals get slots 0, 2 and 3: the arrival at
     * 0 runs alone, those at 2 and 3 share a call, and the live sequence's positions survive (its logits
     * and the arrivals' equal the plain layout's for eight steps after).
     */
    @ParameterizedTest
    @MethodSource("variants")
    void aLiveSequenceBetweenArrivalsKeepsItsCache(InPlaceKvRunner.Binding binding, KvDtype dtype) throws Exception {
        try (InPlaceKvRunner inPlace = open(binding, dtype)) {
            Map<Long, int[]> tokens = new java.util.HashMap<>();
            Map<Long, Integer> len = new java.util.HashMap<>();
            List<StepInput> step = new ArrayList<>();
            for (long id = 1; id <= 3; id++) {
                step.add(prompt(id, (int) id + 2, tokens, len));
            }
            compare(step, inPlace, tokens, len, tolerance(dtype), "first arrivals");
            assertEquals(List.of(0, 1, 2), List.of(inPlace.slotOf(1), inPlace.slotOf(2), inPlace.slotOf(3)));
            for (long id : new long[] {1, 3}) {
                reference.release(id);
                inPlace.release(id);
                len.remove(id);
            }
            step = new ArrayList<>();
            step.add(decode(2, tokens, len));
            step.add(prompt(4, 6, tokens, len));
            step.add(prompt(5, 3, tokens, len));
            step.add(prompt(6, 4, tokens, len));
            long calls = inPlace.graphCalls();
            compare(step, inPlace, tokens, len, tolerance(dtype), "arrivals around a live sequence");
            long arrivalCalls = inPlace.graphCalls() - calls;
            assertEquals(List.of(0, 1, 2, 3),
                    List.of(inPlace.slotOf(4), inPlace.slotOf(2), inPlace.slotOf(5), inPlace.slotOf(6)));
            for (int k = 0; k < 8; k++) {
                step = new ArrayList<>();
                for (long id : new long[] {2, 4, 5, 6}) {
                    step.add(decode(id, tokens, len));
                }
                compare(step, inPlace, tokens, len, tolerance(dtype), "decode step " + k);
            }
            assertEquals(3, arrivalCalls, "the decode call, the arrival in slot 0, those in slots 2-3");
            for (long id : new long[] {2, 4, 5, 6}) {
                inPlace.release(id);
            }
            assertEquals(0, inPlace.allocatedBytes());
        } finally {
            for (long id = 1; id <= 6; id++) {
                reference.release(id);
            }
        }
    }

    /**
     * Live sequences in slots 0, 2, 5, 6 and 7, free 1, 3 and 4: two arrivals take 3 and 4 (adjacent, below
     * the highest live slot, so the decode call spans no more) rather than 1 and 3 around a live one, and
     * share one call.
     */
    @Test
    void arrivalsTakeAdjacentFreeSlotsWhereThatWidensNoDecodeCall() throws Exception {
        try (InPlaceKvRunner inPlace = open(InPlaceKvRunner.Binding.JAVA_API, KvDtype.FLOAT32)) {
            Map<Long, int[]> tokens = new java.util.HashMap<>();
            Map<Long, Integer> len = new java.util.HashMap<>();
            List<StepInput> step = new ArrayList<>();
            for (long id = 1; id <= 8; id++) {
                step.add(prompt(id, 4, tokens, len));
            }
            long calls = inPlace.graphCalls();
            compare(step, inPlace, tokens, len, 1e-4f, "eight arrivals");
            assertEquals(1, inPlace.graphCalls() - calls, "eight first chunks in adjacent slots, one call");
            for (long id : new long[] {2, 4, 5}) {
                reference.release(id);
                inPlace.release(id);
                len.remove(id);
            }
            step = List.of(prompt(9, 5, tokens, len), prompt(10, 3, tokens, len));
            calls = inPlace.graphCalls();
            compare(step, inPlace, tokens, len, 1e-4f, "two arrivals");
            assertEquals(List.of(3, 4), List.of(inPlace.slotOf(9), inPlace.slotOf(10)));
            assertEquals(1, inPlace.graphCalls() - calls);
            long[] live = {1, 3, 6, 7, 8, 9, 10};
            for (int k = 0; k < 3; k++) {
                step = new ArrayList<>();
                for (long id : live) {
                    step.add(decode(id, tokens, len));
                }
                compare(step, inPlace, tokens, len, 1e-4f, "decode step " + k);
            }
            for (long id : live) {
                inPlace.release(id);
            }
        } finally {
            for (long id = 1; id <= 10; id++) {
                reference.release(id);
            }
        }
    }

    /**
     * Padding is bounded by what the calls saved are worth ({@link InPlaceKvRunner#PADDING_PER_CALL_SAVED}
     * positions each): a 3-token prompt beside a 60-token one (57 positions of padding to save one call)
     * runs alone, while 10 and 4 tokens beside 16 share a call; the logits are the plain layout's either way.
     */
    @Test
    void aShortPromptBesideALongOneRunsAlone() throws Exception {
        try (InPlaceKvRunner inPlace = open(InPlaceKvRunner.Binding.JAVA_API, KvDtype.FLOAT32)) {
            Map<Long, int[]> tokens = new java.util.HashMap<>();
            Map<Long, Integer> len = new java.util.HashMap<>();
            long calls = inPlace.graphCalls();
            compare(List.of(prompt(1, 3, tokens, len), prompt(2, 60, tokens, len)), inPlace, tokens, len, 1e-4f,
                    "3 and 60 tokens");
            assertEquals(2, inPlace.graphCalls() - calls, "57 positions of padding exceed one call's worth");
            calls = inPlace.graphCalls();
            compare(List.of(prompt(3, 16, tokens, len), prompt(4, 10, tokens, len), prompt(5, 4, tokens, len)), inPlace,
                    tokens, len, 1e-4f, "16, 10 and 4 tokens");
            assertEquals(1, inPlace.graphCalls() - calls, "18 positions of padding to save two calls");
            for (long id = 1; id <= 5; id++) {
                inPlace.release(id);
            }
        } finally {
            for (long id = 1; id <= 5; id++) {
                reference.release(id);
            }
        }
    }

    private static StepInput prompt(long id, int n, Map<Long, int[]> tokens, Map<Long, Integer> len) {
        int[] t = new int[n + 16];
        for (int i = 0; i < n; i++) {
            t[i] = (int) ((id * 7919 + i * 104729) % 50000);
        }
        tokens.put(id, t);
        len.put(id, n);
        return new StepInput(id, t, 0, n, n, Logits.LAST);
    }

    private static StepInput decode(long id, Map<Long, int[]> tokens, Map<Long, Integer> len) {
        int n = len.get(id);
        return new StepInput(id, tokens.get(id), n - 1, n);
    }

    /** Runs a step through the plain layout and the runner, compares each row, and appends its greedy token. */
    private static void compare(List<StepInput> step, InPlaceKvRunner inPlace, Map<Long, int[]> tokens,
                                Map<Long, Integer> len, float tolerance, String what) throws Exception {
        StepOutput want = reference.execute(step);
        float[][] expected = new float[step.size()][];
        for (int r = 0; r < step.size(); r++) {
            expected[r] = logits(want, r);
        }
        StepOutput got = inPlace.execute(step);
        for (int r = 0; r < step.size(); r++) {
            long id = step.get(r).sequenceId();
            assertClose(expected[r], logits(got, r), what + ", sequence " + id, tolerance);
            int n = len.get(id);
            tokens.get(id)[n] = argmax(expected[r]);
            len.put(id, n + 1);
        }
    }

    /** The logits a row's step computed where read: its last position, every position, or none. */
    private static float[][] readAll(StepOutput out, int row, StepInput in) {
        return switch (in.logits()) {
            case NONE -> new float[0][];
            case LAST -> new float[][] {logits(out, row)};
            case EVERY -> {
                float[][] all = new float[in.length()][50257];
                for (int p = 0; p < in.length(); p++) {
                    ((StepOutput.EveryPosition) out).copyLogits(row, p, all[p]);
                }
                yield all;
            }
        };
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

    private static void assertAllClose(float[][] expected, float[][] actual, String what, float tolerance) {
        assertEquals(expected.length, actual.length, what + ": positions read");
        for (int p = 0; p < expected.length; p++) {
            assertClose(expected[p], actual[p], what + ", position " + p, tolerance);
        }
    }

    private static void assertClose(float[] expected, float[] actual, String what, float tolerance) {
        float worst = 0;
        for (int i = 0; i < expected.length; i++) {
            assertTrue(Float.isFinite(actual[i]), what + ": logit " + i + " is " + actual[i]);
            worst = Math.max(worst, Math.abs(expected[i] - actual[i]));
        }
        assertTrue(worst <= tolerance, what + ": max |Δlogit| = " + worst);
    }
}