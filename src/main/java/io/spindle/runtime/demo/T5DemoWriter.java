package io.spindle.runtime.demo;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

/**
 * Writes a demo T5 model directory in Optimum's seq2seq layout (DESIGN.md §4): the encoder, the
 * decoder as a split pair or as one merged graph, config.json, generation_config.json and a T5-style
 * tokenizer. Random weights: the text it generates is not language.
 */
public final class T5DemoWriter {
    /** Bump when the graphs or files change, so cached copies from older builds are not reused. */
    public static final int BUILDER_VERSION = 1;

    /** How the decoder is exported. */
    public enum Variant {
        /** {@code decoder_model.onnx} + {@code decoder_with_past_model.onnx}. */
        SPLIT("optimum-split"),
        /** {@code decoder_model_merged.onnx} with {@code use_cache_branch}. */
        MERGED("optimum-merged");

        private final String id;

        Variant(String id) {
            this.id = id;
        }

        public String id() {
            return id;
        }

        public static Variant parse(String value) {
            for (Variant v : values()) {
                if (v.id.equals(value.trim().toLowerCase(Locale.ROOT))) {
                    return v;
                }
            }
            throw new IllegalArgumentException("unknown T5 layout '" + value + "' (expected optimum-split or optimum-merged)");
        }
    }

    private final ObjectMapper json = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    public static String cacheName(T5Shape shape, Variant variant, long seed) {
        return "demo-t5-" + shape.presetId() + "-" + variant.id() + "-s" + seed + "-v" + BUILDER_VERSION;
    }

    /** Returns {@code dir}, writing it first unless a complete copy is already there. */
    public Path ensure(Path dir, T5Shape shape, Variant variant, long seed) throws IOException {
        return DemoModelWriter.ensureComplete(dir, tmp -> write(tmp, shape, variant, seed));
    }

    public void write(Path dir, T5Shape s, Variant variant, long seed) throws IOException {
        T5GraphBuilder builder = new T5GraphBuilder(s, seed);
        try (OutputStream out = open(dir.resolve("encoder_model.onnx"))) {
            builder.writeEncoder(out);
        }
        if (variant == Variant.MERGED) {
            try (OutputStream out = open(dir.resolve("decoder_model_merged.onnx"))) {
                builder.writeMergedDecoder(out);
            }
        } else {
            try (OutputStream out = open(dir.resolve("decoder_model.onnx"))) {
                builder.writeDecoder(out, false);
            }
            try (OutputStream out = open(dir.resolve("decoder_with_past_model.onnx"))) {
                builder.writeDecoder(out, true);
            }
        }
        json.writeValue(dir.resolve("tokenizer.json").toFile(), T5TokenizerJson.build(json, s.vocabSize()));

        ObjectNode config = json.createObjectNode();
        config.put("model_type", "t5");
        config.putArray("architectures").add("T5ForConditionalGeneration");
        config.put("is_encoder_decoder", true);
        config.put("vocab_size", s.vocabSize());
        config.put("d_model", s.dModel());
        config.put("d_kv", s.dKv());
        config.put("d_ff", s.dFf());
        config.put("num_layers", s.numLayers());
        config.put("num_decoder_layers", s.numLayers());
        config.put("num_heads", s.numHeads());
        config.put("relative_attention_num_buckets", s.numBuckets());
        config.put("relative_attention_max_distance", s.maxDistance());
        config.put("feed_forward_proj", "relu");
        config.put("tie_word_embeddings", false);
        config.put("n_positions", s.contextLength());
        config.put("pad_token_id", T5TokenizerJson.PAD_ID);
        config.put("eos_token_id", T5TokenizerJson.EOS_ID);
        config.put("decoder_start_token_id", T5TokenizerJson.PAD_ID);
        ObjectNode demo = config.putObject("spindle_demo");
        demo.put("random_weights", true);
        demo.put("preset", s.presetId());
        demo.put("layout", variant.id());
        demo.put("seed", seed);
        demo.put("builder_version", BUILDER_VERSION);
        json.writeValue(dir.resolve("config.json").toFile(), config);

        ObjectNode gen = json.createObjectNode();
        gen.put("decoder_start_token_id", T5TokenizerJson.PAD_ID);
        gen.put("eos_token_id", T5TokenizerJson.EOS_ID);
        gen.put("pad_token_id", T5TokenizerJson.PAD_ID);
        json.writeValue(dir.resolve("generation_config.json").toFile(), gen);

        ObjectNode tok = json.createObjectNode();
        tok.put("tokenizer_class", "T5Tokenizer");
        tok.put("model_max_length", s.contextLength());
        tok.put("eos_token", T5TokenizerJson.EOS);
        tok.put("pad_token", T5TokenizerJson.PAD);
        tok.put("unk_token", T5TokenizerJson.UNK);
        json.writeValue(dir.resolve("tokenizer_config.json").toFile(), tok);
    }

    private static OutputStream open(Path file) throws IOException {
        return new BufferedOutputStream(Files.newOutputStream(file), 1 << 20);
    }
}
