package io.spindle.generation;

import io.smallrye.mutiny.Multi;
import io.smallrye.mutiny.operators.multi.processors.UnicastProcessor;
import io.spindle.engine.SequenceHandle;
import io.spindle.engine.request.ErrorKind;
import io.spindle.engine.request.FinishReason;
import io.spindle.engine.request.SpindleException;
import io.spindle.engine.request.SequenceStats;
import io.spindle.engine.request.TokenEvent;
import io.spindle.sampling.TopLogprobs;
import io.spindle.text.IncrementalDetokenizer;
import io.spindle.text.StopStringMatcher;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.Executor;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * One running generation: turns the engine's token events into {@link GenerationEvent}s (UTF-8-safe
 * text, stop strings), off the engine thread and in order. Cancelling the event stream aborts the
 * sequence in the engine. The stream is for a single subscriber and buffers until it subscribes, and
 * while it does not take events: past {@code maxBufferedEvents} untaken events the client counts as
 * gone (it stopped reading), the sequence is cancelled and the transport's drop action runs.
 */
public final class Generation {
    private final ServedModel model;
    private final int[] promptTokens;
    private final String promptText;
    private final long seed;
    private final UnicastProcessor<GenerationEvent> events = UnicastProcessor.create();
    private final Executor serial;
    private final IncrementalDetokenizer detokenizer;
    private final StopStringMatcher stops;
    private final int minTokens;
    private final long startNanos = System.nanoTime();
    /** When the engine last said something about this generation (a token, or its admission's start). */
    private volatile long lastActivityNanos = startNanos;
    private final Consumer<Ending> onEnd;
    private final int maxBufferedEvents;
    /** Events handed to the stream that its subscriber has not taken yet. */
    private final java.util.concurrent.atomic.AtomicInteger untaken = new java.util.concurrent.atomic.AtomicInteger();
    private volatile Runnable dropConnection = () -> { };
    private volatile SequenceHandle handle;
    private volatile boolean cancelRequested;
    private volatile ScheduledFuture<?> keepAlive;
    /** Set once the stream has ended; read by {@link #attach} to cancel a keep-alive scheduled too late. */
    private volatile boolean finished;
    // Touched only by tasks on `serial`.
    private boolean started;
    private boolean done;
    /** Set when a stop string matched: later tokens are dropped until the engine confirms the abort. */
    private int stoppedAfter = -1;
    private int textOffset;
    private volatile List<GenerationEvent.ScoredToken> promptScores;
    /** The token that ends the generation, held for the {@link GenerationEvent.Done} that carries it. */
    private GenerationEvent.Token lastToken;

    /** How the generation ended, reported once. */
    record Ending(RequestOutcome outcome, GenerationFinish finish) {
    }

    /**
     * @param minTokens stop strings are looked for only from this many generated tokens on (vLLM's
     *                  {@code min_tokens}; the engine holds back the stop tokens as long)
     */
    Generation(ServedModel model, int[] promptTokens, String promptText, long seed, List<String> stopStrings,
               int minTokens, Executor pool, int maxBufferedEvents, Consumer<Ending> onEnd) {
        this.minTokens = minTokens;
        this.onEnd = onEnd;
        this.maxBufferedEvents = maxBufferedEvents;
        this.model = model;
        this.promptTokens = promptTokens;
        this.promptText = promptText;
        this.seed = seed;
        this.serial = new SerialExecutor(pool);
        this.detokenizer = new IncrementalDetokenizer(model.tokenizer());
        this.stops = new StopStringMatcher(stopStrings);
    }

    void attach(SequenceHandle handle, ScheduledExecutorService ticker, Duration keepAliveEvery) {
        this.handle = handle;
        if (cancelRequested) {
            handle.abort();
        }
        if (!keepAliveEvery.isZero()) {
            long ms = keepAliveEvery.toMillis();
            keepAlive = ticker.scheduleAtFixedRate(() -> serial.execute(this::keepAlive), ms, ms, TimeUnit.MILLISECONDS);
            if (finished) {
                stopKeepAlive();
            }
        }
    }

