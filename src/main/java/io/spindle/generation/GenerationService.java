package io.spindle.generation;

import io.spindle.engine.EngineClient;
import io.spindle.engine.SequenceHandle;
import io.spindle.engine.request.EngineRequest;
import io.spindle.engine.request.SpindleException;
import io.spindle.sampling.InvalidSamplingParameterException;
import io.spindle.sampling.LogitBias;
import io.spindle.sampling.Logprobs;
import io.spindle.sampling.SamplingParams;
import io.spindle.sampling.constraint.CompiledConstraint;
import io.spindle.sampling.constraint.ConstraintCompiler;
import io.spindle.sampling.constraint.ConstraintException;
import io.spindle.text.ChatTemplate;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.Executor;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The generation use case: validate, tokenize (or render the chat template), submit to the model's
 * engine, and hand back a {@link Generation} whose events are text. Every rejection is a
 * {@link SpindleException} thrown before anything is queued, so transports can answer with a plain
 * 4xx instead of a stream. Thread-safe.
 */
public final class GenerationService {
    /** How many stop strings a request may carry, and how long each may be. */
    public static final int MAX_STOP_STRINGS = 16;
    static final int MAX_STOP_LENGTH = 256;
    /** A draining replica is about to go; a client should retry soon, elsewhere. */
    static final int DRAINING_RETRY_AFTER_SECONDS = 1;

    private final ModelRegistry registry;
    private final Executor textPool;
    private final ScheduledExecutorService ticker;
    private final Duration keepAliveEvery;
    private final RequestObserver observer;
    private final Duration totalTimeout;
    private final Duration idleTimeout;
    private final int maxBufferedEvents;
    /** Generations with a deadline to watch; empty when no timeout is configured. */
    private final java.util.Set<Generation> watched = java.util.concurrent.ConcurrentHashMap.newKeySet();
    /** Generations started and not yet ended (their last event handed to the transport). */
    private final AtomicInteger inFlight = new AtomicInteger();
    private volatile boolean draining;

    public GenerationService(ModelRegistry registry, Executor textPool, ScheduledExecutorService ticker,
                             RequestObserver observer, GenerationLimits limits) {
        this.registry = registry;
        this.textPool = textPool;
        this.ticker = ticker;
        this.keepAliveEvery = limits.keepAliveEvery();
        this.observer = observer;
        this.totalTimeout = limits.totalTimeout();
        this.idleTimeout = limits.idleTimeout();
        this.maxBufferedEvents = limits.maxBufferedEvents();
        if (!totalTimeout.isZero() || !idleTimeout.isZero()) {
            // One sweep for all generations rather than a timer per request (or per token).
            ticker.scheduleAtFixedRate(this::expireOverdue, 100, 100, TimeUnit.MILLISECONDS);
        }
    }

    private void expireOverdue() {
        long now = System.nanoTime();
        for (Generation g : watched) {
            SpindleException e = g.overdue(now, totalTimeout, idleTimeout);
            if (e != null) {
                watched.remove(g);
                g.expire(e);
            }
        }
    }

    public ModelRegistry models() {
        return registry;
    }

    /** From now on every new request is refused with UNAVAILABLE; running ones go on. */
    public void drain() {
        draining = true;
    }

    public boolean isDraining() {
        return draining;
    }

    /** Generations whose stream has not yet ended. */
    public int inFlight() {
        return inFlight.get();
    }

    /**
     * Validates and queues a request; throws {@link SpindleException} (and counts the request as
     * rejected) when it cannot be served.
     */
    public Generation start(GenerationRequest req, Transport transport) {
        return startAll(req, transport).getFirst();
    }

    /**
     * As {@link #start}, for {@code options().samples()} samples of one prompt that share its prefill:
     * one {@link Generation} per sample, sample i seeded with the request's seed + i (so that a single
     * request with that seed reproduces it). Counted as one request, ended when every sample has.
     */
    public List<Generation> startAll(GenerationRequest req, Transport transport) {
        try {
            return submit(req, transport);
        } catch (SpindleException e) {
            observer.requestEnded(registry.isServed(req.model()) ? req.model() : null, transport,
                    RequestOutcome.REJECTED, null);
            throw e;
        }
    }

