package io.spindle.api.rest;

import com.fasterxml.jackson.databind.JsonNode;
import io.smallrye.mutiny.Multi;
import io.smallrye.mutiny.Uni;
import io.spindle.api.dto.FillMaskCandidate;
import io.spindle.api.dto.FillMaskRequest;
import io.spindle.api.error.ApiDialect;
import io.spindle.engine.request.SpindleException;
import io.spindle.generation.FillMaskService;
import jakarta.inject.Inject;
import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.MediaType;

import java.util.ArrayList;
import java.util.List;

/**
 * {@code POST /v1/fill-mask} on a masked-language model, answered as the Hugging Face inference API
 * answers the fill-mask task: for one text with one mask, a list of candidates; with several masks,
 * one such list per mask; for a list of texts, one of those per text. Errors in OpenAI's format.
 */
@Path("/v1/fill-mask")
public class FillMaskResource {
    static final int DEFAULT_TOP_K = 5;

    @Inject
    FillMaskService service;

    @POST
    @Consumes(MediaType.WILDCARD)
    @Produces(MediaType.TEXT_PLAIN)
    public Multi<String> fill(String body) {
        FillMaskRequest req = Json.read(body, FillMaskRequest.class);
        if (req.model() == null || req.model().isBlank()) {
            throw SpindleException.invalid("model", "'model' is required");
        }
        boolean list = req.inputs() != null && req.inputs().isArray();
        List<String> texts = texts(req.inputs());
        int topK = req.parameters() == null || req.parameters().topK() == null ? DEFAULT_TOP_K : req.parameters().topK();
        var pending = service.fill(req.model(), texts, topK);
        return HttpReply.toMulti(Uni.createFrom().completionStage(pending)
                .map(r -> HttpReply.json(shape(r, list)))
                .onFailure().recoverWithItem(t -> HttpReply.error(ApiDialect.OPENAI,
                        t instanceof java.util.concurrent.CompletionException c && c.getCause() != null ? c.getCause() : t)));
    }

    private static List<String> texts(JsonNode inputs) {
        if (inputs == null || inputs.isNull()) {
            throw SpindleException.invalid("inputs", "'inputs' is required: a text with the model's mask token, or a list of them");
        }
        if (inputs.isTextual()) {
            return List.of(inputs.asText());
        }
        if (inputs.isArray()) {
            List<String> out = new ArrayList<>();
            for (JsonNode n : inputs) {
                if (!n.isTextual()) {
                    throw SpindleException.invalid("inputs", "'inputs' must be a string or a list of strings");
                }
                out.add(n.asText());
            }
            return out;
        }
        throw SpindleException.invalid("inputs", "'inputs' must be a string or a list of strings");
    }

    private static Object shape(FillMaskService.Result r, boolean list) {
        List<Object> perInput = new ArrayList<>();
        for (List<List<FillMaskService.Candidate>> masks : r.candidates()) {
            List<List<FillMaskCandidate>> perMask = masks.stream().map(cs -> cs.stream()
                    .map(c -> new FillMaskCandidate(c.score(), c.token(), c.tokenStr(), c.sequence())).toList()).toList();
            perInput.add(perMask.size() == 1 ? perMask.getFirst() : perMask);
        }
        return list ? perInput : perInput.getFirst();
    }
}
