package io.spindle.runtime.family.gpt2;

import ai.onnxruntime.OrtSession;
import io.spindle.engine.exec.ModelExecutionException;
import io.spindle.engine.exec.StepInput;
import io.spindle.engine.exec.StepOutput;
import io.spindle.model.ModelConfig;
import io.spindle.runtime.demo.DemoLayout;
import io.spindle.runtime.onnx.GraphSignature;
import io.spindle.runtime.onnx.KvDtype;
import io.spindle.runtime.onnx.OrtRuntime;
import io.spindle.runtime.onnx.capi.NativeLedger;
import io.spindle.runtime.onnx.capi.Transfers;
import io.spindle.testing.TestModels;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The in-place KV runner with its graph calls bound through the C API ({@link BoundStep}) against the
 * same runner on the official Java API, on the tiny demo: the same logits at every step (prompt chunks,
 * decode rows, a growing cache), what the binding's counters say a decode step moves, and the native
 * ledger back at zero after failures, cancellation and shutdown. {@code FFM_CUDA} is the code a CUDA
 * session runs (a CUDA memory info as the binding's device, the cache bound as host memory), run here
 * on a CPU session: the whole -Pgpu path on CPU. The cases that move cache bytes run with a float32 and a
 * float16 cache (spindle.models.kv-dtype): the copy graphs, slot memory and prefix blocks in either type.
 */
class FfmBindingRunnerTest {
    private static final OrtRuntime ORT = new OrtRuntime("cpu", 2);
    private static final Path DIR = TestModels.tiny(DemoLayout.IN_PLACE_KV);

    private static InPlaceKvRunner open(InPlaceKvRunner.Binding binding) throws Exception {
        return open(binding, KvDtype.FLOAT32);
    }

    private static InPlaceKvRunner open(InPlaceKvRunner.Binding binding, KvDtype dtype) throws Exception {
        Path dir = TestModels.tiny(DemoLayout.IN_PLACE_KV, dtype);
        OrtSession session = ORT.open(dir.resolve("model.onnx"));
        ModelConfig config = ModelConfig.read(dir);
        Gpt2Graph graph = Gpt2Graph.recognise(GraphSignature.of(dir.resolve("model.onnx"), session), config.numHeads());
        assertEquals(dtype.javaType(), graph.kvType());
        return new InPlaceKvRunner(ORT, session, graph, config.contextLength(), binding);
    }

    @Test
    void theLoaderPicksTheBindingFromTheRuntime() throws Exception {
        OrtRuntime ffm = new OrtRuntime("cpu", 2, true, OrtRuntime.Binding.FFM);
        try (Gpt2Decoder d = Gpt2Loader.load(ffm, DIR, ModelConfig.read(DIR))) {
            assertNotNull(((InPlaceKvRunner) d).nativeLedger(), "the ffm binding");
            assertEquals("host", d.kvCacheLocation(), "a CPU session's stand-in device is host memory");
        }
        try (Gpt2Decoder d = Gpt2Loader.load(ORT, DIR, ModelConfig.read(DIR))) {
            assertNull(((InPlaceKvRunner) d).nativeLedger(), "the default is the Java API");
        }
        assertEquals(OrtRuntime.Binding.FFM, OrtRuntime.Binding.of("ffm"));
        assertThrows(IllegalArgumentException.class, () -> OrtRuntime.Binding.of("jni"));
    }

    @ParameterizedTest
    @EnumSource(KvDtype.class)
    void boundCallsGiveTheJavaApisLogitsAtEveryStep(KvDtype dtype) throws Exception {
        for (InPlaceKvRunner.Binding b : List.of(InPlaceKvRunner.Binding.FFM)) {
            try (InPlaceKvRunner reference = open(InPlaceKvRunner.Binding.JAVA_API, dtype); InPlaceKvRunner bound = open(b, dtype)) {
                int[][] tokens = {{464, 2068, 7586, 21831}, {40, 1101, 257}, {1212, 318, 257, 1332, 286, 262}};
                int[] len = {4, 3, 6};
                long[] ids = {1, 2, 3};
                List<StepInput> step = new ArrayList<>();
                for (int i = 0; i < 3; i++) {
                    step.add(new StepInput(ids[i], tokens[i], 0, len[i]));
                }
                for (int k = 0; k < 80; k++) {
                    StepOutput want = reference.execute(step);
                    StepOutput got = bound.execute(step);
                    for (int r = 0; r < step.size(); r++) {
                        float[] expected = logits(want, r, reference.vocabSize());
                        float[] actual = logits(got, r, bound.vocabSize());
                        assertArrayEquals(expected, actual, 1e-5f, b + ", step " + k + ", row " + r);
                        if (len[r] == tokens[r].length) {
                            tokens[r] = Arrays.copyOf(tokens[r], tokens[r].length * 2);
                        }
                        tokens[r][len[r]++] = argmax(actual);
                    }
                    step = new ArrayList<>();
                    for (int i = 0; i < 3; i++) {
                        step.add(new StepInput(ids[i], tokens[i], len[i] - 1, len[i]));
                    }
                }
                assertTrue(bound.cacheMoves() > 0, "the cache grew while bound");
                for (int i = 0; i < 3; i++) {
                    reference.release(ids[i]);
                    bound.release(ids[i]);
                }
                assertEquals(0, bound.nativeLedger().live(NativeLedger.Kind.VALUE), "no tensor outlives its call");
            }
        }
    }

    @ParameterizedTest
    @EnumSource(KvDtype.class)
    void aDecodeStepMovesTheSameBytesAtAnyContextLength(KvDtype dtype) throws Exception {
        try (InPlaceKvRunner runner = open(InPlaceKvRunner.Binding.FFM, dtype)) {
            Gpt2Graph g = runner.graph();
            // A token array as short as the prompt, grown as the engine grows it: the cache grows with it.
            int[] tokens = new int[8];
            Arrays.fill(tokens, 464);
            runner.execute(List.of(new StepInput(7, tokens, 0, 8)));
            Transfers early = null;
            Transfers late = null;
            for (int n = 8; n < 300; n++) {
                if (n == tokens.length) {
                    tokens = Arrays.copyOf(tokens, tokens.length * 2);
                }
                tokens[n] = 318;
                runner.execute(List.of(new StepInput(7, tokens, n, n + 1)));
                if (n == 10) {
                    early = runner.lastStepTransfers();
                }
                late = runner.lastStepTransfers();
            }
            int idWidth = g.idsType() == ai.onnxruntime.OnnxJavaType.INT64 ? 8 : 4;
            // ids + positions + seqlens_k + total_sequence_length + gather index in; one row of logits out.
            long in = 2L * idWidth + 4 + 4 + 8;
            long out = (long) g.vocabSize() * 4;
            assertEquals(in, early.hostToDevice());
            assertEquals(out, early.deviceToHost());
            assertEquals(early.moved(), late.moved(), "bytes moved per decode step do not grow with the context");
            assertEquals(0, early.deviceToDevice());
            assertEquals(0, late.deviceToDevice(), "no growth at these steps: nothing copied on the device");
            assertTrue(runner.cacheCopies().deviceToDevice() > 0, "the growths in between copied on the device: "
                    + runner.cacheCopies());
            assertEquals(0, runner.cacheCopies().moved(), "and never through the host");
            assertEquals(201_060, late.moved(), "the tiny demo: int64 ids, 50,257 logits (docs/architecture.md)");
            assertTrue(late.resident() > early.resident(), "the cache, bound in place, did grow: "
                    + early.resident() + " -> " + late.resident());
            // What is bound in place is the cache itself: its slot at the current length, in the cache's element type.
            assertEquals(g.pastNames().size() * 2L * g.numHeads() * runner.cacheMaxLen() * g.headDim() * dtype.bytes(),
                    late.resident(), "past and present, each the one slot's [heads, maxLen, head_dim]");
            runner.release(7);
        }
    }

    @ParameterizedTest
    @EnumSource(KvDtype.class)
    void theOfficialApisStepHandsOverTheWholeCacheBothWays(KvDtype dtype) throws Exception {
        // For comparison (gpu-check prints both): what the java-api path gives ONNX Runtime as host memory per
        // step, all of which a CUDA session copies; it grows with the cache where ffm's figure does not.
        try (InPlaceKvRunner runner = open(InPlaceKvRunner.Binding.JAVA_API, dtype)) {
            Gpt2Graph g = runner.graph();
            int[] tokens = new int[16];
            Arrays.fill(tokens, 464);
            runner.execute(List.of(new StepInput(7, tokens, 0, 8)));
            runner.execute(List.of(new StepInput(7, tokens, 8, 9)));
            Transfers early = runner.lastStepHostBuffers();
            long logits = (long) g.vocabSize() * 4;
            long kvEarly = early.deviceToHost() - logits;
            // 4 cache tensors of the tiny demo, one slot of [heads, maxLen, head_dim] elements each.
            assertEquals(g.pastNames().size() * (long) g.numHeads() * runner.cacheMaxLen() * g.headDim() * dtype.bytes(), kvEarly);
            assertEquals(early.hostToDevice() - (2L * 8 + 4 + 4 + 8), kvEarly, "the cache goes up as well as down");
            tokens = Arrays.copyOf(tokens, 400);
            for (int n = 9; n < 300; n++) {
                tokens[n] = 318;
                runner.execute(List.of(new StepInput(7, tokens, n, n + 1)));
            }
            Transfers late = runner.lastStepHostBuffers();
            assertTrue(late.hostToDevice() > 4 * early.hostToDevice(), early + " -> " + late);
            assertNull(runner.lastStepTransfers(), "the official API counts nothing itself");
            runner.release(7);
        }
    }

    @Test
    void cudaMemoryIsRefusedByACpuSessionWithOrtsMessage() {
        // FFM_CUDA asks the session for its allocator of CUDA memory: a CPU session has none, and says so at load.
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> open(InPlaceKvRunner.Binding.FFM_CUDA));
        assertTrue(e.getMessage().contains("CreateAllocator"), e.getMessage());
    }

    @Test
    void aFailedCallLeavesNoValueAndCloseLeavesNothing() throws Exception {
        InPlaceKvRunner runner = open(InPlaceKvRunner.Binding.FFM);
        NativeLedger ledger = runner.nativeLedger();
        int[] good = {464, 2068, 7586, 21831, 0, 0};
        runner.execute(List.of(new StepInput(1, good, 0, 4)));
        // A token past the vocabulary: ONNX Runtime's Gather fails inside the run; its message surfaces.
        int[] bad = {464, 99_999_999, 0, 0};
        ModelExecutionException e = assertThrows(ModelExecutionException.class,
                () -> runner.execute(List.of(new StepInput(2, bad, 0, 2))));
        assertTrue(e.getMessage().contains("RunWithBinding"), e.getMessage());
        assertEquals(0, ledger.live(NativeLedger.Kind.VALUE), "the failed call's tensors are released");
        runner.release(2);
        // Cancelled midway: sequence 1 is left live (as at shutdown during a stream), and the runner closes.
        runner.execute(List.of(new StepInput(1, good, 4, 5)));
        runner.close();
        assertTrue(ledger.isClean(), ledger.toString());
    }

    @ParameterizedTest
    @EnumSource(KvDtype.class)
    void forksPrefixHitsAndCancellationGiveTheJavaApisTokensWithTheCacheOnTheDevice(KvDtype dtype) throws Exception {
        InPlaceKvRunner reference = open(InPlaceKvRunner.Binding.JAVA_API, dtype);
        InPlaceKvRunner bound = open(InPlaceKvRunner.Binding.FFM, dtype);
        NativeLedger ledger = bound.nativeLedger();
        long perToken = bound.kvBytesPerToken();
        Gpt2Graph g = bound.graph();
        assertEquals(2L * g.numLayers() * g.numHeads() * g.headDim() * dtype.bytes(), perToken, "bytes per token in the cache's type");
        try {
            int block = 16;
            reference.enablePrefixCache(block);
            bound.enablePrefixCache(block);
            int[] prompt = new int[40];
            for (int i = 0; i < prompt.length; i++) {
                prompt[i] = 300 + 7 * i;
            }
            // Sequence 1: a 40-token prompt in two chunks, then its two whole blocks are saved.
            int[] t1 = Arrays.copyOf(prompt, 48);
            both(reference, bound, List.of(new StepInput(1, t1, 0, 24)));
            both(reference, bound, List.of(new StepInput(1, t1, 24, 40)));
            Transfers before = bound.cacheCopies();
            Transfers lastStep = bound.lastStepTransfers();
            reference.offerPrefix(1, t1, 40);
            bound.offerPrefix(1, t1, 40);
            assertEquals(32, bound.prefixCacheTokens());
            assertEquals(reference.prefixCacheTokens(), bound.prefixCacheTokens());
            Transfers saved = bound.cacheCopies();
            assertEquals(32 * perToken, saved.deviceToHost() - before.deviceToHost(), "the save copies 32 positions down");
            Transfers stillLast = bound.lastStepTransfers();
            assertEquals(List.of(lastStep.hostToDevice(), lastStep.deviceToHost(), lastStep.deviceToDevice()),
                    List.of(stillLast.hostToDevice(), stillLast.deviceToHost(), stillLast.deviceToDevice()),
                    "a save after a step is not the step's");
            assertEquals(32 * perToken, stillLast.totalMoved() - lastStep.totalMoved(), "but it is in the total");

            // Sequence 2 forks from 1: a copy of its slot on the device.
            reference.fork(1, 2);
            bound.fork(1, 2);
            Transfers forked = bound.cacheCopies();
            assertTrue(forked.deviceToDevice() > saved.deviceToDevice(), "the fork copies on the device: " + forked);
            assertEquals(saved.hostToDevice(), forked.hostToDevice());
            assertEquals(saved.deviceToHost(), forked.deviceToHost());
            int[] t2 = Arrays.copyOf(t1, 48);
            int len1 = 40;
            int len2 = 40;
            t1[len1] = 11;
            t2[len2] = 4242;  // the fork takes a different token than its parent
            for (int k = 0; k < 6; k++) {
                float[][] l = both(reference, bound, List.of(new StepInput(1, t1, len1, len1 + 1), new StepInput(2, t2, len2, len2 + 1)));
                len1++;
                len2++;
                t1[len1] = argmax(l[0]);
                t2[len2] = argmax(l[1]);
            }

            // Sequence 3 starts with the same prompt: a prefix hit restores 32 positions into a new slot.
            int[] t3 = Arrays.copyOf(prompt, 128);
            assertEquals(32, reference.restorePrefix(3, t3, 39));
            assertEquals(32, bound.restorePrefix(3, t3, 39));
            assertEquals(32 * perToken, bound.cacheCopies().hostToDevice() - forked.hostToDevice(),
                    "the restore copies 32 positions up");
            // Sequence 4 is cancelled mid-prompt: released after its first chunk, its slot taken by sequence 5.
            int[] t4 = {5, 6, 7, 8, 9, 10, 11, 12};
            t3[40] = argmax(both(reference, bound, List.of(new StepInput(3, t3, 32, 40), new StepInput(4, t4, 0, 4)))[0]);
            reference.release(4);
            bound.release(4);
            int[] t5 = Arrays.copyOf(new int[] {99, 98, 97}, 64);
            float[][] l = both(reference, bound, List.of(new StepInput(5, t5, 0, 3), new StepInput(3, t3, 40, 41)));
            int len3 = 41;
            int len5 = 3;
            t3[len3] = argmax(l[1]);
            t5[len5] = argmax(l[0]);
            // Long enough for the cache to grow again, with a fork, a restored prefix and a reused slot in it.
            for (int k = 0; k < 30; k++) {
                if (len1 + 1 == t1.length) {
                    t1 = Arrays.copyOf(t1, t1.length * 2);
                }
                List<StepInput> step = List.of(new StepInput(1, t1, len1, len1 + 1), new StepInput(3, t3, len3, len3 + 1),
                        new StepInput(5, t5, len5, len5 + 1));
                l = both(reference, bound, step);
                t1[++len1] = argmax(l[0]);
                t3[++len3] = argmax(l[1]);
                t5[++len5] = argmax(l[2]);
            }
            assertTrue(bound.cacheMoves() > 0);
            assertTrue(bound.cacheCopies().deviceToDevice() > forked.deviceToDevice(), "growth copies on the device");
            assertTrue(ledger.liveBytes() > 0, "the cache is the allocator's memory");
            assertEquals(bound.allocatedBytes(), reference.allocatedBytes(), "the same slots, one in each memory");
            for (long id : new long[] {1, 2, 3, 5}) {
                reference.release(id);
                bound.release(id);
            }
            assertEquals(0, ledger.liveBytes(), "an idle runner holds no device memory");
        } finally {
            reference.close();
            bound.close();
        }
        assertTrue(ledger.isClean(), ledger.toString());
    }

    /** One step on both runners; asserts equal logits for every row and returns the bound runner's. */
    private static float[][] both(InPlaceKvRunner reference, InPlaceKvRunner bound, List<StepInput> step) throws Exception {
        StepOutput want = reference.execute(step);
        float[][] expected = new float[step.size()][];
        for (int r = 0; r < step.size(); r++) {
            expected[r] = logits(want, r, reference.vocabSize());
        }
        StepOutput got = bound.execute(step);
        float[][] out = new float[step.size()][];
        for (int r = 0; r < step.size(); r++) {
            out[r] = logits(got, r, bound.vocabSize());
            assertArrayEquals(expected[r], out[r], 1e-5f, "row " + r + " (sequence " + step.get(r).sequenceId() + ")");
            assertEquals(argmax(expected[r]), argmax(out[r]));
        }
        return out;
    }

    private static float[] logits(StepOutput out, int row, int vocab) {
        float[] l = new float[vocab];
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
}