    private List<Generation> submit(GenerationRequest req, Transport transport) {
        if (draining) {
            throw SpindleException.unavailable("the server is shutting down; retry on another replica",
                    DRAINING_RETRY_AFTER_SECONDS);
        }
        ServedModel model = registry.require(req.model());
        EngineClient engine = model.requireGenerator("this endpoint");
        GenerationOptions options = req.options();
        Tokenized tokenized = truncate(model, tokenize(model, req.prompt()), options.truncate());
        int[] prompt = tokenized.ids();
        String promptText = tokenized.text();
        checkLogprobs(model, req);
        int context = model.contextLength();
        boolean seq2seq = model.card().encoderDecoder();
        if (seq2seq ? prompt.length > context : prompt.length >= context) {
            throw SpindleException.invalid("prompt", "the prompt has " + prompt.length + " tokens; the model's "
                    + (seq2seq ? "input limit" : "context length") + " is " + context + " tokens");
        }
        // An encoder-decoder's output is a sequence of its own, as long as the context at most.
        int maxNew = req.maxNewTokens() == null ? context - (seq2seq ? 0 : prompt.length) : req.maxNewTokens();
        boolean scoreOnly = maxNew == 0 && options.promptLogprobs();
        if (maxNew < 1 && !scoreOnly) {
            throw SpindleException.invalid("max_tokens", "max_tokens must be >= 1 (0 only to score an echoed prompt "
                    + "with logprobs)");
        }
        if (options.minTokens() < 0 || options.minTokens() > maxNew) {
            throw SpindleException.invalid("min_tokens", "min_tokens must be in [0, max_tokens = " + maxNew + "]");
        }
        if (seq2seq && maxNew > context) {
            throw SpindleException.invalid("max_tokens", "max_tokens is " + maxNew + "; model '" + model.id()
                    + "' generates at most " + context + " tokens");
        }
        List<String> stop = req.stop() == null ? List.of() : req.stop();
        checkStops(stop);
        // A drawn seed stays below 2^53, so that JavaScript clients read back the exact number.
        long seed = req.seed() != null ? req.seed() : ThreadLocalRandom.current().nextLong(1L << 53);
        SamplingParams sampling = sampling(req, seed, logitBias(model, req.logitBias()));
        int[] stopIds = stopTokenIds(model, req);

        int samples = options.samples();
        if (samples < 1) {
            throw SpindleException.invalid("n", "n must be >= 1");
        }
        int numLogprobs = req.logprobs() ? options.topLogprobs() : options.scoreSamples() ? 0 : -1;
        CompiledConstraint constraint = compile(model, options.constraint());
        RequestEnd end = new RequestEnd(model.id(), transport, samples);
        List<Generation> gens = new java.util.ArrayList<>(samples);
        List<EngineRequest> ers = new java.util.ArrayList<>(samples);
        for (int i = 0; i < samples; i++) {
            Generation[] self = new Generation[1];
            Generation gen = new Generation(model, prompt, promptText, seed + i, stop, options.minTokens(), textPool,
                    maxBufferedEvents,
                    ending -> {
                        watched.remove(self[0]);
                        inFlight.decrementAndGet();
                        end.ended(ending);
                    });
            self[0] = gen;
            gens.add(gen);
            SamplingParams s = i == 0 ? sampling : sampling(req, seed + i, sampling.logitBias());
            ers.add(new EngineRequest(req.model(), prompt, s, maxNew, stopIds, numLogprobs, options.promptLogprobs(),
                    options.minTokens(), constraint));
        }
        inFlight.addAndGet(samples);
        if (!totalTimeout.isZero() || !idleTimeout.isZero()) {
            watched.addAll(gens);
        }
        List<SequenceHandle> handles;
        try {
            List<io.spindle.engine.request.TokenListener> listeners = gens.stream()
                    .map(g -> (io.spindle.engine.request.TokenListener) g::onEngineEvent).toList();
            handles = samples == 1 ? List.of(engine.submit(ers.getFirst(), listeners.getFirst()))
                    : engine.submitGroup(ers, listeners);
        } catch (RuntimeException e) {
            inFlight.addAndGet(-samples);
            gens.forEach(watched::remove);
            throw e;
        }
        for (int i = 0; i < samples; i++) {
            gens.get(i).attach(handles.get(i), ticker, keepAliveEvery);
        }
        return gens;
    }

    /** Reports a request once, when the last of its samples has ended, with the first sample's outcome. */
    private final class RequestEnd {
        private final String model;
        private final Transport transport;
        private final AtomicInteger remaining;
        private volatile Generation.Ending first;

        RequestEnd(String model, Transport transport, int samples) {
            this.model = model;
            this.transport = transport;
            this.remaining = new AtomicInteger(samples);
        }

