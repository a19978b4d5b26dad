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
import io.spindle.generation.GenerationOptions;
import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.GET;
import org.eclipse.microprofile.config.inject.ConfigProperty;
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
        Shape shape = start(Json.read(body, TgiRequest.class, UnsupportedFields.TGI), model, Transport.HTTP);
        return HttpReply.of(ApiDialect.TGI, shape.gen, false, shape::stream, shape::whole);
    }

    @POST
    @Path("generate_stream")
    @Consumes(MediaType.WILDCARD)
    @Produces(MediaType.TEXT_PLAIN)
    public Multi<String> generateStream(String body, @HeaderParam("X-Model") String model,
                                        @Context HttpServerRequest request) {
        Shape shape = start(Json.read(body, TgiRequest.class, UnsupportedFields.TGI), model, Transport.SSE);
        HttpReply.dropOnSlowReader(shape.gen, request);
        return HttpReply.of(ApiDialect.TGI, shape.gen, true, shape::stream, shape::whole);
    }

    /** TGI's compatibility route: {@code /generate}, or {@code /generate_stream} when the body says {@code stream}. */
    @POST
    @Consumes(MediaType.WILDCARD)
    @Produces(MediaType.TEXT_PLAIN)
    public Multi<String> root(String body, @HeaderParam("X-Model") String model, @Context HttpServerRequest request) {
        TgiRequest req = Json.read(body, TgiRequest.class, UnsupportedFields.TGI);
        boolean stream = Boolean.TRUE.equals(req.stream());
        Shape shape = start(req, model, stream ? Transport.SSE : Transport.HTTP);
        if (stream) {
            HttpReply.dropOnSlowReader(shape.gen, request);
        }
        return HttpReply.of(ApiDialect.TGI, shape.gen, stream, shape::stream, shape::whole);
    }

    /** TGI's {@code GET /info}, for the model {@code X-Model} names, else the first text-generation model. */
    @GET
    @Path("info")
    @Produces(MediaType.APPLICATION_JSON)
    public TgiResponses.Info info(@HeaderParam("X-Model") String modelHeader) {
        ServedModel m = modelHeader != null && !modelHeader.isBlank() ? service.models().require(modelHeader)
                : service.models().defaultGenerator();
        int context = m.contextLength();
        int maxInput = m.card().encoderDecoder() ? context : context - 1;
        return new TgiResponses.Info(m.id(), null, m.card().encoderDecoder() ? "text2text-generation" : "text-generation",
                maxConcurrentRequests, 1, GenerationService.MAX_STOP_STRINGS, maxInput, maxInput, context, 1,
                "spindle", version, null, null);
    }

    @ConfigProperty(name = "quarkus.application.version", defaultValue = "unknown")
    String version;

    @ConfigProperty(name = "spindle.engine.max-waiting", defaultValue = "64")
    int maxWaiting;

    @ConfigProperty(name = "spindle.engine.max-batch-size", defaultValue = "8")
    int maxBatchSize;

    int maxConcurrentRequests;

    @jakarta.annotation.PostConstruct
    void limits() {
        maxConcurrentRequests = maxWaiting + maxBatchSize;
    }

    private Shape start(TgiRequest req, String modelHeader, Transport transport) {
        if (req.inputs() == null) {
            throw SpindleException.invalid("inputs", "'inputs' is required");
        }
        TgiRequest.Parameters p = req.parameters() != null ? req.parameters() : TgiRequest.Parameters.NONE;
        if (p.maxNewTokens() != null && p.maxNewTokens() <= 0) {
            throw SpindleException.invalid("max_new_tokens", "max_new_tokens must be >= 1");
        }
        if (p.topNTokens() != null && (p.topNTokens() < 0 || p.topNTokens() > io.spindle.sampling.Logprobs.MAX_TOP)) {
            throw SpindleException.invalid("top_n_tokens", "top_n_tokens must be in [0, " + io.spindle.sampling.Logprobs.MAX_TOP + "]");
        }
        // TGI's rule: sampling is on with do_sample, or with a parameter set to a value that changes the
        // distribution; the neutral values (temperature 1, top_k 0, top_p 1, typical_p 1) do not switch it on.
        boolean sample = Boolean.TRUE.equals(p.doSample())
                || (p.temperature() != null && p.temperature() != 1.0)
                || (p.topK() != null && p.topK() != 0)
                || (p.topP() != null && p.topP() != 1.0)
                || (p.typicalP() != null && p.typicalP() != 1.0);
        Double temperature = sample ? (p.temperature() == null ? 1.0 : p.temperature()) : 0.0;
        String model = modelHeader != null && !modelHeader.isBlank() ? modelHeader : defaultModel();
        int topN = p.topNTokens() == null ? 0 : p.topNTokens();
        GenerationOptions options = new GenerationOptions(0, p.typicalP() == null ? 1 : p.typicalP(), 0, p.truncate(),
                topN, Boolean.TRUE.equals(p.decoderInputDetails())).withConstraint(Constraints.tgi(p.grammar()));
        GenerationRequest gr = new GenerationRequest(model, new Prompt.Text(req.inputs()),
                p.maxNewTokens() == null ? DEFAULT_MAX_NEW_TOKENS : p.maxNewTokens(), temperature, p.topK(), p.topP(),
                p.repetitionPenalty(), null, p.frequencyPenalty(), p.seed(), p.stop(), null, false, true, null, options);
        Generation gen = service.start(gr, transport);
        return new Shape(gen, Boolean.TRUE.equals(p.details()), Boolean.TRUE.equals(p.returnFullText()), topN > 0, sample);
    }

    private String defaultModel() {
        return service.models().defaultGenerator().id();
    }

    static String finishReason(GenerationFinish f) {
        return switch (f) {
            case EOS_TOKEN -> "eos_token";
            case STOP_SEQUENCE -> "stop_sequence";
            case LENGTH, CANCELLED -> "length";
        };
    }

    /** {@code sampled}: TGI reports a seed only when sampling (greedy output does not depend on one). */
    private record Shape(Generation gen, boolean details, boolean fullText, boolean topTokens, boolean sampled) {

        private Long seed() {
            return sampled ? gen.seed() : null;
        }


        Multi<String> stream() {
            StringBuilder text = new StringBuilder(fullText ? gen.promptText() : "");
            return gen.events().onItem().transformToIterable(ev -> switch (ev) {
                case GenerationEvent.KeepAlive k -> List.of(HttpReply.KEEP_ALIVE);
                case GenerationEvent.Token t -> {
                    text.append(t.text());
                    yield List.of(HttpReply.data(new TgiResponses.StreamEvent(t.index(), token(t), top(t),
                            null, null)));
                }
                case GenerationEvent.Done d -> {
                    GenerationEvent.Token t = d.lastToken();
                    text.append(d.text());
                    TgiResponses.Token token = t == null ? new TgiResponses.Token(-1, d.text(), 0, true) : token(t);
                    TgiResponses.StreamDetails sd = details ? new TgiResponses.StreamDetails(finishReason(d.finish()),
                            d.usage().completionTokens(), seed(), d.usage().promptTokens(),
                            OpenAiMapping.timings(d.timings())) : null;
                    yield List.of(HttpReply.data(new TgiResponses.StreamEvent(t == null ? 0 : t.index(), token,
                            t == null ? null : top(t), text.toString(), sd)));
                }
            }).onFailure().recoverWithItem(t -> HttpReply.errorFrame(ApiDialect.TGI, t));
        }

        HttpReply whole(List<GenerationEvent> events) {
            StringBuilder text = new StringBuilder(fullText ? gen.promptText() : "");
            List<TgiResponses.Token> tokens = new ArrayList<>();
            List<List<TgiResponses.Token>> tops = topTokens ? new ArrayList<>() : null;
            GenerationEvent.Done done = Shapes.done(events);
            for (GenerationEvent.Token t : Shapes.tokens(events)) {
                text.append(t.text());
                tokens.add(token(t));
                if (tops != null) {
                    tops.add(top(t));
                }
            }
            text.append(done.tailText());
            TgiResponses.Details det = details ? new TgiResponses.Details(finishReason(done.finish()),
                    done.usage().completionTokens(), seed(), prefill(), tokens, tops, done.usage().promptTokens(),
                    OpenAiMapping.timings(done.timings())) : null;
            return HttpReply.json(new TgiResponses.Generated(text.toString(), det));
        }

        /** TGI's {@code decoder_input_details}: the prompt's tokens with their log-probabilities (the first null). */
        private List<TgiResponses.PrefillToken> prefill() {
            List<GenerationEvent.ScoredToken> scores = gen.promptScores();
            if (scores == null) {
                return List.of();
            }
            List<TgiResponses.PrefillToken> out = new ArrayList<>(scores.size());
            for (GenerationEvent.ScoredToken s : scores) {
                out.add(new TgiResponses.PrefillToken(s.tokenId(), s.text(), Float.isNaN(s.logprob()) ? null : s.logprob()));
            }
            return out;
        }

        private List<TgiResponses.Token> top(GenerationEvent.Token t) {
            if (!topTokens || t.top() == null) {
                return null;
            }
            List<TgiResponses.Token> out = new ArrayList<>(t.top().size());
            for (GenerationEvent.Alternative a : t.top()) {
                out.add(new TgiResponses.Token(a.tokenId(), a.text(), a.logprob(), gen.model().tokenizer().isSpecial(a.tokenId())));
            }
            return out;
        }

        /**
         * A token as TGI reports it: its own text (as in TGI), not the text released with it, which
         * a possible stop string may hold back and release with a later token.
         */
        private TgiResponses.Token token(GenerationEvent.Token t) {
            return new TgiResponses.Token(t.tokenId(), gen.tokenText(t.tokenId()), t.logprob(), t.special());
        }
    }
}
