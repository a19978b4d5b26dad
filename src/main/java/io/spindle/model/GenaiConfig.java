package io.spindle.model;

import com.fasterxml.jackson.databind.JsonNode;

import java.nio.file.Path;
import java.util.LinkedHashSet;
import java.util.Set;

/**
 * Reads an onnxruntime-genai model folder's {@code genai_config.json}: the model type, the context
 * and vocabulary sizes, EOS, heads, and the decoder graph's file name (e.g. {@code past.onnx}).
 * Graph input and output names are not taken from it: the runner recognises them from the graph.
 */
final class GenaiConfig {
    static final String FILE = "genai_config.json";

    private GenaiConfig() {
    }

    static ModelConfig read(Path dir, JsonNode genai, JsonNode tokenizer) throws ModelConfigException {
        Path file = dir.resolve(FILE);
        JsonNode model = genai.path("model");
        String type = model.path("type").asText("");
        if (type.isEmpty()) {
            throw new ModelConfigException(file, "no \"model.type\"");
        }
        JsonNode decoder = model.path("decoder");
        int context = model.path("context_length").asInt(0);
        if (context <= 0) {
            throw new ModelConfigException(file, "no \"model.context_length\"");
        }
        String graph = decoder.path("filename").asText("");
        if (graph.isEmpty() || graph.contains("/") || graph.contains("\\") || graph.startsWith(".")) {
            throw new ModelConfigException(file, "\"model.decoder.filename\" must name a graph file in the folder; is '"
                    + graph + "'");
        }
        Set<Integer> eos = new LinkedHashSet<>();
        ModelConfig.addIds(model.path("eos_token_id"), eos);
        int heads = decoder.path("num_attention_heads").asInt(decoder.path("num_key_value_heads").asInt(0));
        return new ModelConfig(type, context, model.path("vocab_size").asInt(0), heads,
                eos.stream().mapToInt(Integer::intValue).toArray(), ModelConfig.chatTemplate(tokenizer),
                ModelConfig.tokenText(tokenizer.path("bos_token")), ModelConfig.tokenText(tokenizer.path("eos_token")),
                false, decoder.path("head_size").asInt(0), -1, ModelConfig.tokenText(tokenizer.path("mask_token")), graph);
    }
}
