package io.spindle.api.rest;

import io.spindle.api.dto.ModelList;
import io.spindle.engine.request.ErrorKind;
import io.spindle.engine.request.SpindleException;
import io.spindle.generation.GenerationService;
import io.spindle.generation.ServedModel;
import io.spindle.model.ModelCard;
import jakarta.inject.Inject;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.MediaType;

/** OpenAI-compatible {@code GET /v1/models} and {@code GET /v1/models/{id}}. */
@Path("/v1/models")
@Produces(MediaType.APPLICATION_JSON)
public class ModelsResource {
    @Inject
    GenerationService service;

    @GET
    public ModelList list() {
        return new ModelList("list", service.models().all().stream().map(ModelsResource::entry).toList());
    }

    @GET
    @Path("/{id}")
    public ModelList.ModelEntry get(@PathParam("id") String id) {
        try {
            return entry(service.models().require(id));
        } catch (SpindleException e) {
            throw new SpindleException(ErrorKind.NOT_FOUND, e.getMessage(), "model");
        }
    }

    private static ModelList.ModelEntry entry(ServedModel m) {
        ModelCard c = m.card();
        return new ModelList.ModelEntry(c.id(), "model", c.createdEpochSeconds(), "spindle", c.contextLength(),
                new ModelList.SpindleInfo(c.family(), c.tasks(), c.layout(), c.randomWeights(),
                        m.chatTemplate().isFallback() ? "fallback" : "model", c.executionProvider(), endpoints(m),
                        c.kvCache() == null ? null : new ModelList.KvCache(c.kvCache().location(),
                                c.kvCache().budgetBytes(), c.kvCache().bytesPerToken(), c.kvCache().dtype()),
                        new ModelList.Weights(c.weights().format(), c.weights().detail(), c.weights().quantize())));
    }

    /** Which routes serve this model; the playground and front ends choose their view by it. */
    static java.util.List<String> endpoints(ServedModel m) {
        java.util.List<String> out = new java.util.ArrayList<>();
        if (m.engine() != null) {
            out.add("/v1/completions");
            if (!(m.card().encoderDecoder() && m.chatTemplate().isFallback())) {
                out.add("/v1/chat/completions");
            }
            out.addAll(java.util.List.of("/generate", "/generate_stream", "/v1/ws", "/tokenize", "/detokenize"));
        }
        if (m.card().tasks().contains("embeddings")) {
            out.add("/v1/embeddings");
        }
        if (m.card().tasks().contains("fill-mask")) {
            out.add("/v1/fill-mask");
        }
        return out;
    }
}
