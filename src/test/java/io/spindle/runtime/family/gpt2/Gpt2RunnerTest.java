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
import org.junit.jupiter.params.provider.MethodSource;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Model tests on real ONNX Runtime sessions over the project-built tiny GPT-2, in every layout (the
 * in-place KV form through its own runner, with a float32 and with a float16 cache).
 */
class Gpt2RunnerTest {
    private static final float TOLERANCE = 1e-4f;
    private static final OrtRuntime ORT = new OrtRuntime("cpu", 2);
    /**
     * The in-place form with a float16 cache against the float32 export: InPlaceCompileTest measured at
     * most 1.0e-4 on these weights.
     */
    private static final float FLOAT16_TOLERANCE = 1e-3f;
    private static final Map<Form, Gpt2Decoder> RUNNERS = new LinkedHashMap<>();
    private static final java.util.concurrent.atomic.AtomicLong IDS = new java.util.concurrent.atomic.AtomicLong(1000);

    /** A graph under test: a demo layout, and for the in-place layout its cache's element type. */
    record Form(DemoLayout layout, KvDtype kv) {
        Path dir() {
            return TestModels.tiny(layout, kv);
        }

        @Override
        public String toString() {
            return layout.id() + (kv == KvDtype.FLOAT32 ? "" : " " + kv.id());
        }
    }

    private static final Form PLAIN = new Form(DemoLayout.OPTIMUM, KvDtype.FLOAT32);

    /** Every layout, and the in-place one with a float16 cache too. */
    static Stream<Form> forms() {
        return Stream.concat(Stream.of(DemoLayout.values()).map(l -> new Form(l, KvDtype.FLOAT32)),
                Stream.of(new Form(DemoLayout.IN_PLACE_KV, KvDtype.FLOAT16)));
    }

    /** {@link #forms()} but the reference layout. */
    static Stream<Form> formsButThePlainOne() {
        return forms().filter(f -> !f.equals(PLAIN));
    }

    @BeforeAll
    static void load() throws Exception {
        for (Form form : forms().toList()) {
            Path dir = form.dir();
            RUNNERS.put(form, Gpt2Loader.load(ORT, dir, ModelConfig.read(dir)));
        }
    }

    @AfterAll
    static void close() {
        RUNNERS.values().forEach(Gpt2Decoder::close);
    }

    @ParameterizedTest
    @MethodSource("forms")
    void recognisesTheLayoutFromTheGraph(Form form) {
        DemoLayout layout = form.layout();
        Gpt2Graph g = RUNNERS.get(form).graph();
        boolean ort = layout == DemoLayout.ORT_GPT2 || layout == DemoLayout.ORT_FUSED || layout == DemoLayout.ORT_FUSED_INT64;
        assertEquals(ort ? Gpt2Graph.ORT_GPT2 : layout == DemoLayout.IN_PLACE_KV ? Gpt2Graph.IN_PLACE_KV : Gpt2Graph.OPTIMUM,
                g.layoutName());
        assertEquals(layout == DemoLayout.IN_PLACE_KV, g.inPlaceKv());
        assertEquals(layout == DemoLayout.IN_PLACE_KV, RUNNERS.get(form) instanceof InPlaceKvRunner);
        assertEquals(form.kv().javaType(), g.kvType());
        assertEquals(form.kv().id(), RUNNERS.get(form).kvCacheDtype());
        assertEquals(2L * 2 * 4 * 16 * form.kv().bytes(), g.kvBytesPerToken(), "layers × (key, value) × heads × head_dim");
        assertEquals(2, g.numLayers());
        assertEquals(4, g.numHeads());
        assertEquals(16, g.headDim());
        assertEquals(50257, g.vocabSize());
        assertEquals(ort && layout != DemoLayout.ORT_FUSED_INT64 ? ai.onnxruntime.OnnxJavaType.INT32
                : ai.onnxruntime.OnnxJavaType.INT64, g.idsType());
    }

