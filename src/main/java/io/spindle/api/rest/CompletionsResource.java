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
import java.util.List;

/** OpenAI-compatible {@code POST /v1/completions}, streaming (SSE) and not. */
@Path("/v1/completions")
public class CompletionsResource {
    @Inject
    GenerationService service;

    @POST
    @Consumes(MediaType.WILDCARD)
    @Produces(MediaType.TEXT_PLAIN)
    public Multi<String> create(String body, @Context HttpServerRequest request) {
        CompletionRequest req = Json.read(body, CompletionRequest.class);
        Generation gen = service.start(OpenAiMapping.completion(req), HttpReply.transport(req.stream()));
        HttpReply.dropOnSlowReader(gen, request);
        Shape shape = new Shape(OpenAiMapping.newId("cmpl-"), Instant.now().getEpochSecond(), gen.model().id(), gen,
                Boolean.TRUE.equals(req.echo()), Boolean.TRUE.equals(req.returnTokenIds()), req.logprobs() != null);
        boolean usage = req.streamOptions() != null && Boolean.TRUE.equals(req.streamOptions().includeUsage());
        return HttpReply.of(ApiDialect.OPENAI, gen, Boolean.TRUE.equals(req.stream()), () -> shape.stream(usage),
                shape::whole);
    }

    /** Builds chunks and whole responses for one request. */
    private record Shape(String id, long created, String model, Generation gen, boolean echo, boolean tokenIds,
                         boolean logprobs) {

        Multi<String> stream(boolean includeUsage) {
            StreamState state = new StreamState();
            Multi<String> head = echo
                    ? Multi.createFrom().item(() -> frame(state, gen.promptText(), null, null, null))
                    : Multi.createFrom().empty();
            Multi<String> body = gen.events().onItem().transformToIterable(ev -> switch (ev) {
                case GenerationEvent.KeepAlive k -> List.of(HttpReply.KEEP_ALIVE);
                case GenerationEvent.Token t -> List.of(frame(state, t.text(), t, null, null));
                case GenerationEvent.Done d -> finalFrames(state, d, includeUsage);
            });
            return Multi.createBy().concatenating().streams(head, body)
                    .onFailure().recoverWithMulti(t -> Multi.createFrom().items(
                            HttpReply.errorFrame(ApiDialect.OPENAI, t), HttpReply.DONE));
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
            CompletionResponse.Logprobs lp = logprobs && t != null
                    ? new CompletionResponse.Logprobs(List.of(gen.tokenText(t.tokenId())), List.of(t.logprob()), null,
                    List.of(t.textOffset()))
                    : null;
            CompletionResponse.Choice c = new CompletionResponse.Choice(text, 0, lp, finish, promptIds, ids);
            return HttpReply.data(new CompletionResponse(id, "text_completion", created, model, List.of(c), null,
                    done == null ? null : OpenAiMapping.timings(done.timings())));
        }

        HttpReply whole(List<GenerationEvent> events) {
            StringBuilder text = new StringBuilder(echo ? gen.promptText() : "");
            List<Integer> ids = new ArrayList<>();
            List<String> tokens = new ArrayList<>();
            List<Float> lps = new ArrayList<>();
            List<Integer> offsets = new ArrayList<>();
            GenerationEvent.Done done = Shapes.done(events);
            for (GenerationEvent.Token t : Shapes.tokens(events)) {
                if (logprobs) {
                    tokens.add(gen.tokenText(t.tokenId()));
                    lps.add(t.logprob());
                    offsets.add(text.length());
                }
                text.append(t.text());
                ids.add(t.tokenId());
            }
            text.append(done.tailText());
            CompletionResponse.Choice c = new CompletionResponse.Choice(text.toString(), 0,
                    logprobs ? new CompletionResponse.Logprobs(tokens, lps, null, offsets) : null,
                    OpenAiMapping.finishReason(done.finish()),
                    tokenIds ? gen.promptTokens() : null,
                    tokenIds ? ids.stream().mapToInt(Integer::intValue).toArray() : null);
            return HttpReply.json(new CompletionResponse(id, "text_completion", created, model, List.of(c),
                    OpenAiMapping.usage(done.usage()), OpenAiMapping.timings(done.timings())));
        }
    }

    private static final class StreamState {
        boolean sentPromptIds;
    }
}
