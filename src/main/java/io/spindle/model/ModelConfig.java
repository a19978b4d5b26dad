package io.spindle.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashSet;
import java.util.Set;

/**
 * What Spindle reads from a model directory's Hugging Face files: config.json, generation_config.json
 * and tokenizer_config.json (optional). An onnxruntime-genai folder carries genai_config.json
 * instead of config.json (see {@link GenaiConfig}); one of the two is required.
 *
 * @param contextLength  n_positions / max_position_embeddings / n_ctx, else tokenizer_config's
 *                       model_max_length
 * @param eosTokenIds    from generation_config.json, else config.json; may be empty
 * @param chatTemplate   tokenizer_config.json's chat_template (the default one when it is a list), or null
 * @param randomWeights  true for Spindle's own demo models, whose weights are random
 * @param headDim        d_kv (T5) when config.json gives it, else 0
 * @param decoderStartTokenId an encoder-decoder's first decoder input, from generation_config.json
 *                       or config.json; -1 when neither says
 * @param maskToken      tokenizer_config.json's mask_token (masked-language models), or null
 * @param graphFile      the decoder graph's file name when the folder names it (genai_config.json's
 *                       decoder.filename), else null: the loader looks for the usual export names
 */
public record ModelConfig(String modelType, int contextLength, int vocabSize, int numHeads, int[] eosTokenIds,
                          String chatTemplate, String bosToken, String eosToken, boolean randomWeights,
                          int headDim, int decoderStartTokenId, String maskToken, String graphFile) {

    private static final ObjectMapper JSON = new ObjectMapper();

    public static ModelConfig read(Path dir) throws ModelConfigException {
        if (!Files.isRegularFile(dir.resolve("config.json")) && Files.isRegularFile(dir.resolve(GenaiConfig.FILE))) {
            return GenaiConfig.read(dir, readJson(dir.resolve(GenaiConfig.FILE), true),
                    readJson(dir.resolve("tokenizer_config.json"), false));
        }
        JsonNode config = readJson(dir.resolve("config.json"), true);
        JsonNode generation = readJson(dir.resolve("generation_config.json"), false);
        JsonNode tokenizer = readJson(dir.resolve("tokenizer_config.json"), false);
        String type = config.path("model_type").asText("");
        if (type.isEmpty()) {
            throw new ModelConfigException(dir.resolve("config.json"), "no \"model_type\"");
        }
        int context = firstInt(config, "n_positions", "max_position_embeddings", "n_ctx");
        if (context <= 0) {
            long max = tokenizer.path("model_max_length").asLong(0);
            context = max > 0 && max < 1_000_000 ? (int) max : 0;
        }
        if (context <= 0) {
            throw new ModelConfigException(dir.resolve("config.json"),
                    "no context length (n_positions, max_position_embeddings or n_ctx)");
        }
        Set<Integer> eos = new LinkedHashSet<>();
        addIds(generation.path("eos_token_id"), eos);
        if (eos.isEmpty()) {
            addIds(config.path("eos_token_id"), eos);
        }
        return new ModelConfig(type, context, config.path("vocab_size").asInt(0),
                firstInt(config, "n_head", "num_attention_heads", "num_heads"),
                eos.stream().mapToInt(Integer::intValue).toArray(),
                chatTemplate(tokenizer), tokenText(tokenizer.path("bos_token")), tokenText(tokenizer.path("eos_token")),
                config.path("spindle_demo").path("random_weights").asBoolean(false),
                firstInt(config, "d_kv"),
                generation.path("decoder_start_token_id").canConvertToInt() ? generation.path("decoder_start_token_id").asInt()
                        : config.path("decoder_start_token_id").canConvertToInt() ? config.path("decoder_start_token_id").asInt() : -1,
                tokenText(tokenizer.path("mask_token")), null);
    }

    static JsonNode readJson(Path file, boolean required) throws ModelConfigException {
        if (!Files.isRegularFile(file)) {
            if (required) {
                throw new ModelConfigException(file, "file not found");
            }
            return JSON.createObjectNode();
        }
        try {
            JsonNode node = JSON.readTree(file.toFile());
            if (node == null || !node.isObject()) {
                throw new ModelConfigException(file, "not a JSON object");
            }
            return node;
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new ModelConfigException(file, "malformed JSON at line " + (e.getLocation() == null ? "?"
                    : e.getLocation().getLineNr()) + ": " + e.getOriginalMessage());
        } catch (IOException e) {
            throw new ModelConfigException(file, "cannot read it: " + e.getMessage());
        }
    }

    private static int firstInt(JsonNode node, String... names) {
        for (String n : names) {
            if (node.path(n).canConvertToInt()) {
                return node.path(n).asInt();
            }
        }
        return 0;
    }

    static void addIds(JsonNode node, Set<Integer> out) {
        if (node.isInt()) {
            out.add(node.asInt());
        } else if (node.isArray()) {
            node.forEach(n -> {
                if (n.isInt()) {
                    out.add(n.asInt());
                }
            });
        }
    }

    /** A string, or an AddedToken object's content. */
    static String tokenText(JsonNode node) {
        if (node.isTextual()) {
            return node.asText();
        }
        return node.path("content").isTextual() ? node.path("content").asText() : null;
    }

    static String chatTemplate(JsonNode tokenizer) {
        JsonNode t = tokenizer.path("chat_template");
        if (t.isTextual()) {
            return t.asText();
        }
        if (t.isArray()) {
            for (JsonNode named : t) {
                if ("default".equals(named.path("name").asText())) {
                    return named.path("template").asText(null);
                }
            }
        }
        return null;
    }
}
