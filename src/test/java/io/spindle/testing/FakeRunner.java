package io.spindle.testing;

import io.spindle.engine.exec.ModelExecutionException;
import io.spindle.engine.exec.ModelRunner;
import io.spindle.engine.exec.StepInput;
import io.spindle.engine.exec.StepOutput;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A model-free runner for scheduler and engine contracts: the next token is always (last fed token
 * + 1) mod vocab, every batch is recorded, and it tracks cached lengths like a real runner so that
 * engine/runner disagreements fail loudly.
 */
public final class FakeRunner implements ModelRunner, io.spindle.engine.exec.CacheForking {
    private final int vocab;
    private final int context;
    private final Map<Long, Integer> cached = new HashMap<>();
    public final List<List<StepInput>> batches = new CopyOnWriteArrayList<>();
    public final List<Long> released = new CopyOnWriteArrayList<>();
    /** When set, a step containing this sequence throws. */
    public volatile long failFor = -1;
    /** Sleep per step, to give tests time to act between steps. */
    public volatile long stepMillis;

    public FakeRunner(int vocab, int context) {
        this.vocab = vocab;
        this.context = context;
    }

    @Override
    public int vocabSize() {
        return vocab;
    }

    @Override
    public int contextLength() {
        return context;
    }

    /** One byte per token, so an engine's KV budget in bytes reads as tokens in tests. */
    @Override
    public long kvBytesPerToken() {
        return 1;
    }

    @Override
    public StepOutput execute(List<StepInput> batch) throws ModelExecutionException {
        batches.add(List.copyOf(batch));
        if (stepMillis > 0) {
            try {
                Thread.sleep(stepMillis);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        int[] next = new int[batch.size()];
        for (int r = 0; r < batch.size(); r++) {
            StepInput in = batch.get(r);
            if (in.sequenceId() == failFor) {
                throw new ModelExecutionException("injected failure", new IllegalStateException("boom"));
            }
            int have = cached.getOrDefault(in.sequenceId(), 0);
            if (have != in.from()) {
                throw new IllegalStateException("sequence " + in.sequenceId() + " cached " + have + " but step starts at " + in.from());
            }
            cached.put(in.sequenceId(), in.to());
            next[r] = (in.tokens()[in.to() - 1] + 1) % vocab;
        }
        return (row, dst) -> {
            java.util.Arrays.fill(dst, 0, vocab, 0f);
            dst[next[row]] = 10f;
        };
    }

    /** Forks so far, as parent → child pairs. */
    public final List<long[]> forks = new CopyOnWriteArrayList<>();

    @Override
    public void fork(long parentId, long childId) {
        Integer have = cached.get(parentId);
        if (have == null) {
            throw new IllegalStateException("sequence " + parentId + " has no cache to fork");
        }
        cached.put(childId, have);
        forks.add(new long[] {parentId, childId});
    }

    @Override
    public void release(long sequenceId) {
        cached.remove(sequenceId);
        released.add(sequenceId);
    }

    @Override
    public int numCachedSequences() {
        return cached.size();
    }

    /** Largest number of rows in any step so far. */
    public int maxBatchSeen() {
        int max = 0;
        for (List<StepInput> b : batches) {
            max = Math.max(max, b.size());
        }
        return max;
    }

    public List<Integer> rowsOf(long sequenceId) {
        List<Integer> out = new ArrayList<>();
        for (List<StepInput> b : batches) {
            for (StepInput in : b) {
                if (in.sequenceId() == sequenceId) {
                    out.add(in.length());
                }
            }
        }
        return out;
    }

    @Override
    public void close() {
    }
}
