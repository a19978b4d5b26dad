package io.spindle.api.rest;

import io.smallrye.mutiny.Multi;
import io.spindle.api.dto.CompletionRequest;
import io.spindle.api.dto.CompletionResponse;
import io.spindle.api.error.ApiDialect;
import io.spindle.generation.Generation;
import io.spindle.generation.GenerationEvent;
import io.spindle.generation.GenerationService;
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
        Generation gen = service.start(OpenAiMapping.completion(req), HttpReply.transport(req.stream()));
        HttpReply.dropOnSlowReader(gen, request);
        Shape shape = new Shape(OpenAiMapping.newId("cmpl-"), Instant.now().getEpochSecond(), gen.model().id(), gen,
                Boolean.TRUE.equals(req.echo()), Boolean.TRUE.equals(req.returnTokenIds()), req.logprobs() != null,
                req.logprobs() == null ? 0 : req.logprobs());
        boolean usage = req.streamOptions() != null && Boolean.TRUE.equals(req.streamOptions().includeUsage());
        return HttpReply.of(ApiDialect.OPENAI, gen, Boolean.TRUE.equals(req.stream()), () -> shape.stream(usage),
                shape::whole);
    }

    /**
     * Builds chunks and whole responses for one request. Legacy completions logprobs: {@code tokens},
     * {@code token_logprobs}, {@code top_logprobs} (with {@code logprobs} N ≥ 1: the N most likely
     * tokens at each position and the chosen one, by text) and {@code text_offset}; with {@code echo}
     * the prompt's tokens come first, the first one's log-probability null.
     */
    private record Shape(String id, long created, String model, Generation gen, boolean echo, boolean tokenIds,
                         boolean logprobs, int top) {

        Multi<String> stream(boolean includeUsage) {
            StreamState state = new StreamState();
            state.generatedOffset = echo ? gen.promptText().length() : 0;
            Multi<String> body = gen.events().onItem().transformToIterable(ev -> switch (ev) {
                case GenerationEvent.KeepAlive k -> List.of(HttpReply.KEEP_ALIVE);
                case GenerationEvent.Token t -> withEcho(state, List.of(frame(state, t.text(), t, null, null)));
                case GenerationEvent.Done d -> withEcho(state, finalFrames(state, d, includeUsage));
            });
            return body.onFailure().recoverWithMulti(t -> Multi.createFrom().items(
                    HttpReply.errorFrame(ApiDialect.OPENAI, t), HttpReply.DONE));
        }

        /**
         * The echoed prompt goes out with the first token (or the end): by then its scores, when asked
         * for, have arrived (the engine reports them before the first token).
         */
        private List<String> withEcho(StreamState state, List<String> frames) {
            if (!echo || state.echoed) {
                return frames;
            }
            state.echoed = true;
            Logprobs lp = new Logprobs();
            if (logprobs) {
                lp.addPrompt(gen, top);
            }
            int[] promptIds = tokenIds ? gen.promptTokens() : null;
            state.sentPromptIds |= promptIds != null;
            CompletionResponse.Choice c = new CompletionResponse.Choice(gen.promptText(), 0, logprobs ? lp.build() : null,
                    null, promptIds, tokenIds ? new int[0] : null);
            List<String> out = new ArrayList<>(frames.size() + 1);
            out.add(HttpReply.data(new CompletionResponse(id, "text_completion", created, model, List.of(c), null, null)));
            out.addAll(frames);
            return out;
        }

        private List<String> finalFrames(StreamState state, GenerationEvent.Done d, boolean includeUsage) {
            List<String> out = new ArrayList<>(3);
            out.add(frame(state, d.text(), d.lastToken(), OpenAiMapping.finishReason(d.finish()), d));
            if (includeUsage) {
                out.add(HttpReply.data(new CompletionResponse(id, "text_completion", created, model, List.of(),
                        OpenAiMapping.usage(d.usage()), OpenAiMapping.timings(d.timings()))));
            }
            out.add(HttpReply.DONE);
            return out;
        }

        private String frame(StreamState state, String text, GenerationEvent.Token t, String finish,
                             GenerationEvent.Done done) {
            int[] promptIds = tokenIds && !state.sentPromptIds ? gen.promptTokens() : null;
            state.sentPromptIds |= promptIds != null;
            int[] ids = tokenIds ? (t == null ? new int[0] : new int[] {t.tokenId()}) : null;
            CompletionResponse.Logprobs lp = null;
            if (logprobs && t != null) {
                Logprobs l = new Logprobs();
                l.offset = state.generatedOffset;
                l.addGenerated(gen, t, top);
                lp = l.build();
            }
            state.generatedOffset += text.length();
            CompletionResponse.Choice c = new CompletionResponse.Choice(text, 0, lp, finish, promptIds, ids);
            return HttpReply.data(new CompletionResponse(id, "text_completion", created, model, List.of(c), null,
                    done == null ? null : OpenAiMapping.timings(done.timings())));
        }

        HttpReply whole(List<GenerationEvent> events) {
            StringBuilder text = new StringBuilder(echo ? gen.promptText() : "");
            List<Integer> ids = new ArrayList<>();
            Logprobs lp = new Logprobs();
            if (echo && logprobs) {
                lp.addPrompt(gen, top);
            }
            GenerationEvent.Done done = Shapes.done(events);
            for (GenerationEvent.Token t : Shapes.tokens(events)) {
                if (logprobs) {
                    lp.offset = text.length();
                    lp.addGenerated(gen, t, top);
                }
                text.append(t.text());
                ids.add(t.tokenId());
            }
            text.append(done.tailText());
            CompletionResponse.Choice c = new CompletionResponse.Choice(text.toString(), 0,
                    logprobs ? lp.build() : null,
                    OpenAiMapping.finishReason(done.finish()),
                    tokenIds ? gen.promptTokens() : null,
                    tokenIds ? ids.stream().mapToInt(Integer::intValue).toArray() : null);
            return HttpReply.json(new CompletionResponse(id, "text_completion", created, model, List.of(c),
                    OpenAiMapping.usage(done.usage()), OpenAiMapping.timings(done.timings())));
        }
    }

    /** Accumulates the four parallel lists of legacy completions logprobs. */
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
