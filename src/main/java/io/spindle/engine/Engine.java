package io.spindle.engine;

import io.spindle.engine.exec.CacheForking;
import io.spindle.engine.exec.ModelExecutionException;
import io.spindle.engine.exec.ModelRunner;
import io.spindle.engine.exec.PrefixCaching;
import io.spindle.engine.exec.StepInput;
import io.spindle.engine.exec.StepOutput;
import io.spindle.engine.request.EngineRequest;
import io.spindle.engine.request.ErrorKind;
import io.spindle.engine.request.FinishReason;
import io.spindle.engine.request.Sequence;
import io.spindle.engine.request.SequenceStats;
import io.spindle.engine.request.SpindleException;
import io.spindle.engine.request.TokenEvent;
import io.spindle.engine.request.TokenListener;
import io.spindle.engine.sched.FcfsScheduler;
import io.spindle.engine.sched.ScheduledChunk;
import io.spindle.engine.sched.StepPlan;
import io.spindle.kvcache.KvCacheBudget;
import io.spindle.sampling.Logprobs;
import io.spindle.sampling.SampledToken;
import io.spindle.sampling.SamplingScratch;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * One model's decode loop: schedule → execute → update, on one platform thread that alone owns the
 * scheduler, the KV accounting and the model runner. Other threads only enqueue commands.
 */
public final class Engine implements EngineClient, AutoCloseable {
    private static final Logger LOG = Logger.getLogger(Engine.class.getName());
    /** How long an idle loop sleeps before it proves it is alive again. */
    private static final long IDLE_POLL_MILLIS = 500;

    private final String name;
    private final ModelRunner runner;
    private final EngineConfig config;
    private final LinkedBlockingQueue<Runnable> commands = new LinkedBlockingQueue<>();
    private final AtomicLong nextSequenceId = new AtomicLong(1);
    /** Requests submitted but not yet finished; bounded by maxWaiting + maxBatchSize. */
    private final AtomicInteger numInFlight = new AtomicInteger();
    private final Thread thread;

    // Confined to the engine thread.
    private final FcfsScheduler scheduler;
    private final KvCacheBudget kvBudget;
    /** The runner's prefix cache, or null when off or the runner has none. */
    private final PrefixCaching prefixes;
    private final Map<Long, Sequence> sequences = new HashMap<>();
    private final SamplingScratch scratch;
    private final List<StepInput> batch = new ArrayList<>();

    // Published for other threads.
    private volatile boolean running = true;
    private volatile long lastProgressNanos = System.nanoTime();
    private volatile int numWaiting;
    private volatile int numRunning;
    /** Reserved and cached-prefix tokens, published together so that a reader never sees one without the other. */
    private record KvTokens(int reserved, int cachedPrefixes) {
    }

    private volatile KvTokens kvTokens = new KvTokens(0, 0);
    private volatile int numCachedSequences;
    private volatile long allocatedBytes;
    private volatile long prefixCacheBytes;
    private volatile long numSteps;
    private volatile long stepNanos;
    private volatile long forwardNanos;
    private volatile int retryAfterSeconds = 1;
    /** Generated tokens per second, smoothed over steps (EWMA). Confined to the engine thread. */
    private double tokensPerSecond;
    private volatile EngineObserver observer = EngineObserver.NONE;

    public Engine(String name, ModelRunner runner, EngineConfig config) {
        this.name = name;
        this.runner = runner;
        this.config = config;
        this.kvBudget = new KvCacheBudget((int) Math.min(Integer.MAX_VALUE,
                Math.max(1, config.kvCacheBytes() / runner.kvBytesPerToken())));
        this.scheduler = new FcfsScheduler(config.maxBatchSize(), config.maxTokensPerStep(),
                config.maxPrefillTokensWhileDecoding(), kvBudget, runner.chunkedPrefill());
        if (config.prefixCache().enabled() && runner instanceof PrefixCaching pc) {
            this.prefixes = pc;
            pc.enablePrefixCache(config.prefixCache().blockSize());
            kvBudget.setEvictable(new KvCacheBudget.Evictable() {
                @Override
                public int evictableTokens() {
                    return pc.prefixCacheTokens();
                }

                @Override
                public void evictTo(int tokens) {
                    pc.evictPrefixesTo(tokens);
                }
            });
            scheduler.onAdmit(this::restorePrefix);
        } else {
            this.prefixes = null;
        }
        this.scratch = new SamplingScratch(runner.vocabSize());
        this.thread = Thread.ofPlatform().name("spindle-engine-" + name).daemon(true).unstarted(this::loop);
    }

