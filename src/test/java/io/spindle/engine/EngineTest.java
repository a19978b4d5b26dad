package io.spindle.engine;

import io.spindle.engine.request.EngineRequest;
import io.spindle.engine.request.ErrorKind;
import io.spindle.engine.request.FinishReason;
import io.spindle.engine.request.SpindleException;
import io.spindle.engine.request.TokenEvent;
import io.spindle.sampling.SamplingParams;
import io.spindle.testing.FakeRunner;
import io.spindle.testing.RecordingListener;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Engine and scheduler contracts, with a model-free runner. */
class EngineTest {
    private Engine engine;

    private Engine start(FakeRunner runner, int maxBatch, int tokensPerStep, int kvTokens, int maxWaiting) {
        return create(runner, maxBatch, tokensPerStep, kvTokens, maxWaiting).start();
    }

    /** An engine whose loop has not started: what is submitted now is all queued at the first step. */
    private Engine create(FakeRunner runner, int maxBatch, int tokensPerStep, int kvTokens, int maxWaiting) {
        engine = new Engine("test", runner, new EngineConfig(maxBatch, tokensPerStep, kvTokens, maxWaiting));
        return engine;
    }

    @AfterEach
    void stop() {
        if (engine != null) {
            engine.close();
        }
    }

    private static EngineRequest req(int[] prompt, int maxNew, int... stopIds) {
        return new EngineRequest("r", prompt, SamplingParams.greedy(), maxNew, stopIds, false);
    }

    @Test
    void prefillsOnceThenDecodesOneTokenPerStep() throws Exception {
        FakeRunner runner = new FakeRunner(100, 64);
        start(runner, 4, 64, 1000, 8);
        RecordingListener l = new RecordingListener();
        SequenceHandle h = engine.submit(req(new int[] {5, 6, 7}, 4), l);
        TokenEvent end = l.awaitEnd();
        assertArrayEquals(new int[] {8, 9, 10, 11}, l.tokens());
        assertEquals(FinishReason.LENGTH, ((TokenEvent.Finished) end).reason());
        assertEquals(List.of(3, 1, 1, 1), runner.rowsOf(h.sequenceId()), "prefill of 3 tokens, then one per step");
        TokenEvent.Token last = (TokenEvent.Token) l.events.get(3);
        assertTrue(last.last(), "the final token says so");
        assertEquals(0, runner.numCachedSequences());
        assertTrue(runner.released.contains(h.sequenceId()));
    }

    @Test
    void aStopTokenEndsTheSequence() throws Exception {
        start(new FakeRunner(100, 64), 4, 64, 1000, 8);
        RecordingListener l = new RecordingListener();
        engine.submit(req(new int[] {5}, 50, 8), l);
        TokenEvent.Finished end = (TokenEvent.Finished) l.awaitEnd();
        assertEquals(FinishReason.STOP_TOKEN, end.reason());
        assertArrayEquals(new int[] {6, 7, 8}, l.tokens());
        assertEquals(1, end.stats().numPromptTokens());
        assertEquals(3, end.stats().numGeneratedTokens());
    }

