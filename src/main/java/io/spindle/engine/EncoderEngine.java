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
 * their inputs through the runner in passes within {@link EncoderConfig}'s limits (rows, rows × padded
 * length, result rows), several requests sharing a pass when they fit whole; a request that does not
 * fit one pass runs over several, in order. The queue is bounded in inputs; past it, requests are
 * refused with OVERLOADED at once.
 */
public final class EncoderEngine implements EncoderClient, AutoCloseable {
    private static final Logger LOG = Logger.getLogger(EncoderEngine.class.getName());

    private record Job(List<int[]> inputs, CompletableFuture<float[][]> result, float[][] out) {
    }

    private final String name;
    private final EncoderRunner runner;
    private final EncoderConfig limits;
    private final LinkedBlockingQueue<Job> queue = new LinkedBlockingQueue<>();
    private final AtomicInteger queuedInputs = new AtomicInteger();
    private final Thread thread;
    private volatile boolean running = true;

    public EncoderEngine(String name, EncoderRunner runner, EncoderConfig limits) {
        this.name = name;
        this.runner = runner;
        this.limits = limits;
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

    /** The graph's positions, or the tokens of one pass when that is less: a longer input could never run. */
    @Override
    public int maxInputTokens() {
        return Math.min(runner.maxInputTokens(), limits.maxTokensPerPass());
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
        if (queued > limits.maxQueuedInputs() && queued != inputs.size()) {
            queuedInputs.addAndGet(-inputs.size());
            return CompletableFuture.failedFuture(SpindleException.overloaded("too many inputs waiting for model '"
                    + name + "' (" + limits.maxQueuedInputs() + " queued); retry in about 1 s", 1));
        }
        Job job = new Job(List.copyOf(inputs), new CompletableFuture<>(), new float[inputs.size()][]);
        queue.add(job);
        return job.result();
    }

    private void loop() {
        List<Job> jobs = new ArrayList<>();
        List<int[]> rows = new ArrayList<>();
        // A job larger than a pass is encoded over several passes: where it resumes.
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
                // Fill the pass: as much of the current job as fits, then, once it is done, whole queued jobs that fit.
                EncoderPass pass = new EncoderPass(limits, runner);
                int take = 0;
                while (resumeAt + take < partial.inputs().size() && pass.add(partial.inputs().get(resumeAt + take))) {
                    take++;
                }
                rows.addAll(partial.inputs().subList(resumeAt, resumeAt + take));
                jobs.add(partial);
                int partialFrom = resumeAt;
                boolean partialDone = resumeAt + take == partial.inputs().size();
                for (Job next; partialDone && (next = queue.peek()) != null && pass.addAll(next.inputs()); ) {
                    queue.poll();
                    rows.addAll(next.inputs());
                    jobs.add(next);
                }
                float[][] vectors;
                try {
                    vectors = runner.encode(rows);
                } catch (ModelExecutionException | RuntimeException | OutOfMemoryError e) {
                    // A pass's arrays are garbage once it failed, so even an OutOfMemoryError fails only
                    // the requests in it; the loop goes on serving the others.
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
