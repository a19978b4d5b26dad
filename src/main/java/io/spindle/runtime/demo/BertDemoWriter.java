package io.spindle.runtime.demo;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.spindle.runtime.family.bert.BundledMiniLm;

import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Writes a demo BERT model directory: {@code model.onnx} with a feature-extraction or a masked-LM
 * head, config.json, tokenizer_config.json, and bert-base-uncased's WordPiece {@code tokenizer.json}
 * (the one all-MiniLM-L6-v2 ships with, from the bundled artifact). Random weights.
 */
public final class BertDemoWriter {
    /** Bump when the graph or files change, so cached copies from older builds are not reused. */
    public static final int BUILDER_VERSION = 1;

    private final ObjectMapper json = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    public static String cacheName(BertGraphBuilder.Head head, long seed) {
        return "demo-bert-tiny-" + (head == BertGraphBuilder.Head.MASKED_LM ? "mlm" : "features") + "-s" + seed
                + "-v" + BUILDER_VERSION;
    }

    public Path ensure(Path dir, BertShape shape, BertGraphBuilder.Head head, long seed) throws IOException {
        return DemoModelWriter.ensureComplete(dir, tmp -> write(tmp, shape, head, seed));
    }

    public void write(Path dir, BertShape s, BertGraphBuilder.Head head, long seed) throws IOException {
        try (OutputStream out = new BufferedOutputStream(Files.newOutputStream(dir.resolve("model.onnx")), 1 << 20)) {
            new BertGraphBuilder(s, head, seed).write(out);
        }
        BundledMiniLm.copyTokenizer(dir.resolve("tokenizer.json"));
        boolean mlm = head == BertGraphBuilder.Head.MASKED_LM;
        ObjectNode config = json.createObjectNode();
        config.put("model_type", "bert");
        config.putArray("architectures").add(mlm ? "BertForMaskedLM" : "BertModel");
        config.put("vocab_size", s.vocabSize());
        config.put("hidden_size", s.hiddenSize());
        config.put("num_hidden_layers", s.numLayers());
        config.put("num_attention_heads", s.numHeads());
        config.put("intermediate_size", s.intermediateSize());
        config.put("max_position_embeddings", s.contextLength());
        config.put("type_vocab_size", 2);
        config.put("pad_token_id", 0);
        ObjectNode demo = config.putObject("spindle_demo");
        demo.put("random_weights", true);
        demo.put("preset", "tiny");
        demo.put("head", mlm ? "masked-lm" : "features");
        demo.put("seed", seed);
        demo.put("builder_version", BUILDER_VERSION);
        json.writeValue(dir.resolve("config.json").toFile(), config);

        ObjectNode tok = json.createObjectNode();
        tok.put("tokenizer_class", "BertTokenizer");
        tok.put("do_lower_case", true);
        tok.put("model_max_length", s.contextLength());
        tok.put("cls_token", "[CLS]");
        tok.put("sep_token", "[SEP]");
        tok.put("pad_token", "[PAD]");
        tok.put("unk_token", "[UNK]");
        tok.put("mask_token", "[MASK]");
        json.writeValue(dir.resolve("tokenizer_config.json").toFile(), tok);
    }
}