    /** Called on the engine thread: hand off and return. */
    void onEngineEvent(TokenEvent event) {
        lastActivityNanos = System.nanoTime();
        serial.execute(() -> handle(event));
    }

    /** The deadline this generation has passed at {@code now}, or null; a zero duration is no deadline. */
    SpindleException overdue(long now, Duration total, Duration idle) {
        if (!total.isZero() && now - startNanos > total.toNanos()) {
            return new SpindleException(ErrorKind.TIMEOUT, "the request ran past its deadline of " + total.toMillis()
                    + " ms (spindle.api.request-timeout)");
        }
        if (!idle.isZero() && now - lastActivityNanos > idle.toNanos()) {
            return new SpindleException(ErrorKind.TIMEOUT, "no token for " + idle.toMillis()
                    + " ms (spindle.api.idle-timeout)");
        }
        return null;
    }

    /** Ends the stream with {@code error} (an explicit error event) and frees the sequence. */
    void expire(SpindleException error) {
        serial.execute(() -> {
            if (done) {
                return;
            }
            done = true;
            finished = true;
            stopKeepAlive();
            events.onError(error);
            onEnd.accept(new Ending(RequestOutcome.FAILED, null));
        });
        SequenceHandle h = handle;
        if (h != null) {
            h.abort();
        } else {
            cancelRequested = true;
        }
    }

    public ServedModel model() {
        return model;
    }

    public int[] promptTokens() {
        return promptTokens;
    }

    /** The prompt as text (for chat, the rendered template). */
    public String promptText() {
        return promptText;
    }

    public long seed() {
        return seed;
    }

    /** One token's own text (may hold U+FFFD for a partial character); for logprobs displays. */
    public String tokenText(int tokenId) {
        return model.tokenizer().decode(new int[] {tokenId}, 0, 1, false);
    }

    /** The event stream; cancelling it aborts the generation. Subscribe once. */
    public Multi<GenerationEvent> events() {
        return events.onItem().invoke(untaken::decrementAndGet).onCancellation().invoke(this::cancel);
    }

    /** What the transport does to a client that stopped reading: close its connection or stream. */
    public void onSlowReader(Runnable drop) {
        this.dropConnection = drop;
    }

    /** Hands an event to the stream; a client that has let too many pile up is dropped. On {@code serial}. */
    private void emit(GenerationEvent e) {
        events.onNext(e);
        if (untaken.incrementAndGet() > maxBufferedEvents) {
            dropSlowReader();
        }
    }

    private void dropSlowReader() {
        done = true;
        finished = true;
        stopKeepAlive();
        cancel();
        events.onError(new SpindleException(ErrorKind.CANCELLED, "the client did not read the stream: "
                + maxBufferedEvents + " events were waiting (spindle.api.max-buffered-events)"));
        onEnd.accept(new Ending(RequestOutcome.CANCELLED, null));
        dropConnection.run();
    }

    /** Stops the generation; its stream ends with a CANCELLED {@link GenerationEvent.Done} if still open. */
    public void cancel() {
        cancelRequested = true;
        SequenceHandle h = handle;
        if (h != null) {
            h.abort();
        }
    }

    private void keepAlive() {
        if (!started && !done) {
            emit(new GenerationEvent.KeepAlive());
        }
    }

    private void handle(TokenEvent event) {
        if (done) {
            return;
        }
        if (stoppedAfter >= 0) {
            if (event.isEnd()) {
                SequenceStats stats = event instanceof TokenEvent.Finished f ? f.stats() : ((TokenEvent.Failed) event).stats();
                finish(GenerationFinish.STOP_SEQUENCE, stats, "", stoppedAfter);
            }
            return;
        }
        switch (event) {
            case TokenEvent.PromptScores p -> promptScores = score(p);
            case TokenEvent.Token t -> onToken(t);
            case TokenEvent.Finished f -> finish(map(f.reason()), f.stats(), detokenizer.flush(),
                    f.stats().numGeneratedTokens());
            case TokenEvent.Failed f -> {
                done = true;
                finished = true;
                stopKeepAlive();
                events.onError(f.error());
                onEnd.accept(new Ending(RequestOutcome.FAILED, null));
            }
        }
    }

