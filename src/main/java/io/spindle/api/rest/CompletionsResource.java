package io.spindle.api.rest;

import io.smallrye.mutiny.Multi;
import io.spindle.api.dto.CompletionRequest;
import io.spindle.api.dto.CompletionResponse;
import io.spindle.api.error.ApiDialect;
import io.spindle.generation.Generation;
import io.spindle.generation.GenerationEvent;
import io.spindle.generation.GenerationRequest;
import io.spindle.generation.GenerationService;
import io.spindle.api.dto.OpenAiUsage;
import jakarta.inject.Inject;
import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.Context;
import jakarta.ws.rs.core.MediaType;
import io.vertx.core.http.HttpServerRequest;

import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** OpenAI-compatible {@code POST /v1/completions}, streaming (SSE) and not. */
@Path("/v1/completions")
public class CompletionsResource {
    @Inject
    GenerationService service;

    @POST
    @Consumes(MediaType.WILDCARD)
    @Produces(MediaType.TEXT_PLAIN)
    public Multi<String> create(String body, @Context HttpServerRequest request) {
        CompletionRequest req = Json.read(body, CompletionRequest.class, UnsupportedFields.OPENAI);
        List<GenerationRequest> prompts = OpenAiMapping.completion(req);
        boolean stream = Boolean.TRUE.equals(req.stream());
        List<Generation> gens = new ArrayList<>();
        try {
            for (GenerationRequest gr : prompts) {
                gens.addAll(service.startAll(gr, HttpReply.transport(req.stream())));
            }
        } catch (RuntimeException e) {
            Choices.cancelAll(gens);
            throw e;
        }
        gens.forEach(g -> HttpReply.dropOnSlowReader(g, request));
        int n = req.n() == null ? 1 : req.n();
        int samples = gens.size() / prompts.size();
        Response r = new Response(OpenAiMapping.newId("cmpl-"), Instant.now().getEpochSecond(), gens.getFirst().model().id(),
                OpenAiMapping.echo(req), Boolean.TRUE.equals(req.returnTokenIds()), req.logprobs() != null,
                req.logprobs() == null ? 0 : req.logprobs());
        boolean usage = req.streamOptions() != null && Boolean.TRUE.equals(req.streamOptions().includeUsage());
        return Choices.reply(ApiDialect.OPENAI, gens, stream, () -> r.stream(gens, usage),
                events -> r.whole(gens, events, samples, n));
    }

