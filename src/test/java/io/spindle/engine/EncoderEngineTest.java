package io.spindle.engine;

import io.spindle.engine.exec.EncoderRunner;
import io.spindle.engine.request.ErrorKind;
import io.spindle.engine.request.SpindleException;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The encoder loop's contracts with a model-free runner: every pass stays within its rows, its
 * rows × padded length and its result rows; results come back in order across passes; requests share
 * a pass when they fit whole; a failed pass, even one out of memory, fails only its requests.
 */
class EncoderEngineTest {
    private static final int MASK = 103;

    /** Result row per input: [first token, length] per result row (one, or one per mask). */
    private static final class Recording implements EncoderRunner {
        final List<List<int[]>> passes = new CopyOnWriteArrayList<>();
        volatile CountDownLatch gate = new CountDownLatch(0);
        final CountDownLatch entered = new CountDownLatch(1);
        volatile Error failWith;
        final boolean maskedLm;

        Recording(boolean maskedLm) {
            this.maskedLm = maskedLm;
        }

        @Override
        public int dimensions() {
            return 2;
        }

        @Override
        public int maxInputTokens() {
            return 512;
        }

        @Override
        public int resultRows(int[] input) {
            if (!maskedLm) {
                return 1;
            }
            int n = 0;
            for (int id : input) {
                n += id == MASK ? 1 : 0;
            }
            return n;
        }

        @Override
        public float[][] encode(List<int[]> inputs) {
            entered.countDown();
            try {
                gate.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            passes.add(List.copyOf(inputs));
            Error e = failWith;
            if (e != null) {
                failWith = null;
                throw e;
            }
            float[][] out = new float[inputs.size()][];
            for (int i = 0; i < inputs.size(); i++) {
                int[] in = inputs.get(i);
                int rows = resultRows(in);
                out[i] = new float[rows * 2];
                for (int r = 0; r < rows; r++) {
                    out[i][2 * r] = in[0];
                    out[i][2 * r + 1] = in.length;
                }
            }
            return out;
        }

        @Override
        public void close() {
        }
    }

    private static int[] input(int first, int length, int masks) {
        int[] in = new int[length];
        in[0] = first;
        for (int t = 1; t < length; t++) {
            in[t] = t <= masks ? MASK : 7;
        }
        return in;
    }

    @Test
    void manyLongInputsRunInPassesWithinTheTokenBudgetAndComeBackInOrder() throws Exception {
        Recording runner = new Recording(false);
        SplittableRandom random = new SplittableRandom(3);
        List<int[]> inputs = new ArrayList<>();
        for (int i = 0; i < 64; i++) {
            inputs.add(input(i, 1 + random.nextInt(500), 0));
        }
        try (EncoderEngine engine = new EncoderEngine("e", runner, new EncoderConfig(32, 1024, 2048)).start()) {
            float[][] out = engine.encode(inputs).get(30, TimeUnit.SECONDS);
            for (int i = 0; i < inputs.size(); i++) {
                assertEquals(i, out[i][0], "input " + i + " in order");
                assertEquals(inputs.get(i).length, out[i][1]);
            }
        }
        int rows = 0;
        for (List<int[]> pass : runner.passes) {
            int longest = pass.stream().mapToInt(a -> a.length).max().orElseThrow();
            assertTrue(pass.size() <= 32 && pass.size() * longest <= 2048,
                    pass.size() + " rows × " + longest + " tokens exceed the budget");
            rows += pass.size();
        }
        assertEquals(64, rows);
        assertTrue(runner.passes.size() >= 64 * 250 / 2048, "several passes: " + runner.passes.size());
    }