    private void onToken(TokenEvent.Token t) {
        if (!started) {
            started = true;
            stopKeepAlive();
        }
        boolean special = model.tokenizer().isSpecial(t.tokenId());
        String text = special ? "" : detokenizer.next(t.tokenId());
        StopStringMatcher.Match m = t.index() < minTokens ? new StopStringMatcher.Match(text, false) : stops.push(text);
        GenerationEvent.Token token = new GenerationEvent.Token(t.tokenId(), m.text(), t.logprob(), t.index(), special,
                textOffset, alternatives(t.top()));
        textOffset += m.text().length();
        if (t.last() || m.stopped()) {
            lastToken = token;
        } else {
            emit(token);
        }
        if (m.stopped()) {
            stoppedAfter = t.index() + 1;
            stopKeepAlive();
            cancel();
        }
    }

    private List<GenerationEvent.Alternative> alternatives(TopLogprobs top) {
        if (top == null) {
            return null;
        }
        List<GenerationEvent.Alternative> out = new java.util.ArrayList<>(top.size());
        for (int i = 0; i < top.size(); i++) {
            out.add(new GenerationEvent.Alternative(top.tokenIds()[i], tokenText(top.tokenIds()[i]), top.logprobs()[i]));
        }
        return out;
    }

    private List<GenerationEvent.ScoredToken> score(TokenEvent.PromptScores p) {
        List<GenerationEvent.ScoredToken> out = new java.util.ArrayList<>(promptTokens.length);
        for (int i = 0; i < promptTokens.length; i++) {
            out.add(new GenerationEvent.ScoredToken(promptTokens[i], tokenText(promptTokens[i]), p.logprobs()[i],
                    alternatives(p.top()[i])));
        }
        return List.copyOf(out);
    }

    /**
     * The prompt's tokens scored by the model, when the request asked for prompt log-probabilities:
     * set before the first token or the end reaches the stream; null otherwise.
     */
    public List<GenerationEvent.ScoredToken> promptScores() {
        return promptScores;
    }

    private void finish(GenerationFinish reason, SequenceStats stats, String flushed, int generated) {
        done = true;
        finished = true;
        stopKeepAlive();
        String tail = "";
        if (reason != GenerationFinish.STOP_SEQUENCE) {
            StopStringMatcher.Match m = stops.push(flushed);
            tail = m.text() + stops.flush();
            if (m.stopped()) {
                reason = GenerationFinish.STOP_SEQUENCE;
            }
        }
        double totalMs = (System.nanoTime() - startNanos) / 1e6;
        GenerationEvent.Timings timings = new GenerationEvent.Timings(stats.queueNanos() / 1e6,
                stats.firstTokenNanos() / 1e6, totalMs, stats.decodeTokensPerSecond(), stats.numCachedPromptTokens());
        events.onNext(new GenerationEvent.Done(reason, lastToken, tail,
                new GenerationEvent.Usage(promptTokens.length, generated, stats.numCachedPromptTokens()), timings));
        events.onComplete();
        onEnd.accept(reason == GenerationFinish.CANCELLED ? new Ending(RequestOutcome.CANCELLED, null)
                : new Ending(RequestOutcome.FINISHED, reason));
    }

    private static GenerationFinish map(FinishReason r) {
        return switch (r) {
            case STOP_TOKEN -> GenerationFinish.EOS_TOKEN;
            case LENGTH -> GenerationFinish.LENGTH;
            case CANCELLED -> GenerationFinish.CANCELLED;
        };
    }

    private void stopKeepAlive() {
        ScheduledFuture<?> k = keepAlive;
        if (k != null) {
            k.cancel(false);
        }
    }
}
