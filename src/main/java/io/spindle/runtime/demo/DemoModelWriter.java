package io.spindle.runtime.demo;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.spindle.runtime.onnx.KvDtype;

import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Comparator;
import java.util.stream.Stream;

/**
 * Writes a complete model directory (DESIGN.md §4) for a demo GPT-2: graph, config.json,
 * generation_config.json, tokenizer.json and tokenizer_config.json. The directory is built beside
 * its destination and moved into place, so a crash never leaves a half-written model behind.
 */
public final class DemoModelWriter {
    /** Bump when the graph or files change, so cached copies from older builds are not reused. */
    public static final int BUILDER_VERSION = 4;
    public static final long DEFAULT_SEED = 1234;

    /** A chat template in Hugging Face's Jinja dialect, so the demo exercises the template engine. */
    /**
     * A small template in the style of Hermes/Qwen tool calling: the offered tools as JSON lines,
     * an assistant's calls as {@code <tool_call>{"name": …, "arguments": …}</tool_call>}, tool
     * results as their own turns.
     */
    static final String CHAT_TEMPLATE = "{% if tools %}{{ '<|tools|>\\n' }}{% for tool in tools %}{{ (tool | tojson) + '\\n' }}"
            + "{% endfor %}{% endif %}{% for message in messages %}"
            + "{{ '<|' + message['role'] + '|>\\n' + message['content'] }}"
            + "{% if message['tool_calls'] %}{% for call in message['tool_calls'] %}"
            + "{{ '<tool_call>' + (call['function'] | tojson) + '</tool_call>' }}{% endfor %}{% endif %}{{ '\\n' }}"
            + "{% endfor %}{% if add_generation_prompt %}{{ '<|assistant|>\\n' }}{% endif %}";

    private final ObjectMapper json = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
    private final boolean gatherLogits;
    /** The in-place KV layout's cache element type (spindle.models.kv-dtype); other layouts are float32. */
    private final KvDtype kvDtype;

    /** A writer of Spindle's serving form: decoder graphs compute logits only where asked ({@link Gpt2GraphBuilder}). */
    public DemoModelWriter() {
        this(true, KvDtype.FLOAT32);
    }

    private DemoModelWriter(boolean gatherLogits, KvDtype kvDtype) {
        this.gatherLogits = gatherLogits;
        this.kvDtype = kvDtype;
    }

    /** A writer of decoder graphs as exporters write them: logits at every position. */
    public static DemoModelWriter asExported() {
        return new DemoModelWriter(false, KvDtype.FLOAT32);
    }

    /** This writer with the {@link DemoLayout#IN_PLACE_KV} layout's cache and attention in {@code dtype}. */
    public DemoModelWriter withKvDtype(KvDtype dtype) {
        return new DemoModelWriter(gatherLogits, dtype);
    }

    /** The folder name a preset/layout pair is cached under; changes with the builder version and seed. */
    public static String cacheName(DemoPreset preset, DemoLayout layout, long seed) {
        return "demo-gpt2-" + preset.id() + "-" + layout.id() + "-s" + seed + "-v" + BUILDER_VERSION;
    }

    /** {@link #cacheName(DemoPreset, DemoLayout, long)} of a layout written with a cache element type. */
    public static String cacheName(DemoPreset preset, DemoLayout layout, long seed, KvDtype kvDtype) {
        String base = cacheName(preset, layout, seed);
        return layout == DemoLayout.IN_PLACE_KV && kvDtype != KvDtype.FLOAT32 ? base + "-kv-" + kvDtype.id() : base;
    }

    /** Returns {@code dir}, writing it first unless a complete copy is already there. */
    public Path ensure(Path dir, DemoPreset preset, DemoLayout layout, long seed) throws IOException {
        return ensureComplete(dir, tmp -> write(tmp, preset, layout, seed));
    }

    /** Writes a model directory's files into an empty folder. */
    @FunctionalInterface
    interface Contents {
        void writeInto(Path dir) throws IOException;
    }

