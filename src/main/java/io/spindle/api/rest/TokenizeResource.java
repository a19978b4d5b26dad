package io.spindle.api.rest;

import io.spindle.api.dto.TokenizeMessages;
import io.spindle.engine.request.SpindleException;
import io.spindle.generation.GenerationService;
import io.spindle.generation.Prompt;
import io.spindle.generation.ServedModel;
import jakarta.inject.Inject;
import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.MediaType;
import org.eclipse.microprofile.config.inject.ConfigProperty;

import java.util.ArrayList;
import java.util.List;

/**
 * vLLM's discovery routes: {@code POST /tokenize} (a prompt or chat messages, tokenized exactly as a
 * generation request would be), {@code POST /detokenize}, and {@code GET /version}.
 */
@Path("/")
public class TokenizeResource {
    @Inject
    GenerationService service;

    @ConfigProperty(name = "quarkus.application.version", defaultValue = "unknown")
    String version;

    @POST
    @Path("tokenize")
    @Consumes(MediaType.WILDCARD)
    @Produces(MediaType.APPLICATION_JSON)
    public TokenizeMessages.TokenizeResponse tokenize(String body) {
        TokenizeMessages.TokenizeRequest req = Json.read(body, TokenizeMessages.TokenizeRequest.class);
        ServedModel model = model(req.model());
        if ((req.prompt() == null) == (req.messages() == null)) {
            throw SpindleException.invalid(req.prompt() == null ? "prompt" : "messages",
                    "send exactly one of 'prompt' and 'messages'");
        }
        if (Boolean.FALSE.equals(req.addGenerationPrompt()) || Boolean.FALSE.equals(req.addSpecialTokens())) {
            // Generation always renders the assistant turn's opening and the tokenizer's specials;
            // /tokenize answers for what generation would feed, so it does not pretend otherwise.
            throw SpindleException.invalid(Boolean.FALSE.equals(req.addSpecialTokens()) ? "add_special_tokens"
                    : "add_generation_prompt", "only the tokenization generation uses is offered (true)");
        }
        Prompt prompt = req.messages() != null
                ? OpenAiMapping.messages(req.messages(), Tools.read(req.tools(), null, null).templateTools())
                : OpenAiMapping.prompt(req.prompt());
        int[] ids = service.tokenize(model, prompt).ids();
        List<String> strs = null;
        if (Boolean.TRUE.equals(req.returnTokenStrs())) {
            strs = new ArrayList<>(ids.length);
            for (int id : ids) {
                strs.add(model.tokenizer().decode(new int[] {id}, 0, 1, false));
            }
        }
        return new TokenizeMessages.TokenizeResponse(ids.length, model.contextLength(), ids, strs);
    }

    @POST
    @Path("detokenize")
    @Consumes(MediaType.WILDCARD)
    @Produces(MediaType.APPLICATION_JSON)
    public TokenizeMessages.DetokenizeResponse detokenize(String body) {
        TokenizeMessages.DetokenizeRequest req = Json.read(body, TokenizeMessages.DetokenizeRequest.class);
        ServedModel model = model(req.model());
        if (req.tokens() == null) {
            throw SpindleException.invalid("tokens", "'tokens' is required");
        }
        int[] ids = service.tokenize(model, new Prompt.Tokens(req.tokens())).ids();
        return new TokenizeMessages.DetokenizeResponse(model.tokenizer().decode(ids));
    }

    @GET
    @Path("version")
    @Produces(MediaType.APPLICATION_JSON)
    public TokenizeMessages.Version version() {
        return new TokenizeMessages.Version(version);
    }

    private ServedModel model(String id) {
        return id == null || id.isBlank() ? service.models().defaultGenerator() : service.models().require(id);
    }
}
