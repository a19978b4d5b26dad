package io.spindle.generation;

import io.spindle.engine.EncoderClient;
import io.spindle.engine.request.SpindleException;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * The embeddings use case: validate, tokenize (with the encoder's special tokens), queue on the
 * model's encoder. Every rejection is a {@link SpindleException} thrown before anything is queued.
 * Thread-safe.
 */
public final class EmbeddingService {
    /** Inputs one request may carry (OpenAI's own limit). */
    static final int MAX_INPUTS = 2048;

    /** Texts, or token-id lists taken as they are (no special tokens added). */
    public sealed interface Input {
        record Texts(List<String> texts) implements Input {
        }

        record Tokens(List<int[]> ids) implements Input {
        }
    }

    /** One vector per input, in order, and the tokens the inputs took. */
    public record Result(String model, float[][] vectors, int promptTokens) {
    }

    private final ModelRegistry registry;
    private final GenerationService generation;

    public EmbeddingService(ModelRegistry registry, GenerationService generation) {
        this.registry = registry;
        this.generation = generation;
    }

    public CompletableFuture<Result> embed(String modelId, Input input) {
        if (generation.isDraining()) {
            throw SpindleException.unavailable("the server is shutting down; retry on another replica", 1);
        }
        ServedModel model = registry.require(modelId);
        EncoderClient encoder = model.requireEmbedder("/v1/embeddings");
        List<int[]> ids = switch (input) {
            case Input.Texts t -> tokenize(model, t.texts());
            case Input.Tokens t -> checkIds(model, t.ids());
        };
        if (ids.isEmpty()) {
            throw SpindleException.invalid("input", "'input' must hold at least one text or token list");
        }
        if (ids.size() > MAX_INPUTS) {
            throw SpindleException.invalid("input", "at most " + MAX_INPUTS + " inputs per request");
        }
        int max = encoder.maxInputTokens();
        int tokens = 0;
        for (int i = 0; i < ids.size(); i++) {
            int n = ids.get(i).length;
            if (n > max) {
                throw SpindleException.invalid("input", "input " + i + " has " + n + " tokens; model '" + model.id()
                        + "' accepts at most " + max);
            }
            tokens += n;
        }
        int promptTokens = tokens;
        return encoder.encode(ids).thenApply(v -> new Result(model.id(), v, promptTokens));
    }

    private static List<int[]> tokenize(ServedModel model, List<String> texts) {
        List<int[]> out = new ArrayList<>(texts.size());
        for (int i = 0; i < texts.size(); i++) {
            String t = texts.get(i);
            if (t == null || t.isEmpty()) {
                throw SpindleException.invalid("input", "input " + i + " is empty");
            }
            if (i >= MAX_INPUTS) {
                break;
            }
            out.add(model.tokenizer().encode(t, true));
        }
        if (texts.size() > MAX_INPUTS) {
            throw SpindleException.invalid("input", "at most " + MAX_INPUTS + " inputs per request");
        }
        return out;
    }

    private static List<int[]> checkIds(ServedModel model, List<int[]> ids) {
        int vocab = model.card().vocabSize();
        for (int i = 0; i < ids.size(); i++) {
            int[] row = ids.get(i);
            if (row == null || row.length == 0) {
                throw SpindleException.invalid("input", "input " + i + " is empty");
            }
            for (int id : row) {
                if (id < 0 || id >= vocab) {
                    throw SpindleException.invalid("input", "token id " + id + " is outside the vocabulary [0, " + vocab + ")");
                }
            }
        }
        return ids;
    }
}