    public Engine start() {
        thread.start();
        return this;
    }

    public int contextLength() {
        return runner.contextLength();
    }

    /** Bytes of KV cache one token takes, for sizing and metrics. */
    public long kvBytesPerToken() {
        return runner.kvBytesPerToken();
    }

    /** Where the runner keeps the KV cache: host or device ({@link ModelRunner#kvCacheLocation()}). */
    public String kvCacheLocation() {
        return runner.kvCacheLocation();
    }

    /** The KV cache's element type ({@link ModelRunner#kvCacheDtype()}). */
    public String kvCacheDtype() {
        return runner.kvCacheDtype();
    }

    /** The KV-cache budget in bytes, whole tokens ({@code spindle.engine.kv-cache-memory}; device bytes on the device). */
    public long kvCacheBudgetBytes() {
        return (long) kvBudget.capacityTokens() * runner.kvBytesPerToken();
    }

    /** Starts reporting to {@code observer} (from the next step on); set after warm-up so metrics see only traffic. */
    public void observe(EngineObserver observer) {
        this.observer = observer;
    }

    @Override
    public SequenceHandle submit(EngineRequest request, TokenListener listener) {
        return submitGroup(List.of(request), List.of(listener)).getFirst();
    }

    @Override
    public List<SequenceHandle> submitGroup(List<EngineRequest> requests, List<? extends TokenListener> listeners) {
        EngineRequest request = requests.getFirst();
        int n = requests.size();
        // long: prompt + max_tokens near Integer.MAX_VALUE must not wrap around and pass the checks.
        if (request.promptTokens().length > runner.maxPromptTokens()) {
            throw SpindleException.invalid("prompt", "the prompt has " + request.promptTokens().length
                    + " tokens; the model accepts at most " + runner.maxPromptTokens());
        }
        long total = (long) request.promptTokens().length + request.maxNewTokens();
        if (total > runner.contextLength()) {
            throw SpindleException.invalid("max_tokens", "prompt (" + request.promptTokens().length
                    + " tokens) + max new tokens (" + request.maxNewTokens() + ") = " + total
                    + " exceeds the model's context length of " + runner.contextLength() + " tokens");
        }
        if (n > 1) {
            checkGroup(requests);
        }
        if (!kvBudget.canEverFit((int) Math.min(Integer.MAX_VALUE, total * n))) {
            throw SpindleException.invalid("max_tokens", (n > 1 ? n + " × " : "") + "(prompt + max new tokens) = "
                    + total * n + " tokens exceeds the KV-cache budget of " + kvBudget.capacityTokens() + " tokens ("
                    + config.kvCacheBytes() / (1 << 20) + " MiB at " + runner.kvBytesPerToken() + " bytes per token)");
        }
        if (!running) {
            throw new SpindleException(ErrorKind.UNAVAILABLE, "engine '" + name + "' is shutting down");
        }
        if (numInFlight.addAndGet(n) > config.maxWaiting() + config.maxBatchSize()) {
            numInFlight.addAndGet(-n);
            int retry = retryAfterSeconds;
            throw SpindleException.overloaded("too many requests waiting for model '" + name + "' ("
                    + config.maxWaiting() + " queued); retry in about " + retry + " s", retry);
        }
        long now = System.nanoTime();
        Sequence parent = new Sequence(nextSequenceId.getAndIncrement(), request, listeners.getFirst(), now);
        List<Sequence> group = new ArrayList<>(n);
        group.add(parent);
        for (int i = 1; i < n; i++) {
            Sequence child = new Sequence(nextSequenceId.getAndIncrement(), requests.get(i), listeners.get(i), now);
            parent.addFork(child);
            group.add(child);
        }
        commands.add(() -> {
            for (Sequence s : group) {
                sequences.put(s.id(), s);
            }
            scheduler.enqueue(parent);
        });
        List<SequenceHandle> handles = new ArrayList<>(n);
        for (Sequence s : group) {
            handles.add(new SequenceHandle(s.id(), this));
        }
        return handles;
    }

