package io.spindle.app;

import io.spindle.engine.Engine;
import io.spindle.engine.EngineConfig;
import io.spindle.generation.ServedModel;
import io.spindle.model.ModelCard;
import io.spindle.model.ModelConfig;
import io.spindle.model.ModelConfigException;
import io.spindle.runtime.family.gpt2.Gpt2Loader;
import io.spindle.runtime.family.gpt2.Gpt2Runner;
import io.spindle.runtime.onnx.ModelLoadException;
import io.spindle.runtime.onnx.OrtRuntime;
import io.spindle.text.ChatTemplate;
import io.spindle.text.TextTokenizer;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.Set;

/** Turns one model directory into a serving model: config, tokenizer, graph, engine thread. */
final class ModelLoader {
    /** Hugging Face model types served by the GPT-2-family decoder runner. */
    private static final Set<String> DECODER_TYPES = Set.of("gpt2");

    private final OrtRuntime ort;
    private final EngineConfig engineConfig;

    ModelLoader(OrtRuntime ort, EngineConfig engineConfig) {
        this.ort = ort;
        this.engineConfig = engineConfig;
    }

    /** Loads and starts a model; the caller closes the engine. Throws with a message naming the file at fault. */
    Loaded load(String id, Path dir) throws ModelLoadException, ModelConfigException, IOException {
        ModelConfig config = ModelConfig.read(dir);
        if (!DECODER_TYPES.contains(config.modelType())) {
            throw new ModelConfigException(dir.resolve("config.json"), "model_type '" + config.modelType()
                    + "' is not served yet (supported: " + DECODER_TYPES + ")");
        }
        TextTokenizer tokenizer = TextTokenizer.load(dir.resolve("tokenizer.json"));
        Gpt2Runner runner;
        try {
            runner = Gpt2Loader.load(ort, dir, config);
        } catch (ModelLoadException | RuntimeException e) {
            tokenizer.close();
            throw e;
        }
        Engine engine = new Engine(id, runner, engineConfig).start();
        ModelCard card = new ModelCard(id, "gpt2", List.of("text-generation", "chat"), config.contextLength(),
                runner.vocabSize(), runner.graph().layoutName(), config.randomWeights(), config.chatTemplate() != null,
                ort.provider().name().toLowerCase(java.util.Locale.ROOT), Instant.now().getEpochSecond());
        ServedModel served = new ServedModel(card, engine, tokenizer,
                new ChatTemplate(config.chatTemplate(), config.bosToken(), config.eosToken()), config.eosTokenIds());
        return new Loaded(served, engine, tokenizer);
    }

    record Loaded(ServedModel model, Engine engine, TextTokenizer tokenizer) {
    }
}
