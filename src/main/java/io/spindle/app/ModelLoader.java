package io.spindle.app;

import io.spindle.engine.Engine;
import io.spindle.engine.EncoderConfig;
import io.spindle.engine.EncoderEngine;
import io.spindle.engine.EngineConfig;
import io.spindle.generation.ServedModel;
import io.spindle.model.ModelCard;
import io.spindle.model.ModelConfig;
import io.spindle.model.ModelConfigException;
import io.spindle.engine.exec.EncoderRunner;
import io.spindle.runtime.family.bert.BertLoader;
import io.spindle.runtime.family.bert.MaskedLmEncoder;
import io.spindle.runtime.family.gpt2.Gpt2Loader;
import io.spindle.runtime.family.gpt2.Gpt2Decoder;
import io.spindle.runtime.family.t5.T5Loader;
import io.spindle.runtime.family.t5.T5Runner;
import io.spindle.runtime.onnx.ModelLoadException;
import io.spindle.runtime.onnx.OrtRuntime;
import io.spindle.runtime.onnx.ServedWeights;
import io.spindle.runtime.onnx.WeightFormat;
import io.spindle.sampling.constraint.TokenVocabulary;
import io.spindle.text.ChatTemplate;
import io.spindle.text.TextTokenizer;
import io.spindle.text.TokenBytes;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.Set;

/** Turns one model directory into a serving model: config, tokenizer, graph, engine thread. */
final class ModelLoader {
    /** Hugging Face model types served by the GPT-2-family decoder runner. */
    private static final Set<String> DECODER_TYPES = Set.of("gpt2");
    /** Hugging Face model types served by the T5-family encoder-decoder runner. */
    private static final Set<String> SEQ2SEQ_TYPES = Set.of("t5");
    /** Hugging Face model types served by the BERT-family encoder runner (feature extraction). */
    private static final Set<String> ENCODER_TYPES = Set.of("bert");

    private final OrtRuntime ort;
    private final EngineConfig engineConfig;
    private final EncoderConfig encoderConfig;
    /** Where rewritten graphs are cached (masked-LM heads at the masks only). */
    private final Path rewriteCache;

    /** The KV form GPT-2 exports are served in (spindle.models.kv-layout, kv-dtype). */
    private final Gpt2Loader.KvSettings kv;
    /** Which quantization each model is loaded with (spindle.models.quantize, quantize-for). */
    private final QuantizePolicy quantize;

    ModelLoader(OrtRuntime ort, EngineConfig engineConfig, EncoderConfig encoderConfig, Path rewriteCache) {
        this(ort, engineConfig, encoderConfig, rewriteCache, Gpt2Loader.KvSettings.AS_EXPORTED, QuantizePolicy.none());
    }

    ModelLoader(OrtRuntime ort, EngineConfig engineConfig, EncoderConfig encoderConfig, Path rewriteCache,
                Gpt2Loader.KvSettings kv, QuantizePolicy quantize) {
        this.kv = kv;
        this.quantize = quantize;
        this.ort = ort;
        this.engineConfig = engineConfig;
        this.encoderConfig = encoderConfig;
        this.rewriteCache = rewriteCache;
    }

    /** Loads and starts a model; the caller closes the engine. Throws with a message naming the file at fault. */
    Loaded load(String id, Path dir) throws ModelLoadException, ModelConfigException, IOException {
        ModelConfig config = ModelConfig.read(dir);
        ServedWeights weights = new ServedWeights(quantize.settings(id), rewriteCache);
        if (ENCODER_TYPES.contains(config.modelType())) {
            return loadEncoder(id, dir, config, weights);
        }
        if (SEQ2SEQ_TYPES.contains(config.modelType())) {
            return loadSeq2Seq(id, dir, config, weights);
        }
        if (!DECODER_TYPES.contains(config.modelType())) {
            throw new ModelConfigException(dir.resolve("config.json"), "model_type '" + config.modelType()
                    + "' is not served yet (supported: " + DECODER_TYPES + ", " + SEQ2SEQ_TYPES + ", " + ENCODER_TYPES + ")");
        }
        TextTokenizer tokenizer = TextTokenizer.load(dir.resolve("tokenizer.json"));
        Gpt2Decoder runner;
        try {
            runner = Gpt2Loader.load(ort, dir, config, rewriteCache, kv, weights);
        } catch (ModelLoadException | RuntimeException e) {
            tokenizer.close();
            throw e;
        }
        Engine engine = new Engine(id, runner, engineConfig).start();
        ModelCard card = new ModelCard(id, "gpt2", List.of("text-generation", "chat"), config.contextLength(),
                runner.vocabSize(), runner.graph().layoutName(), config.randomWeights(), config.chatTemplate() != null,
                ort.provider().name().toLowerCase(java.util.Locale.ROOT), Instant.now().getEpochSecond(), false, null,
                kvCache(engine), weights(weights));
        // Token bytes for constrained decoding (response_format, guided_*, TGI grammar).
        TokenVocabulary vocabulary = TokenBytes.read(dir.resolve("tokenizer.json"), runner.vocabSize(), config.eosTokenIds());
        ServedModel served = new ServedModel(card, engine, null, tokenizer,
                new ChatTemplate(config.chatTemplate(), config.bosToken(), config.eosToken()), config.eosTokenIds(),
                vocabulary);
        return new Loaded(served, engine, null, tokenizer);
    }