    private void checkGroup(List<EngineRequest> requests) {
        if (!(runner instanceof CacheForking)) {
            throw SpindleException.invalid("n", "model '" + name + "' cannot share a prompt's cache between samples; "
                    + "send one request per sample");
        }
        if (requests.size() > config.maxBatchSize()) {
            throw SpindleException.invalid("n", requests.size() + " samples of one prompt run together, but a step "
                    + "holds at most " + config.maxBatchSize() + " sequences (spindle.engine.max-batch-size)");
        }
        for (EngineRequest r : requests) {
            if (!java.util.Arrays.equals(r.promptTokens(), requests.getFirst().promptTokens())
                    || r.maxNewTokens() != requests.getFirst().maxNewTokens()) {
                throw new IllegalArgumentException("samples of one group share their prompt and length");
            }
        }
    }

    @Override
    public void abort(long sequenceId) {
        long asked = System.nanoTime();
        commands.add(() -> {
            Sequence seq = sequences.get(sequenceId);
            if (seq != null) {
                finish(seq, new TokenEvent.Finished(FinishReason.CANCELLED, seq.stats()));
                observer.abortCompleted(System.nanoTime() - asked);
            }
        });
    }

    /** Ends every sequence, running or queued, with a Failed event carrying {@code reason}, at the next step boundary. */
    public void abortAll(SpindleException reason) {
        commands.add(() -> {
            for (Sequence s : List.copyOf(sequences.values())) {
                finish(s, new TokenEvent.Failed(reason, s.stats()));
            }
        });
    }

    public EngineStats stats() {
        boolean alive = thread.isAlive() && running;
        KvTokens kv = kvTokens;
        return new EngineStats(numWaiting, numRunning, kv.reserved(), kvBudget.capacityTokens(), numCachedSequences,
                allocatedBytes,
                numSteps, stepNanos, forwardNanos, alive,
                System.nanoTime() - lastProgressNanos, prefixes == null ? 0 : config.prefixCache().blockSize(),
                kv.cachedPrefixes(), prefixCacheBytes);
    }

    private void loop() {
        try {
            while (running) {
                lastProgressNanos = System.nanoTime();
                if (!drainCommands()) {
                    continue;
                }
                long t0 = System.nanoTime();
                StepPlan plan = scheduler.schedule(t0);
                if (!plan.isEmpty()) {
                    step(plan);
                    stepNanos += System.nanoTime() - t0;
                }
                publishStats();
            }
        } catch (InterruptedException e) {
            if (running) {
                LOG.log(Level.SEVERE, "engine loop '" + name + "' interrupted while serving", e);
                running = false;
            }
        } catch (Throwable t) {
            LOG.log(Level.SEVERE, "engine loop '" + name + "' died", t);
            running = false;
        } finally {
            failAll(new SpindleException(ErrorKind.MODEL_FAILURE, "engine '" + name + "' stopped"));
            publishStats();
        }
    }

    /** Applies pending commands; waits for one when idle. False when the loop should re-check running. */
    private boolean drainCommands() throws InterruptedException {
        if (!scheduler.hasWork()) {
            Runnable first = commands.poll(IDLE_POLL_MILLIS, TimeUnit.MILLISECONDS);
            if (first == null) {
                return false;
            }
            first.run();
        }
        for (Runnable c; (c = commands.poll()) != null; ) {
            c.run();
        }
        publishStats();
        return true;
    }