    @Test
    void requestsShareAPassWhenTheyFitWhole() throws Exception {
        Recording runner = new Recording(false);
        runner.gate = new CountDownLatch(1);
        try (EncoderEngine engine = new EncoderEngine("e", runner, new EncoderConfig(8, 1024, 100)).start()) {
            CompletableFuture<float[][]> first = engine.encode(List.of(input(1, 5, 0)));
            assertTrue(runner.entered.await(10, TimeUnit.SECONDS), "the first pass is running");
            List<CompletableFuture<float[][]>> later = new ArrayList<>();
            later.add(engine.encode(List.of(input(2, 20, 0), input(3, 20, 0))));
            later.add(engine.encode(List.of(input(4, 10, 0))));
            later.add(engine.encode(List.of(input(5, 40, 0))));
            runner.gate.countDown();
            first.get(10, TimeUnit.SECONDS);
            for (CompletableFuture<float[][]> f : later) {
                f.get(10, TimeUnit.SECONDS);
            }
        }
        // 3 rows × 20 tokens fit in 100; a fourth row of 40 would make 4 × 40 = 160, so it waits for the next pass.
        List<Integer> sizes = runner.passes.stream().map(List::size).toList();
        assertEquals(5, sizes.stream().mapToInt(Integer::intValue).sum(), "every input ran once: " + sizes);
        assertTrue(runner.passes.stream().anyMatch(p -> p.size() == 3 && p.get(0)[0] == 2), "shared pass: " + sizes);
        assertTrue(runner.passes.stream().allMatch(p -> p.size() * p.stream().mapToInt(a -> a.length).max().orElseThrow() <= 100
                || p.size() == 1));
    }

    @Test
    void aMaskedLmPassHoldsAtMostABatchOfMasksButNeverSplitsAnInput() throws Exception {
        Recording runner = new Recording(true);
        List<int[]> inputs = List.of(input(0, 30, 3), input(1, 30, 3), input(2, 30, 3), input(3, 40, 20), input(4, 30, 1));
        try (EncoderEngine engine = new EncoderEngine("m", runner, new EncoderConfig(8, 1024, 4096)).start()) {
            float[][] out = engine.encode(inputs).get(10, TimeUnit.SECONDS);
            assertEquals(20 * 2, out[3].length, "an input's masks all come back");
        }
        for (List<int[]> pass : runner.passes) {
            int masks = pass.stream().mapToInt(runner::resultRows).sum();
            assertTrue(masks <= 8 || pass.size() == 1, "pass of " + pass.size() + " inputs holds " + masks + " masks");
        }
        assertTrue(runner.passes.stream().anyMatch(p -> p.size() == 1 && p.get(0)[0] == 3), "20 masks run alone");
    }

    @Test
    void anInputLongerThanAPassIsRefusedBeforeItRuns() {
        try (EncoderEngine engine = new EncoderEngine("e", new Recording(false), new EncoderConfig(8, 1024, 300))) {
            assertEquals(300, engine.maxInputTokens(), "the budget, below the graph's 512 positions");
        }
        try (EncoderEngine engine = new EncoderEngine("e", new Recording(false), new EncoderConfig(8, 1024, 8192))) {
            assertEquals(512, engine.maxInputTokens(), "the graph's positions, below the budget");
        }
    }

    @Test
    void aPassThatRunsOutOfMemoryFailsOnlyItsRequests() throws Exception {
        Recording runner = new Recording(false);
        runner.failWith = new OutOfMemoryError("Java heap space");
        try (EncoderEngine engine = new EncoderEngine("e", runner, new EncoderConfig(8, 1024, 4096)).start()) {
            ExecutionException e = assertThrows(ExecutionException.class,
                    () -> engine.encode(List.of(input(1, 10, 0))).get(10, TimeUnit.SECONDS));
            assertEquals(ErrorKind.MODEL_FAILURE, assertInstanceOf(SpindleException.class, e.getCause()).kind());
            assertEquals(9, engine.encode(List.of(input(9, 10, 0))).get(10, TimeUnit.SECONDS)[0][0], "the loop goes on");
            assertEquals(0, engine.queuedInputs());
        }
    }
}