    @ParameterizedTest
    @MethodSource("formsButThePlainOne")
    void everyLayoutOfTheSameWeightsComputesTheSameLogits(Form form) throws Exception {
        int[] tokens = {15496, 995, 11, 318, 257, 0};
        Gpt2Decoder reference = RUNNERS.get(PLAIN);
        Gpt2Decoder other = RUNNERS.get(form);
        float tolerance = form.kv() == KvDtype.FLOAT32 ? TOLERANCE : FLOAT16_TOLERANCE;
        long a = IDS.getAndIncrement();
        long b = IDS.getAndIncrement();
        float[] ref = logits(reference.execute(List.of(new StepInput(a, tokens, 0, 5))), 0);
        float[] got = logits(other.execute(List.of(new StepInput(b, tokens, 0, 5))), 0);
        assertClose(ref, got, "prefill", tolerance);
        assertEquals(argmax(ref), argmax(got), "greedy token after the prompt");
        tokens[5] = argmax(ref);
        ref = logits(reference.execute(List.of(new StepInput(a, tokens, 5, 6))), 0);
        got = logits(other.execute(List.of(new StepInput(b, tokens, 5, 6))), 0);
        assertClose(ref, got, "decode", tolerance);
        assertEquals(argmax(ref), argmax(got), "greedy token after a decode step");
        reference.release(a);
        other.release(b);
    }

    @ParameterizedTest
    @MethodSource("forms")
    void cachedDecodeEqualsFullRecomputeAtEveryStep(Form form) throws Exception {
        Gpt2Decoder runner = RUNNERS.get(form);
        int[] tokens = new int[40];
        int[] prompt = {15496, 995, 11, 318, 257, 1332, 13};
        System.arraycopy(prompt, 0, tokens, 0, prompt.length);
        int len = prompt.length;
        long id = IDS.getAndIncrement();
        float[] cached = logits(runner.execute(List.of(new StepInput(id, tokens, 0, len))), 0);
        for (int step = 0; step < 12; step++) {
            float[] full = recompute(runner, tokens, len);
            assertClose(full, cached, "step " + step);
            tokens[len] = argmax(cached);
            len++;
            cached = logits(runner.execute(List.of(new StepInput(id, tokens, len - 1, len))), 0);
        }
        runner.release(id);
        assertEquals(0, runner.numCachedSequences());
        assertEquals(0, runner.allocatedBytes(), "an idle runner holds no buffers");
    }

    @ParameterizedTest
    @MethodSource("forms")
    void batchedRowsOfDifferentLengthsEqualEachSequenceAlone(Form form) throws Exception {
        Gpt2Decoder runner = RUNNERS.get(form);
        int[][] prompts = {{464, 2068, 7586, 21831}, {40, 1101}, {1212, 318, 257, 1332, 286, 262, 6152, 1080, 13}};
        int steps = 6;
        List<List<float[]>> alone = new ArrayList<>();
        for (int[] p : prompts) {
            alone.add(generate(runner, List.of(p), steps).getFirst());
        }
        List<List<float[]>> together = generate(runner, List.of(prompts), steps);
        for (int s = 0; s < prompts.length; s++) {
            for (int k = 0; k < steps; k++) {
                assertClose(alone.get(s).get(k), together.get(s).get(k), "sequence " + s + " step " + k);
            }
        }
    }

    /**
     * A sequence that finishes leaves a hole in the decode batch; a new sequence takes it once its
     * prompt is in, and nobody's cache is repacked for either. Every row's logits equal a full
     * recompute at every step throughout.
     */
    @ParameterizedTest
    @MethodSource("forms")
    void aFinishedRowLeavesAHoleThatANewSequenceTakesWithoutARepack(Form form) throws Exception {
        Gpt2Decoder runner = RUNNERS.get(form);
        Path dir = form.dir();
        // Recomputing on the runner under test would change its batch; a second runner does it.
        try (Gpt2Decoder reference = Gpt2Loader.load(ORT, dir, ModelConfig.read(dir))) {
            holeReuse(runner, reference);
        }
    }

    /** Five sequences' token arrays (room for 40), lengths and fresh ids, their prompts filled in. */
    private record Streams(int[][] tokens, int[] len, long[] ids) {
        static Streams ofFivePrompts() {
            int[][] prompts = {{464, 2068, 7586}, {40, 1101, 257, 1332, 286}, {1212, 318}, {15496, 995, 11, 318},
                    {2061, 318, 257}};
            Streams s = new Streams(new int[prompts.length][40], new int[prompts.length], new long[prompts.length]);
            for (int i = 0; i < prompts.length; i++) {
                System.arraycopy(prompts[i], 0, s.tokens[i], 0, prompts[i].length);
                s.len[i] = prompts[i].length;
                s.ids[i] = IDS.getAndIncrement();
            }
            return s;
        }
    }

