package io.spindle.engine.sched;

import io.spindle.engine.request.Sequence;
import io.spindle.kvcache.KvCacheBudget;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;

/**
 * Iteration-level scheduling, first come first served. Each step: every running sequence that is
 * decoding gets its one token first, prompts that are still prefilling get what is left of the
 * per-step token budget (in chunks, at most {@code maxPrefillWhileDecoding} tokens while anyone is
 * decoding), and waiting requests are admitted in arrival order while the batch, the token budget
 * and the KV budget allow. Admission never skips the head of the queue, so a
 * large request cannot be starved by a stream of small ones.
 * Confined to the engine thread.
 */
public final class FcfsScheduler {
    private final int maxBatchSize;
    private final int maxTokensPerStep;
    private final int maxPrefillWhileDecoding;
    private final KvCacheBudget kvBudget;
    /** False when prompts must be fed whole (an encoder reads its source at once). */
    private final boolean chunkedPrefill;
    private final ArrayDeque<Sequence> waiting = new ArrayDeque<>();
    /** Told of each admitted sequence before its first chunk is planned (the prefix cache restores it there). */
    private java.util.function.Consumer<Sequence> onAdmit = s -> { };
    private final List<Sequence> running = new ArrayList<>();

    public FcfsScheduler(int maxBatchSize, int maxTokensPerStep, int maxPrefillWhileDecoding, KvCacheBudget kvBudget) {
        this(maxBatchSize, maxTokensPerStep, maxPrefillWhileDecoding, kvBudget, true);
    }

    /**
     * @param chunkedPrefill false: a prompt is scheduled whole in one step, even past the step's token
     *                       budget (which then admits nothing more that step)
     */
    public FcfsScheduler(int maxBatchSize, int maxTokensPerStep, int maxPrefillWhileDecoding, KvCacheBudget kvBudget,
                         boolean chunkedPrefill) {
        this.chunkedPrefill = chunkedPrefill;
        this.maxBatchSize = maxBatchSize;
        this.maxTokensPerStep = maxTokensPerStep;
        this.maxPrefillWhileDecoding = maxPrefillWhileDecoding;
        this.kvBudget = kvBudget;
    }

    public void onAdmit(java.util.function.Consumer<Sequence> onAdmit) {
        this.onAdmit = onAdmit;
    }

    public void enqueue(Sequence sequence) {
        waiting.addLast(sequence);
    }

    /** Admits what fits and returns this step's rows. */
    public StepPlan schedule(long nowNanos) {
        List<ScheduledChunk> chunks = new ArrayList<>(Math.min(maxBatchSize, running.size() + waiting.size()));
        int budget = maxTokensPerStep;
        for (Sequence s : running) {
            if (!s.isPrefilling() && !s.awaitingFork() && budget > 0) {
                chunks.add(new ScheduledChunk(s, 1));
                budget--;
            }
        }
        if (!chunks.isEmpty()) {
            // Others are decoding: a prompt chunk lengthens their step, so it gets a smaller share.
            budget = Math.min(budget, maxPrefillWhileDecoding);
        }
        for (Sequence s : running) {
            if (s.isPrefilling() && !s.awaitingFork() && budget > 0) {
                int n = chunkOf(s, budget);
                chunks.add(new ScheduledChunk(s, n));
                budget -= n;
            }
        }
        while (budget > 0 && !waiting.isEmpty()
                && running.size() + 1 + waiting.peekFirst().forks().size() <= maxBatchSize) {
            Sequence head = waiting.peekFirst();
            if (!reserveGroup(head)) {
                break;
            }
            waiting.pollFirst();
            head.markAdmitted(nowNanos);
            running.add(head);
            onAdmit.accept(head);
            for (Sequence f : head.forks()) {
                // Admitted with their parent: they take a batch slot and their cache is reserved now,
                // but run only once the parent's prefill has been copied to them.
                f.markAdmitted(nowNanos);
                running.add(f);
            }
            int n = chunkOf(head, budget);
            chunks.add(new ScheduledChunk(head, n));
            budget -= n;
        }
        return new StepPlan(chunks);
    }

    /** Reserves the cache of a sequence and its forks, all or none. */
    private boolean reserveGroup(Sequence head) {
        if (!kvBudget.tryReserve(head.id(), head.maxTotalTokens())) {
            return false;
        }
        for (int i = 0; i < head.forks().size(); i++) {
            Sequence f = head.forks().get(i);
            if (!kvBudget.tryReserve(f.id(), f.maxTotalTokens())) {
                kvBudget.release(head.id());
                for (int j = 0; j < i; j++) {
                    kvBudget.release(head.forks().get(j).id());
                }
                return false;
            }
        }
        return true;
    }

    private int chunkOf(Sequence s, int budget) {
        return chunkedPrefill ? Math.min(s.numUncomputed(), budget) : s.numUncomputed();
    }

    /** Removes a sequence wherever it is and returns its KV reservation. True if it was known. */
    public boolean remove(Sequence sequence) {
        boolean known = running.remove(sequence) || waiting.remove(sequence);
        kvBudget.release(sequence.id());
        return known;
    }

    public boolean hasWork() {
        return !running.isEmpty() || !waiting.isEmpty();
    }

    public int numWaiting() {
        return waiting.size();
    }

    public int numRunning() {
        return running.size();
    }

    /** The admitted sequences, read-only. */
    public List<Sequence> running() {
        return java.util.Collections.unmodifiableList(running);
    }

    /** Every sequence the scheduler holds, running first; for shutdown. */
    public List<Sequence> all() {
        List<Sequence> all = new ArrayList<>(running);
        all.addAll(waiting);
        return all;
    }
}