    /**
     * Builds chunks and whole responses for one request. Legacy completions logprobs: {@code tokens},
     * {@code token_logprobs}, {@code top_logprobs} (with {@code logprobs} N ≥ 1: the N most likely
     * tokens at each position and the chosen one, by text) and {@code text_offset}; with {@code echo}
     * the prompt's tokens come first, the first one's log-probability null. Choices are numbered
     * prompt by prompt, sample by sample.
     */
    private record Response(String id, long created, String model, boolean echo, boolean tokenIds, boolean logprobs,
                            int top) {

        Multi<String> stream(List<Generation> gens, boolean includeUsage) {
            GenerationEvent.Done[] ends = new GenerationEvent.Done[gens.size()];
            List<Multi<String>> choices = new ArrayList<>(gens.size());
            for (int i = 0; i < gens.size(); i++) {
                choices.add(new Choice(this, gens.get(i), i).stream(ends));
            }
            return Choices.stream(ApiDialect.OPENAI, choices, () -> {
                List<String> tail = new ArrayList<>(2);
                if (includeUsage) {
                    tail.add(HttpReply.data(new CompletionResponse(id, "text_completion", created, model, List.of(),
                            usage(gens, ends), null)));
                }
                tail.add(HttpReply.DONE);
                return tail;
            });
        }

        /** The prompts count once each (not once per sample); every sample's tokens count. */
        private static OpenAiUsage usage(List<Generation> gens, GenerationEvent.Done[] ends) {
            int prompt = 0;
            int completion = 0;
            int cached = 0;
            for (int i = 0; i < ends.length; i++) {
                if (ends[i] != null) {
                    completion += ends[i].usage().completionTokens();
                }
                if (i == 0 || gens.get(i).promptTokens() != gens.get(i - 1).promptTokens()) {
                    prompt += gens.get(i).promptTokens().length;
                    cached += ends[i] == null ? 0 : ends[i].usage().cachedPromptTokens();
                }
            }
            return new OpenAiUsage(prompt, completion, cached);
        }

        HttpReply whole(List<Generation> gens, List<List<GenerationEvent>> events, int samples, int n) {
            List<CompletionResponse.Choice> choices = new ArrayList<>();
            GenerationEvent.Done[] ends = new GenerationEvent.Done[gens.size()];
            for (int p = 0; p < gens.size() / samples; p++) {
                List<Integer> order = new ArrayList<>();
                for (int i = 0; i < samples; i++) {
                    order.add(p * samples + i);
                    ends[p * samples + i] = Shapes.done(events.get(p * samples + i));
                }
                if (samples > n) {
                    // best_of: the n samples with the highest cumulative log-probability, best first.
                    order.sort(java.util.Comparator.comparingDouble((Integer i) -> -cumulative(events.get(i))));
                }
                for (int k = 0; k < n; k++) {
                    int i = order.get(k);
                    choices.add(new Choice(this, gens.get(i), choices.size()).whole(events.get(i)));
                }
            }
            GenerationEvent.Done first = ends[0];
            return HttpReply.json(new CompletionResponse(id, "text_completion", created, model, choices,
                    usage(gens, ends), OpenAiMapping.timings(first.timings())));
        }

        private static double cumulative(List<GenerationEvent> events) {
            double sum = 0;
            for (GenerationEvent.Token t : Shapes.tokens(events)) {
                sum += t.logprob();
            }
            return sum;
        }
    }

    /** One choice: one sample of one prompt, with its index in the response. */
    private record Choice(Response r, Generation gen, int index) {

        Multi<String> stream(GenerationEvent.Done[] ends) {
            StreamState state = new StreamState();
            return gen.events().onItem().transformToIterable(ev -> switch (ev) {
                // One choice's keep-alives are enough for the connection.
                case GenerationEvent.KeepAlive k -> index == 0 ? List.of(HttpReply.KEEP_ALIVE) : List.<String>of();
                case GenerationEvent.Token t -> withEcho(state, List.of(frame(state, t.text(), t, null, null)));
                case GenerationEvent.Done d -> {
                    ends[index] = d;
                    yield withEcho(state, List.of(frame(state, d.text(), d.lastToken(), OpenAiMapping.finishReason(d.finish()), d)));
                }
            });
        }

        /**
         * The echoed prompt goes out with the first token (or the end): by then its scores, when asked
         * for, have arrived (the engine reports them before the first token).
         */
        private List<String> withEcho(StreamState state, List<String> frames) {
            if (!r.echo() || state.echoed) {
                return frames;
            }
            state.echoed = true;
            Logprobs lp = new Logprobs();
            if (r.logprobs()) {
                lp.addPrompt(gen, r.top());
                state.generatedOffset = lp.offset;
            }
            int[] promptIds = r.tokenIds() ? gen.promptTokens() : null;
            state.sentPromptIds |= promptIds != null;
            CompletionResponse.Choice c = new CompletionResponse.Choice(gen.promptText(), index,
                    r.logprobs() ? lp.build() : null, null, promptIds, r.tokenIds() ? new int[0] : null);
            List<String> out = new ArrayList<>(frames.size() + 1);
            out.add(HttpReply.data(new CompletionResponse(r.id(), "text_completion", r.created(), r.model(), List.of(c),
                    null, null)));
            out.addAll(frames);
            return out;
        }