        void ended(Generation.Ending ending) {
            if (first == null) {
                first = ending;
            }
            if (remaining.decrementAndGet() == 0) {
                observer.requestEnded(model, transport, first.outcome(), first.finish());
            }
        }
    }

    /** A prompt as the model reads it: token ids, and the text they stand for. */
    public record Tokenized(int[] ids, String text) {
    }

    /**
     * Tokenizes a prompt exactly as a generation request would (chat template, special tokens, the
     * vocabulary checks), for {@code /tokenize} and for generation itself.
     */
    public Tokenized tokenize(ServedModel model, Prompt p) {
        String promptText;
        int[] prompt;
        switch (p) {
            case Prompt.Text t -> {
                if (t.text() == null || t.text().isEmpty()) {
                    throw SpindleException.invalid("prompt", "the prompt is empty");
                }
                promptText = t.text();
                prompt = encodePrompt(model, promptText);
            }
            case Prompt.Tokens t -> {
                prompt = t.ids();
                checkTokenIds(model, prompt);
                promptText = model.tokenizer().decode(prompt);
            }
            case Prompt.Chat c -> {
                if (c.messages() == null || c.messages().isEmpty()) {
                    throw SpindleException.invalid("messages", "'messages' must hold at least one message");
                }
                model.requireChat();
                promptText = renderChat(model.chatTemplate(), c);
                prompt = encodePrompt(model, promptText);
            }
        }
        if (prompt.length == 0) {
            throw SpindleException.invalid("prompt", "the prompt is empty after tokenization");
        }
        if (!(p instanceof Prompt.Tokens)) {
            checkTokenizerFitsGraph(model, prompt);
        }
        return new Tokenized(prompt, promptText);
    }

    /** An encoder-decoder's source ends as its tokenizer's post-processor says (T5: with {@code </s>}). */
    private static int[] encodePrompt(ServedModel model, String text) {
        return model.tokenizer().encode(text, model.card().encoderDecoder());
    }

    private static String renderChat(ChatTemplate template, Prompt.Chat chat) {
        try {
            return template.render(chat.messages(), chat.tools(), true);
        } catch (ChatTemplate.TemplateException e) {
            throw SpindleException.invalid("messages", e.getMessage());
        }
    }

    private static void checkTokenIds(ServedModel model, int[] ids) {
        if (ids.length == 0) {
            throw SpindleException.invalid("prompt", "the prompt is empty");
        }
        int vocab = model.card().vocabSize();
        for (int id : ids) {
            if (id < 0 || id >= vocab) {
                throw SpindleException.invalid("prompt", "token id " + id + " is outside the vocabulary [0, " + vocab + ")");
            }
        }
    }

    /** TGI's {@code truncate}: keep the prompt's last {@code keep} tokens (null keeps all). */
    private static Tokenized truncate(ServedModel model, Tokenized t, Integer keep) {
        if (keep == null) {
            return t;
        }
        if (keep < 1) {
            throw SpindleException.invalid("truncate", "truncate must be >= 1");
        }
        if (t.ids().length <= keep) {
            return t;
        }
        int[] kept = java.util.Arrays.copyOfRange(t.ids(), t.ids().length - keep, t.ids().length);
        return new Tokenized(kept, model.tokenizer().decode(kept, 0, kept.length, false));
    }

    /** One compiler for every model: compiled constraints are cached by (constraint, vocabulary). */
    private final ConstraintCompiler constraints = new ConstraintCompiler();

    /**
     * The request's output constraint compiled against the model's vocabulary, before anything is
     * queued: a constraint that is invalid or unsupported is a 400 naming its field.
     */
    private CompiledConstraint compile(ServedModel model, OutputConstraint c) {
        if (c == null) {
            return null;
        }
        if (model.vocabulary() == null) {
            throw SpindleException.invalid(c.field(), "model '" + model.id() + "' (" + model.card().family()
                    + ") cannot constrain its output yet; " + c.field() + " works with GPT-2-family models");
        }
        try {
            return constraints.compile(c.spec(), model.vocabulary());
        } catch (ConstraintException e) {
            throw SpindleException.invalid(c.field(), c.field() + ": " + e.getMessage());
        }
    }

