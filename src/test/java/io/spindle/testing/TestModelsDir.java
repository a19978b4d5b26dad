package io.spindle.testing;

import io.quarkus.test.common.QuarkusTestResourceLifecycleManager;
import io.spindle.runtime.demo.DemoLayout;
import io.spindle.runtime.demo.DemoModelWriter;
import io.spindle.runtime.demo.Gpt2Shape;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/**
 * Fills the test profile's models directory before the server starts with models that go wrong in
 * the ways real ones do: a graph whose position table is shorter than its config claims (it fails
 * mid-generation), a config.json that is not JSON, and a directory without a graph.
 */
public final class TestModelsDir implements QuarkusTestResourceLifecycleManager {
    public static final Path DIR = Path.of("target", "test-models-dir");
    public static final String SHORT_POSITIONS = "short-positions";
    public static final String BAD_JSON = "bad-json";
    public static final String NO_GRAPH = "no-graph";
    /** The short-positions model fails once a sequence reaches this many tokens. */
    public static final int REAL_POSITIONS = 24;

    @Override
    public Map<String, String> start() {
        try {
            Path broken = DIR.resolve(SHORT_POSITIONS);
            if (!Files.isRegularFile(broken.resolve("model.onnx"))) {
                Files.createDirectories(broken);
                new DemoModelWriter().write(broken, new Gpt2Shape(1, 32, 2, REAL_POSITIONS, Gpt2Shape.GPT2_VOCAB),
                        "short-positions", DemoLayout.OPTIMUM, 5);
                String config = Files.readString(broken.resolve("config.json"))
                        .replace("\"n_positions\" : " + REAL_POSITIONS, "\"n_positions\" : 256")
                        .replace("\"n_ctx\" : " + REAL_POSITIONS, "\"n_ctx\" : 256");
                Files.writeString(broken.resolve("config.json"), config);
            }
            Path bad = DIR.resolve(BAD_JSON);
            Files.createDirectories(bad);
            Files.writeString(bad.resolve("config.json"), "{\"model_type\": \"gpt2\", oops");
            Path noGraph = DIR.resolve(NO_GRAPH);
            Files.createDirectories(noGraph);
            Files.copy(TestModels.tiny(DemoLayout.OPTIMUM).resolve("config.json"), noGraph.resolve("config.json"),
                    java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            Files.copy(TestModels.tiny(DemoLayout.OPTIMUM).resolve("tokenizer.json"), noGraph.resolve("tokenizer.json"),
                    java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            return Map.of();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Override
    public void stop() {
    }
}
