package io.spindle.engine.request;

import io.spindle.sampling.Sampler;

import java.util.Arrays;

/**
 * The engine's state for one request: its tokens (prompt then generated), how many of them are in
 * the KV cache, its sampler and timings.
 * Confined to the engine thread.
 */
public final class Sequence {
    private final long id;
    private final EngineRequest request;
    private final TokenListener listener;
    private final Sampler sampler;
    private final long arrivalNanos;
    private int[] tokens;
    private int numTokens;
    private int numComputed;
    private long admittedNanos;
    private long firstTokenNanos;
    private long lastTokenNanos;

    public Sequence(long id, EngineRequest request, TokenListener listener, long arrivalNanos) {
        this.id = id;
        this.request = request;
        this.listener = listener;
        this.arrivalNanos = arrivalNanos;
        int[] prompt = request.promptTokens();
        this.tokens = Arrays.copyOf(prompt, prompt.length + Math.min(request.maxNewTokens(), 256));
        this.numTokens = prompt.length;
        this.sampler = new Sampler(request.sampling(), prompt);
        this.constraint = request.constraint() == null ? null : request.constraint().start();
    }

    private final io.spindle.sampling.constraint.ConstraintState constraint;

    /** Where this sequence's output stands in its request's constraint; null when unconstrained. */
    public io.spindle.sampling.constraint.ConstraintState constraint() {
        return constraint;
    }

    public long id() {
        return id;
    }

    // n samples of one prompt: the parent prefills, its forks start from a copy of its cache.
    private java.util.List<Sequence> forks = java.util.List.of();
    private Sequence forkedFrom;

    public void addFork(Sequence child) {
        if (forks.isEmpty()) {
            forks = new java.util.ArrayList<>();
        }
        forks.add(child);
        child.forkedFrom = this;
    }

    /** The samples that start from this sequence's prompt cache; empty for most. */
    public java.util.List<Sequence> forks() {
        return forks;
    }

    /** True while this sequence waits for its parent's prefill to copy the prompt's cache. */
    public boolean awaitingFork() {
        return forkedFrom != null && numComputed == 0;
    }

    public EngineRequest request() {
        return request;
    }

    public TokenListener listener() {
        return listener;
    }

    public Sampler sampler() {
        return sampler;
    }

    /** The token array; entries past {@link #numTokens()} are unused capacity. */
    public int[] tokens() {
        return tokens;
    }

    public int numTokens() {
        return numTokens;
    }

    public int numPromptTokens() {
        return request.promptTokens().length;
    }

    public int numGenerated() {
        return numTokens - numPromptTokens();
    }

    /** Tokens whose keys and values are in the KV cache. */
    public int numComputed() {
        return numComputed;
    }

    public int numUncomputed() {
        return numTokens - numComputed;
    }

    public boolean isPrefilling() {
        return numComputed < numPromptTokens();
    }

    /** Worst-case cache footprint, reserved at admission. */
    public int maxTotalTokens() {
        return numPromptTokens() + request.maxNewTokens();
    }

    public void markComputed(int count) {
        numComputed += count;
    }

    public long arrivalNanos() {
        return arrivalNanos;
    }

    /** When the latest token was generated; 0 before the first. */
    public long lastTokenNanos() {
        return lastTokenNanos;
    }

    public boolean wasAdmitted() {
        return admittedNanos != 0;
    }

    public void markAdmitted(long nanos) {
        admittedNanos = nanos;
    }

    public void append(int tokenId, long nanos) {
        if (numTokens == tokens.length) {
            tokens = Arrays.copyOf(tokens, Math.min(tokens.length * 2, maxTotalTokens()));
        }
        tokens[numTokens++] = tokenId;
        sampler.accept(tokenId);
        if (firstTokenNanos == 0) {
            firstTokenNanos = nanos;
        }
        lastTokenNanos = nanos;
    }

    // Prompt log-probabilities, filled chunk by chunk during prefill when the request asks for them.
    private float[] promptLogprobs;
    private io.spindle.sampling.TopLogprobs[] promptTop;

    /** Records prompt token {@code index}'s log-probability (and its position's alternatives, or null). */
    public void scorePromptToken(int index, float logprob, io.spindle.sampling.TopLogprobs top) {
        if (promptLogprobs == null) {
            promptLogprobs = new float[numPromptTokens()];
            promptLogprobs[0] = Float.NaN;
            promptTop = new io.spindle.sampling.TopLogprobs[numPromptTokens()];
        }
        promptLogprobs[index] = logprob;
        promptTop[index] = top;
    }

    /** The prompt's scores once every prompt token was fed. */
    public TokenEvent.PromptScores promptScores() {
        if (promptLogprobs == null) {
            // A one-token prompt has nothing to score but its first token.
            scorePromptToken(0, Float.NaN, null);
        }
        return new TokenEvent.PromptScores(promptLogprobs, promptTop);
    }

    private int numCachedPromptTokens;

    /** The first {@code n} prompt tokens' cache was restored from cached prefixes: they count as computed. */
    public void restoredFromCache(int n) {
        markComputed(n);
        numCachedPromptTokens = n;
    }

    /** Prompt tokens whose cache came from cached prefixes instead of being computed. */
    public int numCachedPromptTokens() {
        return numCachedPromptTokens;
    }

    public SequenceStats stats() {
        long queue = admittedNanos == 0 ? 0 : admittedNanos - arrivalNanos;
        long ttft = firstTokenNanos == 0 ? 0 : firstTokenNanos - arrivalNanos;
        long decode = firstTokenNanos == 0 ? 0 : lastTokenNanos - firstTokenNanos;
        return new SequenceStats(numPromptTokens(), numGenerated(), queue, ttft, decode, numCachedPromptTokens);
    }
}