        private String frame(StreamState state, String text, GenerationEvent.Token t, String finish,
                             GenerationEvent.Done done) {
            int[] promptIds = r.tokenIds() && !state.sentPromptIds ? gen.promptTokens() : null;
            state.sentPromptIds |= promptIds != null;
            int[] ids = r.tokenIds() ? (t == null ? new int[0] : new int[] {t.tokenId()}) : null;
            CompletionResponse.Logprobs lp = null;
            if (r.logprobs() && t != null) {
                Logprobs l = new Logprobs();
                l.offset = state.generatedOffset;
                l.addGenerated(gen, t, r.top());
                lp = l.build();
                state.generatedOffset = l.offset;
            }
            CompletionResponse.Choice c = new CompletionResponse.Choice(text, index, lp, finish, promptIds, ids);
            return HttpReply.data(new CompletionResponse(r.id(), "text_completion", r.created(), r.model(), List.of(c), null,
                    done == null ? null : OpenAiMapping.timings(done.timings())));
        }

        CompletionResponse.Choice whole(List<GenerationEvent> events) {
            StringBuilder text = new StringBuilder(r.echo() ? gen.promptText() : "");
            List<Integer> ids = new ArrayList<>();
            Logprobs lp = new Logprobs();
            if (r.echo() && r.logprobs()) {
                lp.addPrompt(gen, r.top());
            }
            GenerationEvent.Done done = Shapes.done(events);
            for (GenerationEvent.Token t : Shapes.tokens(events)) {
                if (r.logprobs()) {
                    lp.addGenerated(gen, t, r.top());
                }
                text.append(t.text());
                ids.add(t.tokenId());
            }
            text.append(done.tailText());
            return new CompletionResponse.Choice(text.toString(), index, r.logprobs() ? lp.build() : null,
                    OpenAiMapping.finishReason(done.finish()), r.tokenIds() ? gen.promptTokens() : null,
                    r.tokenIds() ? ids.stream().mapToInt(Integer::intValue).toArray() : null);
        }
    }

    /**
     * Accumulates the four parallel lists of legacy completions logprobs. {@code text_offset} counts
     * the tokens' own texts, so it does not move while a possible stop string holds text back (the
     * text arrives later, the token's offset is where it starts all the same).
     */
    private static final class Logprobs {
        final List<String> tokens = new ArrayList<>();
        final List<Float> values = new ArrayList<>();
        final List<Object> tops = new ArrayList<>();
        final List<Integer> offsets = new ArrayList<>();
        int offset;

        void addPrompt(Generation gen, int top) {
            List<GenerationEvent.ScoredToken> scores = gen.promptScores();
            if (scores == null) {
                return;
            }
            for (GenerationEvent.ScoredToken s : scores) {
                boolean first = Float.isNaN(s.logprob());
                add(s.text(), first ? null : s.logprob(), first || top == 0 ? null : dict(s.top(), s.text(), s.logprob()));
            }
        }

        void addGenerated(Generation gen, GenerationEvent.Token t, int top) {
            String text = gen.tokenText(t.tokenId());
            add(text, t.logprob(), top == 0 ? null : dict(t.top(), text, t.logprob()));
        }

        private void add(String token, Float logprob, Map<String, Float> top) {
            tokens.add(token);
            values.add(logprob);
            tops.add(top);
            offsets.add(offset);
            offset += token.length();
        }

        /** The alternatives by text, plus the token itself, as vLLM and OpenAI's legacy API return them. */
        private static Map<String, Float> dict(List<GenerationEvent.Alternative> top, String token, float logprob) {
            Map<String, Float> m = new LinkedHashMap<>();
            if (top != null) {
                for (GenerationEvent.Alternative a : top) {
                    m.putIfAbsent(a.text(), a.logprob());
                }
            }
            m.putIfAbsent(token, logprob);
            return m;
        }

        CompletionResponse.Logprobs build() {
            boolean anyTop = tops.stream().anyMatch(java.util.Objects::nonNull);
            return new CompletionResponse.Logprobs(tokens, values, anyTop ? tops : null, offsets);
        }
    }

    private static final class StreamState {
        boolean sentPromptIds;
        boolean echoed;
        int generatedOffset;
    }
}
