package io.spindle.testing;

import io.spindle.runtime.demo.DemoLayout;
import io.spindle.runtime.demo.DemoModelWriter;
import io.spindle.runtime.demo.Gpt2Shape;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.stream.Stream;

/** Model folders for tests of loading: real external exports copied as users place them, and broken ones. */
public final class ModelFolders {
    /** onnxruntime-genai's tiny random GPT-2, exactly as that repository lays it out (see its SOURCE.md). */
    public static final Path GENAI_GPT2 = Path.of("src/test/resources/external-models/onnxruntime-genai-tiny-random-gpt2");

    private ModelFolders() {
    }

    /** Copies the genai folder unchanged to {@code dir}. */
    public static Path copyGenaiGpt2(Path dir) {
        try {
            Files.createDirectories(dir);
            try (Stream<Path> files = Files.list(GENAI_GPT2)) {
                for (Path f : files.toList()) {
                    Files.copy(f, dir.resolve(f.getFileName()), StandardCopyOption.REPLACE_EXISTING);
                }
            }
            return dir;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * A GPT-2 folder that loads (config, tokenizer, a valid graph) but whose position table holds one
     * positions while config.json claims 256, so its warm-up's first forward pass fails in ONNX Runtime.
     */
    public static Path failsWarmUp(Path dir) {
        try {
            if (!Files.isRegularFile(dir.resolve("model.onnx"))) {
                Files.createDirectories(dir);
                new DemoModelWriter().write(dir, new Gpt2Shape(1, 32, 2, 1, Gpt2Shape.GPT2_VOCAB), "fails-warm-up",
                        DemoLayout.OPTIMUM, 5);
                var json = new com.fasterxml.jackson.databind.ObjectMapper();
                var config = (com.fasterxml.jackson.databind.node.ObjectNode) json.readTree(dir.resolve("config.json").toFile());
                config.put("n_positions", 256).put("n_ctx", 256);
                json.writeValue(dir.resolve("config.json").toFile(), config);
            }
            return dir;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