    /**
     * Returns {@code dir}, first writing it through {@code contents} unless a complete copy is already
     * there. The files are written beside it and moved into place, so that no reader ever sees half.
     */
    static Path ensureComplete(Path dir, Contents contents) throws IOException {
        if (Files.isRegularFile(dir.resolve("config.json")) && Files.isRegularFile(dir.resolve("tokenizer.json"))) {
            return dir;
        }
        Files.createDirectories(dir.getParent());
        Path tmp = Files.createTempDirectory(dir.getParent(), dir.getFileName() + ".tmp");
        try {
            contents.writeInto(tmp);
            try {
                Files.move(tmp, dir, StandardCopyOption.ATOMIC_MOVE);
            } catch (AtomicMoveNotSupportedException | FileAlreadyExistsException e) {
                // Another process won the race, or the filesystem cannot rename atomically; either
                // way a complete copy exists or is about to.
                if (!Files.exists(dir)) {
                    Files.move(tmp, dir);
                }
            } catch (IOException e) {
                if (!Files.isRegularFile(dir.resolve("config.json"))) {
                    throw e;
                }
            }
        } finally {
            deleteRecursively(tmp);
        }
        return dir;
    }

    public void write(Path dir, DemoPreset preset, DemoLayout layout, long seed) throws IOException {
        write(dir, preset.shape(), preset.id(), layout, seed);
    }

    /** Writes a model of any shape; {@code label} names it in config.json's spindle_demo block. */
    public void write(Path dir, Gpt2Shape s, String label, DemoLayout layout, long seed) throws IOException {
        if (layout == DemoLayout.OPTIMUM_SPLIT) {
            writeGraph(dir.resolve("decoder_model.onnx"), new Gpt2GraphBuilder(s, layout, false, seed, gatherLogits));
            writeGraph(dir.resolve("decoder_with_past_model.onnx"), new Gpt2GraphBuilder(s, layout, true, seed, gatherLogits));
        } else if (layout == DemoLayout.IN_PLACE_KV) {
            // A serving form of Spindle's own, not an exporter's: always gathered.
            writeGraph(dir.resolve("model.onnx"), Gpt2GraphBuilder.inPlaceKv(s, seed, kvDtype));
        } else {
            writeGraph(dir.resolve("model.onnx"), new Gpt2GraphBuilder(s, layout, true, seed, gatherLogits));
        }
        json.writeValue(dir.resolve("tokenizer.json").toFile(), Gpt2TokenizerJson.build(json));

        ObjectNode config = json.createObjectNode();
        config.put("model_type", "gpt2");
        config.putArray("architectures").add("GPT2LMHeadModel");
        config.put("vocab_size", s.vocabSize());
        config.put("n_positions", s.contextLength());
        config.put("n_ctx", s.contextLength());
        config.put("n_embd", s.hiddenSize());
        config.put("n_layer", s.numLayers());
        config.put("n_head", s.numHeads());
        config.put("bos_token_id", Gpt2TokenizerJson.END_OF_TEXT_ID);
        config.put("eos_token_id", Gpt2TokenizerJson.END_OF_TEXT_ID);
        ObjectNode demo = config.putObject("spindle_demo");
        demo.put("random_weights", true);
        demo.put("preset", label);
        demo.put("layout", layout.id());
        demo.put("seed", seed);
        demo.put("builder_version", BUILDER_VERSION);
        demo.put("logits", gatherLogits || layout == DemoLayout.IN_PLACE_KV ? "gathered" : "every-position");
        if (layout == DemoLayout.IN_PLACE_KV) {
            demo.put("kv_dtype", kvDtype.id());
        }
        json.writeValue(dir.resolve("config.json").toFile(), config);

        ObjectNode gen = json.createObjectNode();
        gen.put("bos_token_id", Gpt2TokenizerJson.END_OF_TEXT_ID);
        gen.put("eos_token_id", Gpt2TokenizerJson.END_OF_TEXT_ID);
        json.writeValue(dir.resolve("generation_config.json").toFile(), gen);

        ObjectNode tok = json.createObjectNode();
        tok.put("tokenizer_class", "GPT2Tokenizer");
        tok.put("model_max_length", s.contextLength());
        tok.put("bos_token", Gpt2TokenizerJson.END_OF_TEXT);
        tok.put("eos_token", Gpt2TokenizerJson.END_OF_TEXT);
        tok.put("unk_token", Gpt2TokenizerJson.END_OF_TEXT);
        tok.put("chat_template", CHAT_TEMPLATE);
        json.writeValue(dir.resolve("tokenizer_config.json").toFile(), tok);
    }

    private static void writeGraph(Path file, Gpt2GraphBuilder builder) throws IOException {
        try (OutputStream out = new BufferedOutputStream(Files.newOutputStream(file), 1 << 20)) {
            builder.write(out);
        }
    }

    private static void deleteRecursively(Path p) throws IOException {
        if (!Files.exists(p)) {
            return;
        }
        try (Stream<Path> walk = Files.walk(p)) {
            for (Path q : walk.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(q);
            }
        }
    }
}