    private void step(StepPlan plan) {
        List<ScheduledChunk> chunks = plan.chunks();
        batch.clear();
        int promptTokens = 0;
        for (ScheduledChunk c : chunks) {
            Sequence s = c.sequence();
            StepInput.Logits logits = s.request().promptLogprobs() && s.isPrefilling() ? StepInput.Logits.EVERY
                    : c.completesSequence() ? StepInput.Logits.LAST : StepInput.Logits.NONE;
            batch.add(new StepInput(s.id(), s.tokens(), s.numComputed(), s.numComputed() + c.numTokens(),
                    s.numPromptTokens(), logits));
            if (s.isPrefilling()) {
                promptTokens += c.numTokens();
            }
        }
        StepOutput out;
        long t0 = System.nanoTime();
        try {
            out = runner.execute(batch);
            forwardNanos += System.nanoTime() - t0;
        } catch (ModelExecutionException | RuntimeException e) {
            LOG.log(Level.SEVERE, "forward pass failed for " + chunks.size() + " sequence(s) of '" + name + "'", e);
            // The cause stays server-side (logs, the warm-up's report); clients see the message only.
            SpindleException error = new SpindleException(ErrorKind.MODEL_FAILURE, "the model failed to run this request",
                    null, e);
            for (ScheduledChunk c : chunks) {
                finish(c.sequence(), new TokenEvent.Failed(error, c.sequence().stats()));
            }
            return;
        }
        numSteps++;
        long now = System.nanoTime();
        int sampled = 0;
        for (int row = 0; row < chunks.size(); row++) {
            ScheduledChunk c = chunks.get(row);
            Sequence s = c.sequence();
            try {
                boolean sample = c.completesSequence();
                if (s.request().promptLogprobs() && s.isPrefilling()) {
                    scorePrompt(s, row, c.numTokens(), out);
                }
                s.markComputed(c.numTokens());
                boolean promptDone = sample && s.numGenerated() == 0;
                if (promptDone) {
                    // Cached now, not only when the sequence leaves: requests sharing this prompt may be queued.
                    offerPrefix(s);
                }
                List<Sequence> forks = promptDone ? fork(s) : List.of();
                if (promptDone && s.request().promptLogprobs()) {
                    TokenEvent.PromptScores scores = s.promptScores();
                    s.listener().onEvent(scores);
                    for (Sequence f : forks) {
                        f.listener().onEvent(scores);
                    }
                    if (s.request().maxNewTokens() == 0) {
                        finish(s, new TokenEvent.Finished(FinishReason.LENGTH, s.stats()));
                        for (Sequence f : forks) {
                            finish(f, new TokenEvent.Finished(FinishReason.LENGTH, f.stats()));
                        }
                        continue;
                    }
                }
                if (sample) {
                    // Forks read the parent's row first: a parent that ends with this token releases its
                    // cache, and with its batch's last row goes the logits buffer the forks read.
                    for (Sequence f : forks) {
                        sampled += sampleNext(f, row, out, now);
                    }
                    sampled += sampleNext(s, row, out, now);
                }
            } catch (RuntimeException e) {
                // A bug that one sequence trips over ends that sequence, not the loop serving everyone.
                LOG.log(Level.SEVERE, "sequence " + s.id() + " of '" + name + "' failed after its forward pass", e);
                finish(s, new TokenEvent.Failed(new SpindleException(ErrorKind.MODEL_FAILURE,
                        "internal error while generating; see the server log"), s.stats()));
            }
        }
        long nanos = System.nanoTime() - t0;
        updateRetryAfter(sampled, nanos);
        observer.stepCompleted(chunks.size(), promptTokens, sampled, nanos);
    }

    /**
     * A newly admitted sequence starts from the longest cached prefix of its prompt, leaving at least
     * one prompt token to compute (its logits give the first token). A request that scores its prompt
     * needs every prompt position's logits, so it computes them all.
     */
    private void restorePrefix(Sequence s) {
        int prompt = s.numPromptTokens();
        int hit = 0;
        if (!s.request().promptLogprobs() && s.numComputed() == 0) {
            hit = prefixes.restorePrefix(s.id(), s.tokens(), prompt - 1);
            if (hit > 0) {
                s.restoredFromCache(hit);
            }
        }
        observer.prefixLookup(prompt, hit);
    }