    private static ModelCard.KvCache kvCache(Engine engine) {
        return new ModelCard.KvCache(engine.kvCacheLocation(), engine.kvCacheBudgetBytes(), engine.kvBytesPerToken(),
                engine.kvCacheDtype());
    }

    private static ModelCard.Weights weights(ServedWeights weights) {
        WeightFormat format = weights.format();
        return new ModelCard.Weights(format.name(), format.describe(),
                weights.quantizes() ? weights.settings().describe() : "none");
    }

    private Loaded loadSeq2Seq(String id, Path dir, ModelConfig config, ServedWeights weights) throws ModelLoadException, IOException {
        TextTokenizer tokenizer = TextTokenizer.load(dir.resolve("tokenizer.json"));
        T5Runner runner;
        try {
            runner = T5Loader.load(ort, dir, config, weights);
        } catch (ModelLoadException | RuntimeException e) {
            tokenizer.close();
            throw e;
        }
        // Token bytes for constrained decoding, SentencePiece pieces with the first-token view of its decoder.
        TokenVocabulary vocabulary;
        try {
            vocabulary = TokenBytes.read(dir.resolve("tokenizer.json"), runner.vocabSize(), config.eosTokenIds());
        } catch (IOException | RuntimeException e) {
            runner.close();
            tokenizer.close();
            throw e;
        }
        Engine engine = new Engine(id, runner, engineConfig).start();
        List<String> tasks = config.chatTemplate() != null ? List.of("text2text-generation", "chat")
                : List.of("text2text-generation");
        ModelCard card = new ModelCard(id, "t5", tasks, config.contextLength(), runner.vocabSize(),
                runner.graph().layoutName(), config.randomWeights(), config.chatTemplate() != null,
                ort.provider().name().toLowerCase(java.util.Locale.ROOT), Instant.now().getEpochSecond(), true, null,
                kvCache(engine), weights(weights));
        ServedModel served = new ServedModel(card, engine, null, tokenizer,
                new ChatTemplate(config.chatTemplate(), config.bosToken(), config.eosToken()), config.eosTokenIds(),
                vocabulary);
        return new Loaded(served, engine, null, tokenizer);
    }

    private Loaded loadEncoder(String id, Path dir, ModelConfig config, ServedWeights weights) throws ModelLoadException, IOException {
        TextTokenizer tokenizer = TextTokenizer.load(dir.resolve("tokenizer.json"));
        EncoderEngine encoder;
        boolean maskedLm;
        String mask = config.maskToken() != null ? config.maskToken() : "[MASK]";
        try {
            EncoderRunner runner = BertLoader.load(ort, dir, config.contextLength(),
                    tokenizer.addedTokenId(mask).orElse(-1), rewriteCache, weights);
            maskedLm = runner instanceof MaskedLmEncoder;
            encoder = new EncoderEngine(id, runner, encoderConfig).start();
        } catch (ModelLoadException | RuntimeException e) {
            tokenizer.close();
            throw e;
        }
        ModelCard card = new ModelCard(id, "bert", List.of(maskedLm ? "fill-mask" : "embeddings"), config.contextLength(),
                config.vocabSize(), maskedLm ? "masked-lm" : "encoder", config.randomWeights(), false,
                ort.provider().name().toLowerCase(java.util.Locale.ROOT), Instant.now().getEpochSecond(), false,
                maskedLm ? mask : null, null, weights(weights));
        ServedModel served = new ServedModel(card, null, encoder, tokenizer, new ChatTemplate(null, null, null), new int[0]);
        return new Loaded(served, null, encoder, tokenizer);
    }

    /** A loaded model: exactly one of {@code engine} (decoder) and {@code encoder} is set. */
    record Loaded(ServedModel model, Engine engine, EncoderEngine encoder, TextTokenizer tokenizer) {
        void close() {
            if (engine != null) {
                engine.close();
            }
            if (encoder != null) {
                encoder.close();
            }
            tokenizer.close();
        }
    }
}