    private static void checkLogprobs(ServedModel model, GenerationRequest req) {
        GenerationOptions o = req.options();
        if (o.topLogprobs() < 0 || o.topLogprobs() > Logprobs.MAX_TOP) {
            throw SpindleException.invalid("top_logprobs", "the number of top log-probabilities must be in [0, "
                    + Logprobs.MAX_TOP + "]");
        }
        if ((o.topLogprobs() > 0 || o.promptLogprobs()) && !req.logprobs()) {
            throw SpindleException.invalid("logprobs", "top or prompt log-probabilities need logprobs on");
        }
        if (o.promptLogprobs() && model.card().encoderDecoder()) {
            throw SpindleException.invalid("echo", "model '" + model.id() + "' is an encoder-decoder: its prompt is a "
                    + "source for the encoder, not text the model predicts, so it has no log-probabilities");
        }
    }

    /**
     * A tokenizer may know more tokens than the graph's vocabulary (onnxruntime-genai's tiny GPT-2
     * pairs a 1,000-token graph with GPT-2's tokenizer); such a prompt is the client's to change.
     */
    private static void checkTokenizerFitsGraph(ServedModel model, int[] ids) {
        int vocab = model.card().vocabSize();
        for (int id : ids) {
            if (id < 0 || id >= vocab) {
                throw SpindleException.invalid("prompt", "the prompt's token " + id + " ('"
                        + model.tokenizer().decode(new int[] {id}) + "') is outside the vocabulary of model '"
                        + model.id() + "', [0, " + vocab + "): its tokenizer knows more tokens than its graph");
            }
        }
    }

    private static void checkStops(List<String> stop) {
        if (stop.size() > MAX_STOP_STRINGS) {
            throw SpindleException.invalid("stop", "at most " + MAX_STOP_STRINGS + " stop strings are allowed");
        }
        for (String s : stop) {
            if (s == null || s.isEmpty() || s.length() > MAX_STOP_LENGTH) {
                throw SpindleException.invalid("stop", "stop strings must be 1 to " + MAX_STOP_LENGTH + " characters");
            }
        }
    }

    private static LogitBias logitBias(ServedModel model, java.util.Map<Integer, Double> bias) {
        if (bias == null || bias.isEmpty()) {
            return LogitBias.NONE;
        }
        if (bias.size() > LogitBias.MAX_ENTRIES) {
            throw SpindleException.invalid("logit_bias", "logit_bias may hold at most " + LogitBias.MAX_ENTRIES
                    + " tokens; it has " + bias.size());
        }
        int[] ids = new int[bias.size()];
        float[] values = new float[bias.size()];
        int i = 0;
        for (java.util.Map.Entry<Integer, Double> e : bias.entrySet()) {
            if (e.getKey() < 0 || e.getKey() >= model.card().vocabSize()) {
                throw SpindleException.invalid("logit_bias", "logit_bias token id " + e.getKey()
                        + " is outside the vocabulary [0, " + model.card().vocabSize() + ")");
            }
            ids[i] = e.getKey();
            values[i++] = e.getValue() == null ? Float.NaN : e.getValue().floatValue();
        }
        try {
            return new LogitBias(ids, values);
        } catch (InvalidSamplingParameterException e) {
            throw SpindleException.invalid(e.param(), e.getMessage());
        }
    }

    private static SamplingParams sampling(GenerationRequest r, long seed, LogitBias bias) {
        try {
            return new SamplingParams(
                    r.temperature() == null ? 1.0 : r.temperature(),
                    // vLLM's -1 (and 0) mean no top-k.
                    r.topK() == null || r.topK() == -1 ? 0 : r.topK(),
                    r.topP() == null ? 1.0 : r.topP(),
                    r.repetitionPenalty() == null ? 1.0 : r.repetitionPenalty(),
                    r.presencePenalty() == null ? 0 : r.presencePenalty(),
                    r.frequencyPenalty() == null ? 0 : r.frequencyPenalty(),
                    seed, bias, r.options().minP(), r.options().typicalP());
        } catch (InvalidSamplingParameterException e) {
            throw SpindleException.invalid(e.param(), e.getMessage());
        }
    }

    private static int[] stopTokenIds(ServedModel model, GenerationRequest r) {
        int[] eos = r.ignoreEos() ? new int[0] : model.eosTokenIds();
        List<Integer> extra = r.stopTokenIds() == null ? List.of() : r.stopTokenIds();
        int[] all = java.util.Arrays.copyOf(eos, eos.length + extra.size());
        for (int i = 0; i < extra.size(); i++) {
            Integer id = extra.get(i);
            if (id == null || id < 0 || id >= model.card().vocabSize()) {
                throw SpindleException.invalid("stop_token_ids", "stop token id " + id + " is outside the vocabulary");
            }
            all[eos.length + i] = id;
        }
        return all;
    }
}