    private void holeReuse(Gpt2Decoder runner, Gpt2Decoder reference) throws Exception {
        Streams streams = Streams.ofFivePrompts();
        int[][] tokens = streams.tokens();
        int[] len = streams.len();
        long[] ids = streams.ids();
        // Sequences 0-3 prefill together, then decode together.
        List<StepInput> first = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            first.add(new StepInput(ids[i], tokens[i], 0, len[i]));
        }
        checkAndAdvance(runner, reference, first, tokens, len, "prefill");
        decodeStep(runner, reference, List.of(0, 1, 2, 3), ids, tokens, len, "steady");
        long repacks = moves(runner);
        runner.release(ids[2]);
        decodeStep(runner, reference, List.of(0, 1, 3), ids, tokens, len, "a hole");
        // Sequence 4's prompt runs beside the decoding rows, then it takes the hole.
        List<StepInput> mixed = new ArrayList<>();
        for (int i : List.of(0, 1, 3)) {
            mixed.add(new StepInput(ids[i], tokens[i], len[i] - 1, len[i]));
        }
        mixed.add(new StepInput(ids[4], tokens[4], 0, len[4]));
        checkAndAdvance(runner, reference, mixed, tokens, len, "prompt beside the hole");
        decodeStep(runner, reference, List.of(4, 0, 1, 3), ids, tokens, len, "the hole taken");
        decodeStep(runner, reference, List.of(0, 4, 3, 1), ids, tokens, len, "steady again, another order");
        assertEquals(repacks, moves(runner), "no repack (in place: no cache reallocation) for a leave or a join into a hole");
        for (int i : List.of(0, 1, 3, 4)) {
            runner.release(ids[i]);
        }
        assertEquals(0, runner.numCachedSequences());
        assertEquals(0, runner.allocatedBytes());
    }

    /**
     * Under load streams join a full decode batch one or two a step. A joining row is added after
     * the last one: where rows are the cache's outermost dimension (Optimum's separate key and value
     * tensors) nobody's cache is copied for it; ONNX Runtime's stacked [2, batch, …] past still
     * repacks. Every row's logits equal a full recompute at every step throughout.
     */
    @ParameterizedTest
    @MethodSource("forms")
    void sequencesJoiningAFullBatchOneAStepAreAddedAfterTheLastRow(Form form) throws Exception {
        Gpt2Decoder runner = RUNNERS.get(form);
        Path dir = form.dir();
        try (Gpt2Decoder reference = Gpt2Loader.load(ORT, dir, ModelConfig.read(dir))) {
            Streams streams = Streams.ofFivePrompts();
            int[][] tokens = streams.tokens();
            int[] len = streams.len();
            long[] ids = streams.ids();
            checkAndAdvance(runner, reference, List.of(new StepInput(ids[0], tokens[0], 0, len[0]),
                    new StepInput(ids[1], tokens[1], 0, len[1])), tokens, len, "prefill");
            decodeStep(runner, reference, List.of(0, 1), ids, tokens, len, "steady");
            long before = moves(runner);
            List<Integer> decoding = new ArrayList<>(List.of(0, 1));
            for (int joining = 2; joining < ids.length; joining++) {
                List<StepInput> mixed = new ArrayList<>();
                for (int i : decoding) {
                    mixed.add(new StepInput(ids[i], tokens[i], len[i] - 1, len[i]));
                }
                mixed.add(new StepInput(ids[joining], tokens[joining], 0, len[joining]));
                checkAndAdvance(runner, reference, mixed, tokens, len, "prompt " + joining + " beside a full batch");
                decoding.add(joining);
                decodeStep(runner, reference, decoding, ids, tokens, len, "sequence " + joining + " joined");
                if (runner instanceof Gpt2Runner r) {
                    assertTrue(r.prefillBatchBytes() > 0, "the emptied prefill batch keeps its buffers for the next arrival");
                }
            }
            decodeStep(runner, reference, List.of(4, 2, 0, 3, 1), ids, tokens, len, "steady again, another order");
            boolean stacked = form.layout() == DemoLayout.ORT_GPT2 || form.layout() == DemoLayout.ORT_FUSED
                    || form.layout() == DemoLayout.ORT_FUSED_INT64;
            if (stacked) {
                assertEquals(before + 3, moves(runner), "ONNX Runtime's stacked past repacks for each join");
            } else if (runner instanceof Gpt2Runner) {
                assertEquals(before, moves(runner), "no repack for a row added after the last");
            } else {
                // The in-place cache's slots come in fours: the fifth sequence takes them from 4 to 8.
                assertEquals(before + 1, moves(runner), "one reallocation of the in-place cache's slots");
            }
            for (long id : ids) {
                runner.release(id);
            }
            assertEquals(0, runner.numCachedSequences());
            assertEquals(0, runner.allocatedBytes(), "an idle runner holds no buffers, the prefill batch's included");
        }
    }

    /** Copies of live caches so far: the decode batch's repacks, or the in-place cache's reallocations. */
    private static long moves(Gpt2Decoder runner) {
        return switch (runner) {
            case Gpt2Runner r -> r.decodeRepacks();
            case InPlaceKvRunner r -> r.cacheMoves();
        };
    }

    private void decodeStep(Gpt2Decoder runner, Gpt2Decoder reference, List<Integer> who, long[] ids, int[][] tokens,
                            int[] len, String what) throws Exception {
        List<StepInput> batch = new ArrayList<>();
        for (int i : who) {
            batch.add(new StepInput(ids[i], tokens[i], len[i] - 1, len[i]));
        }
        checkAndAdvance(runner, reference, batch, tokens, len, what);
    }

    /** Runs one step, checks each row against a full recompute, and appends each row's argmax. */
    private void checkAndAdvance(Gpt2Decoder runner, Gpt2Decoder reference, List<StepInput> batch, int[][] tokens,
                                 int[] len, String what) throws Exception {
        StepOutput out = runner.execute(batch);
        List<float[]> rows = new ArrayList<>();
        for (int r = 0; r < batch.size(); r++) {
            rows.add(logits(out, r));
        }
        for (int r = 0; r < batch.size(); r++) {
            StepInput in = batch.get(r);
            int i = indexOf(tokens, in.tokens());
            assertClose(recompute(reference, tokens[i], len[i]), rows.get(r), what + ", row " + r);
            tokens[i][len[i]++] = argmax(rows.get(r));
        }
    }

    private static int indexOf(int[][] all, int[] one) {
        for (int i = 0; i < all.length; i++) {
            if (all[i] == one) {
                return i;
            }
        }
        throw new IllegalArgumentException("unknown token array");
    }

    @ParameterizedTest
    @MethodSource("forms")
    void aSequenceJoiningMidDecodeDoesNotDisturbTheOthers(Form form) throws Exception {
        Gpt2Decoder runner = RUNNERS.get(form);
        int[] a = new int[32];
        int[] b = new int[32];
        System.arraycopy(new int[] {464, 2068, 7586}, 0, a, 0, 3);
        System.arraycopy(new int[] {40, 1101, 257, 1332, 286}, 0, b, 0, 5);
        long ida = IDS.getAndIncrement();
        long idb = IDS.getAndIncrement();
        int la = 3;
        float[] la0 = logits(runner.execute(List.of(new StepInput(ida, a, 0, la))), 0);
        a[la++] = argmax(la0);
        a[la] = argmax(logits(runner.execute(List.of(new StepInput(ida, a, la - 1, la))), 0));
        la++;
        // b prefills while a decodes, in one forward pass.
        StepOutput out = runner.execute(List.of(new StepInput(ida, a, la - 1, la), new StepInput(idb, b, 0, 5)));
        float[] aMixed = logits(out, 0);
        float[] bMixed = logits(out, 1);
        assertClose(recompute(runner, a, la), aMixed, "a beside b's prefill");
        assertClose(recompute(runner, b, 5), bMixed, "b's prefill beside a");
        runner.release(ida);
        runner.release(idb);
        assertEquals(0, runner.numCachedSequences());
        assertEquals(0, runner.allocatedBytes(), "an idle runner holds no buffers");
    }

    /**
     * A prompt fed in chunks beside decoding rows (each such step runs the chunk in a batch of its
     * own) continues where its last chunk left off, then joins the decoding rows; every logit equals
     * a full recompute.
     */
    @ParameterizedTest
    @MethodSource("forms")
    void aPromptChunkedBesideDecodingRowsJoinsThemExactly(Form form) throws Exception {
        Gpt2Decoder runner = RUNNERS.get(form);
        int[] a = new int[32];
        int[] c = new int[32];
        int[] b = new int[32];
        System.arraycopy(new int[] {464, 2068, 7586}, 0, a, 0, 3);
        System.arraycopy(new int[] {50, 60, 70, 80}, 0, c, 0, 4);
        System.arraycopy(new int[] {40, 1101, 257, 1332, 286, 262, 3290}, 0, b, 0, 7);
        long ida = IDS.getAndIncrement();
        long idc = IDS.getAndIncrement();
        long idb = IDS.getAndIncrement();
        StepOutput first = runner.execute(List.of(new StepInput(ida, a, 0, 3), new StepInput(idc, c, 0, 4)));
        int la = 3;
        int lc = 4;
        a[la++] = argmax(logits(first, 0));
        c[lc++] = argmax(logits(first, 1));
        // Chunk 1 of b beside a and c decoding.
        // (A step's logits are valid until the runner's next call: read them all before recomputing.)
        StepOutput s1 = runner.execute(List.of(new StepInput(ida, a, la - 1, la), new StepInput(idb, b, 0, 3),
                new StepInput(idc, c, lc - 1, lc)));
        float[] a1 = logits(s1, 0);
        float[] c1 = logits(s1, 2);
        assertClose(recompute(runner, a, la), a1, "a beside chunk 1");
        assertClose(recompute(runner, c, lc), c1, "c beside chunk 1");
        a[la++] = argmax(a1);
        c[lc++] = argmax(c1);
        // Chunk 2 (the rest of the prompt): its logits are those of the whole prompt.
        StepOutput s2 = runner.execute(List.of(new StepInput(idb, b, 3, 7), new StepInput(ida, a, la - 1, la),
                new StepInput(idc, c, lc - 1, lc)));
        float[] b2 = logits(s2, 0);
        float[] a2 = logits(s2, 1);
        float[] c2 = logits(s2, 2);
        assertClose(recompute(runner, b, 7), b2, "b after its second chunk");
        assertClose(recompute(runner, a, la), a2, "a beside chunk 2");
        assertClose(recompute(runner, c, lc), c2, "c beside chunk 2");
        int lb = 7;
        b[lb++] = argmax(b2);
        a[la++] = argmax(a2);
        c[lc++] = argmax(c2);
        // b now decodes with the others, twice (the second step reuses the presents).
        for (int k = 0; k < 2; k++) {
            StepOutput d = runner.execute(List.of(new StepInput(ida, a, la - 1, la), new StepInput(idb, b, lb - 1, lb),
                    new StepInput(idc, c, lc - 1, lc)));
            float[] ad = logits(d, 0);
            float[] bd = logits(d, 1);
            float[] cd = logits(d, 2);
            assertClose(recompute(runner, a, la), ad, "a decoding with b, step " + k);
            assertClose(recompute(runner, b, lb), bd, "b decoding with a and c, step " + k);
            assertClose(recompute(runner, c, lc), cd, "c decoding with a and b, step " + k);
            a[la++] = argmax(ad);
            b[lb++] = argmax(bd);
            c[lc++] = argmax(cd);
        }
        for (long id : List.of(ida, idb, idc)) {
            runner.release(id);
        }
        assertEquals(0, runner.numCachedSequences());
        assertEquals(0, runner.allocatedBytes(), "an idle runner holds no buffers");
    }

    /** Greedy-generates the prompts together; returns, per sequence, the logits of every step. */
    private List<List<float[]>> generate(Gpt2Decoder runner, List<int[]> prompts, int steps) throws Exception {
        int n = prompts.size();
        int[][] tokens = new int[n][];
        int[] len = new int[n];
        long[] ids = new long[n];
        List<List<float[]>> out = new ArrayList<>();
        List<StepInput> batch = new ArrayList<>();
        for (int s = 0; s < n; s++) {
            tokens[s] = java.util.Arrays.copyOf(prompts.get(s), prompts.get(s).length + steps);
            len[s] = prompts.get(s).length;
            ids[s] = IDS.getAndIncrement();
            out.add(new ArrayList<>());
            batch.add(new StepInput(ids[s], tokens[s], 0, len[s]));
        }
        for (int k = 0; k < steps; k++) {
            StepOutput o = runner.execute(batch);
            batch = new ArrayList<>();
            for (int s = 0; s < n; s++) {
                float[] l = logits(o, s);
                out.get(s).add(l);
                tokens[s][len[s]++] = argmax(l);
                batch.add(new StepInput(ids[s], tokens[s], len[s] - 1, len[s]));
            }
        }
        for (long id : ids) {
            runner.release(id);
        }
        return out;
    }

    private float[] recompute(Gpt2Decoder runner, int[] tokens, int len) throws Exception {
        long id = IDS.getAndIncrement();
        float[] l = logits(runner.execute(List.of(new StepInput(id, tokens, 0, len))), 0);
        runner.release(id);
        return l;
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

    private static void assertClose(float[] expected, float[] actual, String what) {
        assertClose(expected, actual, what, TOLERANCE);
    }

    private static void assertClose(float[] expected, float[] actual, String what, float tolerance) {
        float worst = 0;
        for (int i = 0; i < expected.length; i++) {
            worst = Math.max(worst, Math.abs(expected[i] - actual[i]));
        }
        assertTrue(worst <= tolerance, what + ": max |Δlogit| = " + worst);
    }
}
