package io.spindle.engine.sched;

import io.spindle.engine.request.EngineRequest;
import io.spindle.engine.request.Sequence;
import io.spindle.kvcache.KvCacheBudget;
import io.spindle.sampling.SamplingParams;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** Prompt chunking, chunked (decoder-only) and whole (encoder-decoder). */
class FcfsSchedulerTest {
    private static Sequence sequence(long id, int promptTokens) {
        return new Sequence(id, new EngineRequest("r" + id, new int[promptTokens], SamplingParams.greedy(), 4, new int[0], false),
                e -> { }, 0);
    }

    private static List<Integer> sizes(StepPlan plan) {
        return plan.chunks().stream().map(ScheduledChunk::numTokens).toList();
    }

    @Test
    void chunkedPrefillSplitsAPromptByTheStepBudget() {
        FcfsScheduler s = new FcfsScheduler(4, 16, 16, new KvCacheBudget(1000));
        s.enqueue(sequence(1, 40));
        s.enqueue(sequence(2, 5));
        assertEquals(List.of(16), sizes(s.schedule(0)), "the head takes the whole budget, the next waits");
    }

    @Test
    void wholePrefillFeedsEachPromptInOneStepAndAdmitsNothingPastTheBudget() {
        FcfsScheduler s = new FcfsScheduler(4, 16, 16, new KvCacheBudget(1000), false);
        Sequence big = sequence(1, 40);
        s.enqueue(big);
        s.enqueue(sequence(2, 5));
        assertEquals(List.of(40), sizes(s.schedule(0)), "a source larger than the budget still goes whole, alone");
        big.markComputed(40);
        big.append(7, 1);
        assertEquals(List.of(1, 5), sizes(s.schedule(1)), "then the next source joins the decoding one, whole");
    }
}
