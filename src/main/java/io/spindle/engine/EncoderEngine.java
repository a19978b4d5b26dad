package io.spindle.engine;

import io.spindle.engine.exec.EncoderRunner;
import io.spindle.engine.exec.ModelExecutionException;
import io.spindle.engine.request.ErrorKind;
import io.spindle.engine.request.SpindleException;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * One encoder model's loop: on one platform thread, takes queued requests in arrival order and runs
 * their inputs through the runner in batches of at most {@code maxBatchSize} rows, several requests
 * sharing a batch when they fit. The queue is bounded in inputs; past it, requests are refused with
 * OVERLOADED at once.
 */
public final class EncoderEngine implements EncoderClient, AutoCloseable {
    private static final Logger LOG = Logger.getLogger(EncoderEngine.class.getName());

    private record Job(List<int[]> inputs, CompletableFuture<float[][]> result, float[][] out) {
    }

    private final String name;
    private final EncoderRunner runner;
    private final int maxBatchSize;
    private final int maxQueuedInputs;
    private final LinkedBlockingQueue<Job> queue = new LinkedBlockingQueue<>();
    private final AtomicInteger queuedInputs = new AtomicInteger();
    private final Thread thread;
    private volatile boolean running = true;

    public EncoderEngine(String name, EncoderRunner runner, int maxBatchSize, int maxQueuedInputs) {
        this.name = name;
        this.runner = runner;
        this.maxBatchSize = maxBatchSize;
        this.maxQueuedInputs = maxQueuedInputs;
        this.thread = Thread.ofPlatform().name("spindle-encoder-" + name).daemon(true).unstarted(this::loop);
    }

    public EncoderEngine start() {
        thread.start();
        return this;
    }

    @Override
    public int dimensions() {
        return runner.dimensions();
    }

    @Override
    public int maxInputTokens() {
        return runner.maxInputTokens();
    }

    /** Inputs waiting to be encoded. */
    public int queuedInputs() {
        return queuedInputs.get();
    }

    @Override
    public CompletableFuture<float[][]> encode(List<int[]> inputs) {
        if (!running) {
            return CompletableFuture.failedFuture(new SpindleException(ErrorKind.UNAVAILABLE,
                    "encoder '" + name + "' is shutting down"));
        }
        int queued = queuedInputs.addAndGet(inputs.size());
        // One request larger than the whole queue is still taken when nothing else waits.
        if (queued > maxQueuedInputs && queued != inputs.size()) {
            queuedInputs.addAndGet(-inputs.size());
            return CompletableFuture.failedFuture(SpindleException.overloaded("too many inputs waiting for model '"
                    + name + "' (" + maxQueuedInputs + " queued); retry in about 1 s", 1));
        }
        Job job = new Job(List.copyOf(inputs), new CompletableFuture<>(), new float[inputs.size()][]);
        queue.add(job);
        return job.result();
    }

    private void loop() {
        List<Job> jobs = new ArrayList<>();
        List<int[]> rows = new ArrayList<>();
        // A job larger than a batch is encoded over several batches: where it resumes.
        int resumeAt = 0;
        Job partial = null;
        try {
            while (running) {
                jobs.clear();
                rows.clear();
                if (partial == null) {
                    Job first = queue.poll(500, TimeUnit.MILLISECONDS);
                    if (first == null) {
                        continue;
                    }
                    partial = first;
                    resumeAt = 0;
                }
                // Fill the batch: the rest of the current job, then whole queued jobs that fit.
                int take = Math.min(maxBatchSize, partial.inputs().size() - resumeAt);
                rows.addAll(partial.inputs().subList(resumeAt, resumeAt + take));
                jobs.add(partial);
                int partialFrom = resumeAt;
                boolean partialDone = resumeAt + take == partial.inputs().size();
                for (Job next; partialDone && (next = queue.peek()) != null
                        && rows.size() + next.inputs().size() <= maxBatchSize; ) {
                    queue.poll();
                    rows.addAll(next.inputs());
                    jobs.add(next);
                }
                float[][] vectors;
                try {
                    vectors = runner.encode(rows);
                } catch (ModelExecutionException | RuntimeException e) {
                    LOG.log(Level.SEVERE, "encoder '" + name + "' failed on " + rows.size() + " input(s)", e);
                    SpindleException error = new SpindleException(ErrorKind.MODEL_FAILURE,
                            "the model failed to encode this request");
                    queuedInputs.addAndGet(-(partial.inputs().size() - partialFrom));
                    for (Job j : jobs) {
                        if (j != partial) {
                            queuedInputs.addAndGet(-j.inputs().size());
                        }
                        j.result().completeExceptionally(error);
                    }
                    partial = null;
                    continue;
                }
                queuedInputs.addAndGet(-rows.size());
                System.arraycopy(vectors, 0, partial.out(), partialFrom, take);
                int offset = take;
                for (int j = 1; j < jobs.size(); j++) {
                    Job job = jobs.get(j);
                    System.arraycopy(vectors, offset, job.out(), 0, job.inputs().size());
                    offset += job.inputs().size();
                    job.result().complete(job.out());
                }
                if (partialDone) {
                    partial.result().complete(partial.out());
                    partial = null;
                } else {
                    resumeAt += take;
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            SpindleException stopped = new SpindleException(ErrorKind.UNAVAILABLE, "encoder '" + name + "' stopped");
            if (partial != null) {
                partial.result().completeExceptionally(stopped);
            }
            for (Job j; (j = queue.poll()) != null; ) {
                j.result().completeExceptionally(stopped);
            }
            queuedInputs.set(0);
        }
    }

    @Override
    public void close() {
        running = false;
        thread.interrupt();
        try {
            thread.join(10_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        runner.close();
    }
}