    /**
     * Offers what a sequence computed to the prefix cache, then keeps the cache within its room. The
     * cache is an optimisation: a failure to fill it (native memory refused) is logged, not passed on
     * to the sequence, which may be on its way out.
     */
    private void offerPrefix(Sequence s) {
        if (prefixes != null && s.numComputed() > 0) {
            try {
                prefixes.offerPrefix(s.id(), s.tokens(), s.numComputed());
            } catch (RuntimeException | OutOfMemoryError e) {
                LOG.log(Level.WARNING, "caching the prefix of sequence " + s.id() + " of '" + name + "' failed", e);
            }
            prefixes.evictPrefixesTo(kvBudget.roomForEvictable(config.prefixCache().maxShare()));
        }
    }

    /** Samples a sequence's next token from row {@code row}'s logits (a fork reads its parent's row). */
    private int sampleNext(Sequence s, int row, StepOutput out, long now) {
        out.copyLogits(row, scratch.logits());
        if (s.constraint() != null) {
            // Only tokens that keep the output within its constraint can be drawn (and, near the
            // sequence's token limit, only those that can still reach a whole match before it);
            // log-probabilities are then those of the constrained distribution. Timed (one nanoTime
            // pair per row), since a state's first visit builds its mask over the whole vocabulary.
            long t0 = System.nanoTime();
            int remaining = Math.min(s.request().maxNewTokens() - s.numGenerated(),
                    runner.contextLength() - s.numTokens());
            s.constraint().maskLogits(scratch.logits(), runner.vocabSize(), remaining);
            observer.constraintMasked(System.nanoTime() - t0);
        }
        int[] suppressed = s.numGenerated() < s.request().minNewTokens() && (s.constraint() == null
                || !s.constraint().allowsEos()) ? s.request().stopTokenIds() : null;
        SampledToken token = s.sampler().sample(scratch, s.request().numLogprobs(), suppressed);
        if (s.constraint() != null) {
            s.constraint().advance(token.tokenId());
        }
        emitToken(s, token, now);
        return 1;
    }

    /**
     * A parent's prompt is in: each fork still waiting gets a copy of its cache and counts the prompt
     * as computed, so that it draws its first token from the parent's logits this step and decodes
     * on its own from the next. Forks that were cancelled meanwhile are skipped.
     */
    private List<Sequence> fork(Sequence parent) {
        if (parent.forks().isEmpty()) {
            return List.of();
        }
        List<Sequence> out = new ArrayList<>(parent.forks().size());
        for (Sequence f : parent.forks()) {
            if (sequences.containsKey(f.id()) && f.awaitingFork()) {
                ((CacheForking) runner).fork(parent.id(), f.id());
                f.markComputed(f.numPromptTokens());
                out.add(f);
            }
        }
        return out;
    }

    /**
     * Scores the prompt tokens this chunk makes predictable: the logits after prompt token p give
     * token p + 1's log-probability, so a chunk of prompt positions [from, from + n) scores tokens
     * up to from + n (the last position's logits predict the first generated token instead).
     */
    private void scorePrompt(Sequence s, int row, int numTokens, StepOutput out) {
        if (!(out instanceof StepOutput.EveryPosition every)) {
            throw new IllegalStateException("this model's runner cannot score prompt tokens");
        }
        int from = s.numComputed();
        int prompt = s.numPromptTokens();
        int k = s.request().numLogprobs();
        float[] l = scratch.logits();
        for (int p = 0; p < numTokens && from + p + 1 < prompt; p++) {
            every.copyLogits(row, p, l);
            double lse = Logprobs.logSumExp(l, l.length);
            int next = s.tokens()[from + p + 1];
            s.scorePromptToken(from + p + 1, (float) (l[next] - lse),
                    k > 0 ? Logprobs.top(l, l.length, k, lse, scoreIndices()) : null);
        }
    }

    private int[] scoreIndices;

    private int[] scoreIndices() {
        if (scoreIndices == null) {
            scoreIndices = new int[runner.vocabSize()];
        }
        return scoreIndices;
    }

