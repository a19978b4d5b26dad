package io.spindle.generation;

import io.spindle.engine.EncoderClient;
import io.spindle.engine.request.SpindleException;
import io.spindle.sampling.TopIndices;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * The fill-mask use case on a masked-language model: tokenize each text (with the encoder's special
 * tokens), check it holds the mask token, queue it on the model's encoder, and turn the logits at
 * each mask into the top-k tokens with their probabilities. Every rejection is a
 * {@link SpindleException} thrown before anything is queued. Thread-safe.
 */
public final class FillMaskService {
    static final int MAX_INPUTS = 64;
    static final int MAX_TOP_K = 100;
    /** Mask tokens one request may hold: its result is that many rows of vocabulary logits (31 MB for BERT's 30,522). */
    static final int MAX_MASKS = 256;
    /**
     * Candidates one answer may hold (masks × top_k), each with a copy of its input: 64 inputs of one
     * mask at the largest top_k, so that every request of one mask per input stays valid.
     */
    static final int MAX_CANDIDATES = MAX_INPUTS * MAX_TOP_K;

    /** One proposal for one mask: probability, token id and text, and the input with this mask filled. */
    public record Candidate(double score, int token, String tokenStr, String sequence) {
    }

    /** Per input, per mask (in order), the top-k candidates, most likely first. */
    public record Result(String model, List<List<List<Candidate>>> candidates, int promptTokens) {
    }

    private final ModelRegistry registry;
    private final GenerationService generation;

    public FillMaskService(ModelRegistry registry, GenerationService generation) {
        this.registry = registry;
        this.generation = generation;
    }

    public CompletableFuture<Result> fill(String modelId, List<String> texts, int topK) {
        if (generation.isDraining()) {
            throw SpindleException.unavailable("the server is shutting down; retry on another replica", 1);
        }
        ServedModel model = registry.require(modelId);
        EncoderClient encoder = model.requireFillMask("/v1/fill-mask");
        String maskToken = model.card().maskToken();
        int maskId = model.tokenizer().addedTokenId(maskToken).orElseThrow();
        if (texts == null || texts.isEmpty()) {
            throw SpindleException.invalid("inputs", "'inputs' must hold a text with " + maskToken);
        }
        if (texts.size() > MAX_INPUTS) {
            throw SpindleException.invalid("inputs", "at most " + MAX_INPUTS + " inputs per request");
        }
        int vocab = encoder.dimensions();
        if (topK < 1 || topK > Math.min(MAX_TOP_K, vocab)) {
            throw SpindleException.invalid("top_k", "'top_k' must be in [1, " + Math.min(MAX_TOP_K, vocab) + "]");
        }
        List<int[]> ids = new ArrayList<>(texts.size());
        int tokens = 0;
        int masks = 0;
        for (int i = 0; i < texts.size(); i++) {
            String t = texts.get(i);
            if (t == null || t.isBlank()) {
                throw SpindleException.invalid("inputs", "input " + i + " is empty");
            }
            int[] row = model.tokenizer().encode(t, true);
            if (row.length > encoder.maxInputTokens()) {
                throw SpindleException.invalid("inputs", "input " + i + " has " + row.length + " tokens; model '"
                        + model.id() + "' accepts at most " + encoder.maxInputTokens());
            }
            int rowMasks = (int) java.util.Arrays.stream(row).filter(id -> id == maskId).count();
            if (rowMasks == 0) {
                throw SpindleException.invalid("inputs", "input " + i + " has no " + maskToken
                        + " token to fill (write it where a word is missing)");
            }
            ids.add(row);
            tokens += row.length;
            masks += rowMasks;
        }
        if (masks > MAX_MASKS) {
            throw SpindleException.invalid("inputs", "at most " + MAX_MASKS + " " + maskToken
                    + " tokens per request; this one has " + masks);
        }
        if ((long) masks * topK > MAX_CANDIDATES) {
            throw SpindleException.invalid("top_k", "at most " + MAX_CANDIDATES + " candidates per request ("
                    + maskToken + " tokens × top_k); this one asks for " + masks + " × " + topK);
        }
        int promptTokens = tokens;
        return encoder.encode(ids).thenApply(rows -> new Result(model.id(), candidates(model, ids, rows, maskId, vocab, topK),
                promptTokens));
    }

    private static List<List<List<Candidate>>> candidates(ServedModel model, List<int[]> ids, float[][] rows, int maskId,
                                                          int vocab, int topK) {
        List<List<List<Candidate>>> out = new ArrayList<>(ids.size());
        float[] logits = new float[vocab];
        int[] top = new int[topK];
        for (int i = 0; i < ids.size(); i++) {
            int[] in = ids.get(i);
            List<List<Candidate>> perMask = new ArrayList<>();
            int m = 0;
            for (int pos = 0; pos < in.length; pos++) {
                if (in[pos] != maskId) {
                    continue;
                }
                System.arraycopy(rows[i], m++ * vocab, logits, 0, vocab);
                double max = Double.NEGATIVE_INFINITY;
                for (float l : logits) {
                    max = Math.max(max, l);
                }
                double sum = 0;
                for (float l : logits) {
                    sum += Math.exp(l - max);
                }
                int k = TopIndices.select(logits, vocab, topK, top);
                List<Candidate> cs = new ArrayList<>(k);
                for (int j = 0; j < k; j++) {
                    int token = top[j];
                    int[] filled = in.clone();
                    filled[pos] = token;
                    cs.add(new Candidate(Math.exp(logits[token] - max) / sum, token,
                            model.tokenizer().decode(new int[] {token}, 0, 1, false).strip(),
                            model.tokenizer().decode(filled, 0, filled.length, true)));
                }
                perMask.add(cs);
            }
            out.add(perMask);
        }
        return out;
    }
}
