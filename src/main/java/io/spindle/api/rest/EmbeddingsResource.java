package io.spindle.api.rest;

import com.fasterxml.jackson.databind.JsonNode;
import io.smallrye.mutiny.Multi;
import io.smallrye.mutiny.Uni;
import io.spindle.api.dto.EmbeddingRequest;
import io.spindle.api.dto.EmbeddingResponse;
import io.spindle.api.error.ApiDialect;
import io.spindle.engine.request.SpindleException;
import io.spindle.generation.EmbeddingService;
import jakarta.inject.Inject;
import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.MediaType;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;

/** OpenAI-compatible {@code POST /v1/embeddings}. */
@Path("/v1/embeddings")
public class EmbeddingsResource {
    @Inject
    EmbeddingService service;

    @POST
    @Consumes(MediaType.WILDCARD)
    @Produces(MediaType.TEXT_PLAIN)
    public Multi<String> create(String body) {
        EmbeddingRequest req = Json.read(body, EmbeddingRequest.class);
        boolean base64 = format(req.encodingFormat());
        EmbeddingService.Input input = input(req.input());
        var pending = service.embed(req.model(), input);
        return HttpReply.toMulti(Uni.createFrom().completionStage(pending)
                .map(r -> {
                    checkDimensions(req.dimensions(), r);
                    return HttpReply.json(response(r, base64));
                })
                .onFailure().recoverWithItem(t -> HttpReply.error(ApiDialect.OPENAI,
                        t instanceof java.util.concurrent.CompletionException c && c.getCause() != null ? c.getCause() : t)));
    }

    private static boolean format(String f) {
        if (f == null || f.equals("float")) {
            return false;
        }
        if (f.equals("base64")) {
            return true;
        }
        throw SpindleException.invalid("encoding_format", "'encoding_format' must be \"float\" or \"base64\"");
    }

    /** OpenAI's {@code dimensions} shortens vectors of models trained for it; these are not, so only their own size is accepted. */
    private static void checkDimensions(Integer dimensions, EmbeddingService.Result r) {
        int native_ = r.vectors().length == 0 ? 0 : r.vectors()[0].length;
        if (dimensions != null && dimensions != native_) {
            throw SpindleException.invalid("dimensions", "model '" + r.model() + "' produces " + native_
                    + "-dimensional vectors and cannot shorten them; omit 'dimensions' or pass " + native_);
        }
    }

    static EmbeddingService.Input input(JsonNode in) {
        if (in == null || in.isNull() || in.isMissingNode()) {
            throw SpindleException.invalid("input", "'input' is required");
        }
        if (in.isTextual()) {
            return new EmbeddingService.Input.Texts(List.of(in.asText()));
        }
        if (!in.isArray()) {
            throw SpindleException.invalid("input", "'input' must be a string, an array of strings, or token ids");
        }
        if (in.isEmpty()) {
            throw SpindleException.invalid("input", "'input' must hold at least one text or token list");
        }
        JsonNode first = in.get(0);
        if (first.isTextual()) {
            List<String> texts = new ArrayList<>(in.size());
            for (JsonNode n : in) {
                if (!n.isTextual()) {
                    throw SpindleException.invalid("input", "'input' mixes strings and other values");
                }
                texts.add(n.asText());
            }
            return new EmbeddingService.Input.Texts(texts);
        }
        if (first.isIntegralNumber()) {
            return new EmbeddingService.Input.Tokens(List.of(ids(in)));
        }
        if (first.isArray()) {
            List<int[]> rows = new ArrayList<>(in.size());
            for (JsonNode n : in) {
                if (!n.isArray()) {
                    throw SpindleException.invalid("input", "'input' mixes token lists and other values");
                }
                rows.add(ids(n));
            }
            return new EmbeddingService.Input.Tokens(rows);
        }
        throw SpindleException.invalid("input", "'input' must be a string, an array of strings, or token ids");
    }

    private static int[] ids(JsonNode list) {
        int[] ids = new int[list.size()];
        for (int i = 0; i < ids.length; i++) {
            JsonNode n = list.get(i);
            if (!n.isIntegralNumber() || !n.canConvertToInt()) {
                throw SpindleException.invalid("input", "token ids must be integers");
            }
            ids[i] = n.asInt();
        }
        return ids;
    }

    private static EmbeddingResponse response(EmbeddingService.Result r, boolean base64) {
        List<EmbeddingResponse.Item> data = new ArrayList<>(r.vectors().length);
        for (int i = 0; i < r.vectors().length; i++) {
            float[] v = r.vectors()[i];
            data.add(new EmbeddingResponse.Item(i, base64 ? encode(v) : v));
        }
        return new EmbeddingResponse(data, r.model(), new EmbeddingResponse.Usage(r.promptTokens(), r.promptTokens()));
    }

    private static String encode(float[] v) {
        ByteBuffer b = ByteBuffer.allocate(v.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        for (float f : v) {
            b.putFloat(f);
        }
        return Base64.getEncoder().encodeToString(b.array());
    }
}
