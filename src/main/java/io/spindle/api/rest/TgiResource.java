package io.spindle.api.rest;

import io.smallrye.mutiny.Multi;
import io.spindle.api.dto.TgiRequest;
import io.spindle.api.dto.TgiResponses;
import io.spindle.api.error.ApiDialect;
import io.spindle.engine.request.SpindleException;
import io.spindle.generation.Generation;
import io.spindle.generation.GenerationEvent;
import io.spindle.generation.GenerationFinish;
import io.spindle.generation.GenerationRequest;
import io.spindle.generation.GenerationService;
import io.spindle.generation.Prompt;
import io.spindle.generation.ServedModel;
import io.spindle.generation.Transport;
import jakarta.inject.Inject;
import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.HeaderParam;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.Context;
import jakarta.ws.rs.core.MediaType;
import io.vertx.core.http.HttpServerRequest;

import java.util.ArrayList;
import java.util.List;

/**
 * Hugging Face TGI-compatible {@code POST /generate} and {@code POST /generate_stream}. TGI serves one
 * model per server, so the model is the {@code X-Model} header, else the first served model.
 */
@Path("/")
public class TgiResource {
    /** TGI's default max_new_tokens. */
    static final int DEFAULT_MAX_NEW_TOKENS = 100;

    @Inject
    GenerationService service;

    @POST
    @Path("generate")
    @Consumes(MediaType.WILDCARD)
    @Produces(MediaType.TEXT_PLAIN)
    public Multi<String> generate(String body, @HeaderParam("X-Model") String model) {
        Shape shape = start(Json.read(body, TgiRequest.class), model, Transport.HTTP);
        return HttpReply.of(ApiDialect.TGI, shape.gen, false, shape::stream, shape::whole);
    }

    @POST
    @Path("generate_stream")
    @Consumes(MediaType.WILDCARD)
    @Produces(MediaType.TEXT_PLAIN)
    public Multi<String> generateStream(String body, @HeaderParam("X-Model") String model,
                                        @Context HttpServerRequest request) {
        Shape shape = start(Json.read(body, TgiRequest.class), model, Transport.SSE);
        HttpReply.dropOnSlowReader(shape.gen, request);
        return HttpReply.of(ApiDialect.TGI, shape.gen, true, shape::stream, shape::whole);
    }

    private Shape start(TgiRequest req, String modelHeader, Transport transport) {
        if (req.inputs() == null) {
            throw SpindleException.invalid("inputs", "'inputs' is required");
        }
        TgiRequest.Parameters p = req.parameters() != null ? req.parameters()
                : new TgiRequest.Parameters(null, null, null, null, null, null, null, null, null, null, null, null);
        if (p.maxNewTokens() != null && p.maxNewTokens() <= 0) {
            throw SpindleException.invalid("max_new_tokens", "max_new_tokens must be >= 1");
        }
        boolean sample = Boolean.TRUE.equals(p.doSample()) || p.temperature() != null || p.topK() != null
                || p.topP() != null;
        Double temperature = sample ? (p.temperature() == null ? 1.0 : p.temperature()) : 0.0;
        String model = modelHeader != null && !modelHeader.isBlank() ? modelHeader : defaultModel();
        GenerationRequest gr = new GenerationRequest(model, new Prompt.Text(req.inputs()),
                p.maxNewTokens() == null ? DEFAULT_MAX_NEW_TOKENS : p.maxNewTokens(), temperature, p.topK(), p.topP(),
                p.repetitionPenalty(), null, p.frequencyPenalty(), p.seed(), p.stop(), null, false, true);
        Generation gen = service.start(gr, transport);
        return new Shape(gen, Boolean.TRUE.equals(p.details()), Boolean.TRUE.equals(p.returnFullText()));
    }

    private String defaultModel() {
        return service.models().all().stream().filter(m -> m.engine() != null).findFirst().map(ServedModel::id)
                .orElseThrow(() -> SpindleException.invalid("model", "no text-generation model is loaded yet"));
    }

    static String finishReason(GenerationFinish f) {
        return switch (f) {
            case EOS_TOKEN -> "eos_token";
            case STOP_SEQUENCE -> "stop_sequence";
            case LENGTH, CANCELLED -> "length";
        };
    }

    private record Shape(Generation gen, boolean details, boolean fullText) {

        Multi<String> stream() {
            StringBuilder text = new StringBuilder(fullText ? gen.promptText() : "");
            return gen.events().onItem().transformToIterable(ev -> switch (ev) {
                case GenerationEvent.KeepAlive k -> List.of(HttpReply.KEEP_ALIVE);
                case GenerationEvent.Token t -> {
                    text.append(t.text());
                    yield List.of(HttpReply.data(new TgiResponses.StreamEvent(t.index(), token(t, t.text()), null, null, null)));
                }
                case GenerationEvent.Done d -> {
                    GenerationEvent.Token t = d.lastToken();
                    String tokenText = d.text();
                    text.append(tokenText);
                    TgiResponses.Token token = t == null ? new TgiResponses.Token(-1, tokenText, 0, true) : token(t, tokenText);
                    TgiResponses.StreamDetails sd = details ? new TgiResponses.StreamDetails(finishReason(d.finish()),
                            d.usage().completionTokens(), gen.seed(), d.usage().promptTokens(),
                            OpenAiMapping.timings(d.timings())) : null;
                    yield List.of(HttpReply.data(new TgiResponses.StreamEvent(t == null ? 0 : t.index(), token, null,
                            text.toString(), sd)));
                }
            }).onFailure().recoverWithItem(t -> HttpReply.errorFrame(ApiDialect.TGI, t));
        }

        HttpReply whole(List<GenerationEvent> events) {
            StringBuilder text = new StringBuilder(fullText ? gen.promptText() : "");
            List<TgiResponses.Token> tokens = new ArrayList<>();
            GenerationEvent.Done done = Shapes.done(events);
            for (GenerationEvent.Token t : Shapes.tokens(events)) {
                text.append(t.text());
                tokens.add(token(t, t.text()));
            }
            text.append(done.tailText());
            TgiResponses.Details det = details ? new TgiResponses.Details(finishReason(done.finish()),
                    done.usage().completionTokens(), gen.seed(), List.of(), tokens, done.usage().promptTokens(),
                    OpenAiMapping.timings(done.timings())) : null;
            return HttpReply.json(new TgiResponses.Generated(text.toString(), det));
        }

        private static TgiResponses.Token token(GenerationEvent.Token t, String text) {
            return new TgiResponses.Token(t.tokenId(), text, t.logprob(), t.special());
        }
    }
}