    @Test
    void admitsInArrivalOrderAndNeverExceedsTheBatchSize() throws Exception {
        FakeRunner runner = new FakeRunner(100, 64);
        create(runner, 2, 64, 1000, 8);
        List<RecordingListener> ls = new ArrayList<>();
        List<Long> ids = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
            RecordingListener l = new RecordingListener();
            ls.add(l);
            ids.add(engine.submit(req(new int[] {i * 10}, 3), l).sequenceId());
        }
        engine.start();
        for (RecordingListener l : ls) {
            l.awaitEnd();
        }
        assertEquals(2, runner.maxBatchSeen());
        List<Long> firstSeen = new ArrayList<>();
        runner.batches.forEach(b -> b.forEach(in -> {
            if (!firstSeen.contains(in.sequenceId())) {
                firstSeen.add(in.sequenceId());
            }
        }));
        assertEquals(ids, firstSeen, "first come, first served");
    }

    @Test
    void theKvBudgetHoldsBackWhatDoesNotFitAndNeverOvercommits() throws Exception {
        FakeRunner runner = new FakeRunner(100, 64);
        // Each request reserves 2 + 8 = 10 tokens; a budget of 25 fits two at a time.
        create(runner, 8, 64, 25, 8);
        List<RecordingListener> ls = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            RecordingListener l = new RecordingListener();
            ls.add(l);
            engine.submit(req(new int[] {1, 2}, 8), l);
        }
        engine.start();
        for (RecordingListener l : ls) {
            assertInstanceOf(TokenEvent.Finished.class, l.awaitEnd());
        }
        assertEquals(2, runner.maxBatchSeen());
        assertEquals(0, engine.stats().kvUsedTokens());
    }

    @Test
    void aLargeRequestAtTheHeadIsNotStarvedBySmallOnesBehindIt() throws Exception {
        FakeRunner runner = new FakeRunner(100, 64);
        runner.stepMillis = 1;
        // Budget 30: a running 10-token request leaves 20; the 25-token one must wait, and the small
        // ones behind it must wait too rather than overtake it forever.
        start(runner, 8, 64, 30, 16);
        RecordingListener first = new RecordingListener();
        engine.submit(req(new int[] {1, 2}, 8), first);
        RecordingListener big = new RecordingListener();
        long bigId = engine.submit(req(new int[] {3, 4, 5, 6, 7}, 20), big).sequenceId();
        List<Long> small = new ArrayList<>();
        List<RecordingListener> ls = new ArrayList<>();
        for (int i = 0; i < 6; i++) {
            RecordingListener l = new RecordingListener();
            ls.add(l);
            small.add(engine.submit(req(new int[] {9}, 2), l).sequenceId());
        }
        big.awaitEnd();
        for (RecordingListener l : ls) {
            l.awaitEnd();
        }
        int bigStart = firstStep(runner, bigId);
        for (long id : small) {
            assertTrue(firstStep(runner, id) >= bigStart, "small request " + id + " overtook the large one");
        }
    }

    @Test
    void longPromptsArePrefilledInChunksWhileOthersKeepDecoding() throws Exception {
        FakeRunner runner = new FakeRunner(100, 256);
        runner.stepMillis = 1;
        start(runner, 4, 8, 1000, 8);
        RecordingListener a = new RecordingListener();
        engine.submit(req(new int[] {1}, 200), a);
        a.firstToken.get();
        RecordingListener b = new RecordingListener();
        int[] longPrompt = new int[40];
        long idb = engine.submit(req(longPrompt, 2), b).sequenceId();
        b.awaitEnd();
        a.awaitEnd();
        for (var batch : runner.batches) {
            assertTrue(batch.stream().mapToInt(in -> in.length()).sum() <= 8, "token budget exceeded: " + batch);
        }
        List<Integer> chunks = runner.rowsOf(idb);
        assertEquals(40 + 1, chunks.stream().mapToInt(Integer::intValue).sum(), "40 prompt tokens then 1 decode token");
        assertTrue(chunks.getFirst() <= 7, "decode of a got its token first: " + chunks);
        assertEquals(200, a.tokens().length);
    }

    @Test
    void whileOthersDecodePromptChunksGetTheSmallerShare() throws Exception {
        FakeRunner runner = new FakeRunner(100, 1000);
        runner.stepMillis = 1;
        engine = new Engine("test", runner, new EngineConfig(4, 64, 100_000, 8, 5)).start();
        RecordingListener a = new RecordingListener();
        long ida = engine.submit(req(new int[] {1}, 300), a).sequenceId();
        a.firstToken.get();
        RecordingListener b = new RecordingListener();
        long idb = engine.submit(req(new int[100], 2), b).sequenceId();
        b.awaitEnd();
        List<Integer> chunks = runner.rowsOf(idb);
        assertTrue(chunks.stream().filter(n -> n > 1).allMatch(n -> n <= 5), "prompt chunks beside a decode: " + chunks);
        a.awaitEnd();
        assertEquals(300, a.tokens().length);
        // Alone, a prompt may use the whole per-step budget.
        RecordingListener c = new RecordingListener();
        long idc = engine.submit(req(new int[100], 1), c).sequenceId();
        c.awaitEnd();
        assertEquals(List.of(64, 36), runner.rowsOf(idc));
        assertTrue(runner.rowsOf(ida).size() == 300);
    }

    @Test
    void abortStopsTheSequenceAtTheNextStepAndFreesItsCache() throws Exception {
        FakeRunner runner = new FakeRunner(100, 10_000);
        runner.stepMillis = 2;
        start(runner, 4, 64, 100_000, 8);
        RecordingListener l = new RecordingListener();
        SequenceHandle h = engine.submit(req(new int[] {1}, 5000), l);
        l.firstToken.get();
        h.abort();
        TokenEvent.Finished end = (TokenEvent.Finished) l.awaitEnd();
        assertEquals(FinishReason.CANCELLED, end.reason());
        int produced = l.tokens().length;
        Thread.sleep(50);
        assertEquals(produced, l.tokens().length, "no tokens after the abort");
        assertTrue(runner.released.contains(h.sequenceId()));
        assertEquals(0, engine.stats().kvUsedTokens());
        assertEquals(0, engine.stats().numCachedSequences());
    }

    @Test
    void cancellingWhileQueuedReleasesItsReservationAndItNeverRuns() throws Exception {
        FakeRunner runner = new FakeRunner(100, 10_000);
        runner.stepMillis = 2;
        start(runner, 1, 64, 100_000, 8);
        RecordingListener running = new RecordingListener();
        SequenceHandle first = engine.submit(req(new int[] {1}, 5000), running);
        running.firstToken.get();
        RecordingListener queued = new RecordingListener();
        SequenceHandle waiting = engine.submit(req(new int[] {2, 3}, 100), queued);
        Thread.sleep(20);
        assertEquals(1, engine.stats().numWaiting());
        waiting.abort();
        assertEquals(FinishReason.CANCELLED, ((TokenEvent.Finished) queued.awaitEnd()).reason());
        assertEquals(0, queued.tokens().length);
        assertEquals(0, engine.stats().numWaiting());
        assertEquals(5001, engine.stats().kvUsedTokens(), "only the running request's reservation is left");
        assertTrue(runner.rowsOf(waiting.sequenceId()).isEmpty(), "a cancelled queued request never runs");
        first.abort();
        running.awaitEnd();
        assertEquals(0, engine.stats().kvUsedTokens());
    }

    @Test
    void cancellingDuringAChunkedPrefillReleasesEverything() throws Exception {
        FakeRunner runner = new FakeRunner(100, 10_000);
        runner.stepMillis = 3;
        start(runner, 4, 4, 100_000, 8);
        RecordingListener l = new RecordingListener();
        SequenceHandle h = engine.submit(req(new int[400], 10), l);
        Poll.until(() -> !runner.rowsOf(h.sequenceId()).isEmpty());
        h.abort();
        assertEquals(FinishReason.CANCELLED, ((TokenEvent.Finished) l.awaitEnd()).reason());
        assertEquals(0, l.tokens().length, "cancelled before its prompt was complete");
        assertTrue(runner.rowsOf(h.sequenceId()).stream().mapToInt(Integer::intValue).sum() < 400);
        assertTrue(runner.released.contains(h.sequenceId()));
        assertEquals(0, engine.stats().kvUsedTokens());
        assertEquals(0, engine.stats().numCachedSequences());
        assertEquals(0, engine.stats().numRunning());
    }

    @Test
    void aFailedForwardPassFailsItsSequencesAndTheEngineKeepsServing() throws Exception {
        FakeRunner runner = new FakeRunner(100, 64);
        start(runner, 1, 64, 1000, 8);
        runner.failFor = 1;
        RecordingListener bad = new RecordingListener();
        engine.submit(req(new int[] {1}, 3), bad);
        TokenEvent.Failed failed = assertInstanceOf(TokenEvent.Failed.class, bad.awaitEnd());
        assertEquals(ErrorKind.MODEL_FAILURE, failed.error().kind());
        RecordingListener good = new RecordingListener();
        engine.submit(req(new int[] {1}, 3), good);
        assertInstanceOf(TokenEvent.Finished.class, good.awaitEnd());
        assertTrue(engine.stats().loopAlive());
    }

    @Test
    void requestsThatCanNeverRunAreRejectedAtOnce() {
        start(new FakeRunner(100, 64), 4, 64, 50, 8);
        SpindleException tooLong = assertThrows(SpindleException.class,
                () -> engine.submit(req(new int[60], 10), new RecordingListener()));
        assertEquals(ErrorKind.INVALID_REQUEST, tooLong.kind());
        SpindleException tooBig = assertThrows(SpindleException.class,
                () -> engine.submit(req(new int[10], 50), new RecordingListener()));
        assertEquals(ErrorKind.INVALID_REQUEST, tooBig.kind());
    }

    @Test
    void aFullQueueAnswersOverloaded() throws Exception {
        FakeRunner runner = new FakeRunner(100, 10_000);
        runner.stepMillis = 5;
        start(runner, 1, 64, 100_000, 2);
        List<SequenceHandle> handles = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            handles.add(engine.submit(req(new int[] {1}, 1000), new RecordingListener()));
        }
        Poll.until(() -> engine.stats().numSteps() > 20);
        SpindleException e = assertThrows(SpindleException.class,
                () -> engine.submit(req(new int[] {1}, 10), new RecordingListener()));
        assertEquals(ErrorKind.OVERLOADED, e.kind());
        // One running sequence with ~980 tokens left at ≤ 200 tokens/s (5 ms steps): a slot frees in ≥ 4 s.
        assertTrue(e.retryAfterSeconds() >= 4 && e.retryAfterSeconds() <= 60, "Retry-After " + e.retryAfterSeconds());
        handles.forEach(SequenceHandle::abort);
    }

    /** Minimal polling for conditions the engine thread makes true. */
    private static final class Poll {
        static void until(java.util.function.BooleanSupplier c) throws InterruptedException {
            long deadline = System.nanoTime() + 10_000_000_000L;
            while (!c.getAsBoolean()) {
                if (System.nanoTime() > deadline) {
                    throw new AssertionError("condition not reached");
                }
                Thread.sleep(1);
            }
        }
    }

    private static int firstStep(FakeRunner runner, long id) {
        for (int i = 0; i < runner.batches.size(); i++) {
            for (var in : runner.batches.get(i)) {
                if (in.sequenceId() == id) {
                    return i;
                }
            }
        }
        return -1;
    }

    @Test
    void aStepThatHangsLooksStalledToTheWatchdogAndAnIdleLoopDoesNot() throws Exception {
        FakeRunner runner = new FakeRunner(100, 64);
        start(runner, 4, 64, 1000, 8);
        Thread.sleep(700);
        assertTrue(!engine.stats().stalled(java.time.Duration.ofMillis(300)), "an idle loop proves it is alive");
        runner.stepMillis = 1500;
        RecordingListener l = new RecordingListener();
        engine.submit(req(new int[] {1, 2}, 2), l);
        long deadline = System.nanoTime() + 5_000_000_000L;
        boolean stalled = false;
        while (!stalled && System.nanoTime() < deadline) {
            stalled = engine.stats().stalled(java.time.Duration.ofMillis(300));
            Thread.sleep(20);
        }
        assertTrue(stalled, "a step longer than the timeout, with work, reads as stalled");
        runner.stepMillis = 0;
        assertInstanceOf(TokenEvent.Finished.class, l.awaitEnd());
    }

    @Test
    void abortAllEndsRunningAndQueuedSequencesWithTheGivenErrorAndFreesEverything() throws Exception {
        FakeRunner runner = new FakeRunner(100, 64);
        runner.stepMillis = 20;
        start(runner, 1, 64, 1000, 8);
        RecordingListener running = new RecordingListener();
        RecordingListener queued = new RecordingListener();
        engine.submit(req(new int[] {1, 2}, 50), running);
        engine.submit(req(new int[] {3}, 50), queued);
        running.firstToken.get(10, java.util.concurrent.TimeUnit.SECONDS);
        engine.abortAll(SpindleException.unavailable("going away", 1));
        for (RecordingListener l : List.of(running, queued)) {
            TokenEvent.Failed f = assertInstanceOf(TokenEvent.Failed.class, l.awaitEnd());
            assertEquals(ErrorKind.UNAVAILABLE, f.error().kind());
        }
        long deadline = System.nanoTime() + 5_000_000_000L;
        while (engine.stats().kvUsedTokens() + engine.stats().numRunning() + engine.stats().numWaiting() > 0
                && System.nanoTime() < deadline) {
            Thread.sleep(10);
        }
        assertEquals(0, engine.stats().kvUsedTokens());
        assertEquals(0, runner.numCachedSequences());
    }

    @Test
    void maxTokensNearIntegerMaxIsRejectedAndTheLoopKeepsServing() throws Exception {
        start(new FakeRunner(100, 64), 4, 64, 1000, 8);
        SpindleException e = assertThrows(SpindleException.class,
                () -> engine.submit(req(new int[] {1, 2}, Integer.MAX_VALUE), new RecordingListener()));
        assertEquals(ErrorKind.INVALID_REQUEST, e.kind());
        assertTrue(e.getMessage().contains("2147483649"), e.getMessage());
        RecordingListener ok = new RecordingListener();
        engine.submit(req(new int[] {1, 2}, 3), ok);
        assertInstanceOf(TokenEvent.Finished.class, ok.awaitEnd());
        assertTrue(engine.stats().loopAlive());
    }

    @Test
    void samplesOfOnePromptPrefillItOnceAndForkItsCache() throws Exception {
        FakeRunner runner = new FakeRunner(100, 64);
        start(runner, 4, 64, 1000, 8);
        List<RecordingListener> ls = List.of(new RecordingListener(), new RecordingListener(), new RecordingListener());
        List<SequenceHandle> hs = engine.submitGroup(List.of(req(new int[] {5, 6, 7}, 3), req(new int[] {5, 6, 7}, 3),
                req(new int[] {5, 6, 7}, 3)), List.of(ls.get(0), ls.get(1), ls.get(2)));
        for (RecordingListener l : ls) {
            assertEquals(FinishReason.LENGTH, ((TokenEvent.Finished) l.awaitEnd()).reason());
            assertArrayEquals(new int[] {8, 9, 10}, l.tokens());
        }
        assertEquals(List.of(3, 1, 1), runner.rowsOf(hs.get(0).sequenceId()), "the parent prefills");
        assertEquals(List.of(1, 1), runner.rowsOf(hs.get(1).sequenceId()), "a fork never feeds the prompt");
        assertEquals(List.of(1, 1), runner.rowsOf(hs.get(2).sequenceId()));
        assertEquals(2, runner.forks.size());
        assertEquals(0, engine.stats().kvUsedTokens());
        assertEquals(0, runner.numCachedSequences());
    }

    @Test
    void aGroupIsAdmittedWholeAndAGroupLargerThanTheBatchIsRefused() throws Exception {
        FakeRunner runner = new FakeRunner(100, 64);
        runner.stepMillis = 2;
        start(runner, 3, 64, 1000, 8);
        RecordingListener first = new RecordingListener();
        engine.submit(req(new int[] {1}, 20), first);
        first.firstToken.get();
        List<RecordingListener> ls = List.of(new RecordingListener(), new RecordingListener(), new RecordingListener());
        engine.submitGroup(List.of(req(new int[] {2}, 2), req(new int[] {2}, 2), req(new int[] {2}, 2)), ls);
        for (RecordingListener l : ls) {
            l.awaitEnd();
        }
        assertTrue(runner.maxBatchSeen() <= 3);
        assertTrue(first.end.isDone(), "the group of three waited for the batch to have room for all of it");
        assertThrows(io.spindle.engine.request.SpindleException.class, () -> engine.submitGroup(
                List.of(req(new int[] {2}, 2), req(new int[] {2}, 2), req(new int[] {2}, 2), req(new int[] {2}, 2)),
                List.of(new RecordingListener(), new RecordingListener(), new RecordingListener(), new RecordingListener())));
    }

    @Test
    void cancellingTheParentBeforeItsPromptIsInEndsItsForks() throws Exception {
        FakeRunner runner = new FakeRunner(100, 10_000);
        runner.stepMillis = 2;
        start(runner, 4, 2, 100_000, 8);
        List<RecordingListener> ls = List.of(new RecordingListener(), new RecordingListener());
        int[] prompt = new int[200];
        List<SequenceHandle> hs = engine.submitGroup(List.of(req(prompt, 5), req(prompt, 5)), ls);
        hs.get(0).abort();
        for (RecordingListener l : ls) {
            assertEquals(FinishReason.CANCELLED, ((TokenEvent.Finished) l.awaitEnd()).reason());
            assertEquals(0, l.tokens().length);
        }
        assertEquals(0, engine.stats().kvUsedTokens());
        assertEquals(0, engine.stats().numRunning());
    }
}