    /**
     * Estimates when a queue slot frees: the queue is first come first served, so a slot frees when
     * the running sequence closest to its end finishes, at this model's measured decode rate shared
     * among the running sequences. Clamped to [1, 60] seconds.
     */
    private void updateRetryAfter(int sampled, long nanos) {
        double rate = sampled * 1e9 / Math.max(1, nanos);
        tokensPerSecond = tokensPerSecond == 0 ? rate : 0.9 * tokensPerSecond + 0.1 * rate;
        int minRemaining = Integer.MAX_VALUE;
        for (Sequence s : scheduler.running()) {
            minRemaining = Math.min(minRemaining, s.request().maxNewTokens() - s.numGenerated() + s.numUncomputed());
        }
        if (minRemaining == Integer.MAX_VALUE || tokensPerSecond <= 0) {
            retryAfterSeconds = 1;
            return;
        }
        double seconds = minRemaining * (double) scheduler.numRunning() / tokensPerSecond;
        retryAfterSeconds = (int) Math.max(1, Math.min(60, Math.ceil(seconds)));
    }

    private void emitToken(Sequence s, SampledToken token, long now) {
        int index = s.numGenerated();
        long previous = s.lastTokenNanos();
        s.append(token.tokenId(), now);
        if (index == 0) {
            observer.firstToken(now - s.arrivalNanos());
        } else {
            observer.nextToken(now - previous);
        }
        FinishReason end = null;
        if (s.request().isStopToken(token.tokenId())
                || (s.constraint() != null && (s.constraint().isComplete() || s.constraint().hasEnded()))) {
            // A constraint that is complete (nothing may follow) ends the output as EOS would.
            end = FinishReason.STOP_TOKEN;
        } else if (s.numGenerated() >= s.request().maxNewTokens() || s.numTokens() >= runner.contextLength()) {
            end = FinishReason.LENGTH;
        }
        s.listener().onEvent(new TokenEvent.Token(token.tokenId(), token.logprob(), index, end != null, token.top()));
        if (end != null) {
            finish(s, new TokenEvent.Finished(end, s.stats()));
        }
    }

    /** Takes a sequence out of the engine, frees its cache, and sends its last event. */
    private void finish(Sequence s, TokenEvent last) {
        if (sequences.remove(s.id()) == null) {
            return;
        }
        for (Sequence f : s.forks()) {
            // A parent that ends before its prompt is in (cancelled, failed) takes its waiting forks along.
            if (f.awaitingFork() && sequences.containsKey(f.id())) {
                finish(f, last instanceof TokenEvent.Failed failed ? new TokenEvent.Failed(failed.error(), f.stats())
                        : new TokenEvent.Finished(FinishReason.CANCELLED, f.stats()));
            }
        }
        scheduler.remove(s);
        offerPrefix(s);
        runner.release(s.id());
        numInFlight.decrementAndGet();
        publishStats();
        SequenceStats stats = s.stats();
        observer.sequenceEnded(stats, s.wasAdmitted(), System.nanoTime() - s.arrivalNanos());
        try {
            s.listener().onEvent(last);
        } catch (RuntimeException e) {
            LOG.log(Level.WARNING, "listener of sequence " + s.id() + " threw", e);
        }
    }

    private void failAll(SpindleException error) {
        for (Runnable c; (c = commands.poll()) != null; ) {
            c.run();
        }
        for (Sequence s : List.copyOf(sequences.values())) {
            finish(s, new TokenEvent.Failed(error, s.stats()));
        }
    }

    private void publishStats() {
        numWaiting = scheduler.numWaiting();
        numRunning = scheduler.numRunning();
        kvTokens = new KvTokens(kvBudget.usedTokens(), prefixes == null ? 0 : prefixes.prefixCacheTokens());
        numCachedSequences = runner.numCachedSequences();
        allocatedBytes = runner.allocatedBytes();
        if (prefixes != null) {
            prefixCacheBytes = prefixes.prefixCacheBytes();
        }
    }

    /** Stops the loop after the current step; every open sequence ends with a Failed event. */
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
