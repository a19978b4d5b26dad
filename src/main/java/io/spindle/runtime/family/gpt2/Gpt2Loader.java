package io.spindle.runtime.family.gpt2;

import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import io.spindle.model.ModelConfig;
import io.spindle.runtime.onnx.GraphSignature;
import io.spindle.runtime.onnx.ModelLoadException;
import io.spindle.runtime.onnx.OrtRuntime;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * Finds and opens a decoder's graph files in a model directory, in the layouts exporters produce:
 * {@code model.onnx} (Optimum with past, or ONNX Runtime's GPT-2), {@code decoder_model_merged.onnx}
 * (with {@code use_cache_branch}), or {@code decoder_model.onnx} + {@code decoder_with_past_model.onnx};
 * or the file an onnxruntime-genai folder names ({@link ModelConfig#graphFile()}, e.g. {@code past.onnx}).
 */
public final class Gpt2Loader {
    private Gpt2Loader() {
    }

    /** True when the directory holds any decoder graph this loader recognises by file name. */
    public static boolean hasDecoderGraph(Path dir) {
        return List.of("model.onnx", "decoder_model_merged.onnx", "decoder_with_past_model.onnx").stream()
                .anyMatch(f -> Files.isRegularFile(dir.resolve(f)));
    }

    public static Gpt2Runner load(OrtRuntime ort, Path dir, ModelConfig config) throws ModelLoadException {
        if (config.graphFile() != null) {
            // The folder names its graph (onnxruntime-genai's genai_config.json): that file, or nothing.
            Path named = dir.resolve(config.graphFile());
            if (!Files.isRegularFile(named)) {
                throw new ModelLoadException(named, "file not found (genai_config.json names it as the decoder graph)");
            }
            return open(ort, named, null, config);
        }
        Path merged = dir.resolve("decoder_model_merged.onnx");
        Path single = dir.resolve("model.onnx");
        Path withPast = dir.resolve("decoder_with_past_model.onnx");
        Path noPast = dir.resolve("decoder_model.onnx");
        if (Files.isRegularFile(merged)) {
            return open(ort, merged, null, config);
        }
        if (Files.isRegularFile(withPast)) {
            if (!Files.isRegularFile(noPast)) {
                throw new ModelLoadException(noPast, "file not found (decoder_with_past_model.onnx needs it for the prompt)");
            }
            return open(ort, withPast, noPast, config);
        }
        if (Files.isRegularFile(single)) {
            return open(ort, single, null, config);
        }
        throw new ModelLoadException(dir, "no decoder graph: expected model.onnx, decoder_model_merged.onnx, "
                + "or decoder_model.onnx + decoder_with_past_model.onnx");
    }

    private static Gpt2Runner open(OrtRuntime ort, Path withPastFile, Path noPastFile, ModelConfig config)
            throws ModelLoadException {
        OrtSession withPast = ort.open(withPastFile);
        OrtSession noPast = null;
        try {
            Gpt2Graph graph = Gpt2Graph.recognise(GraphSignature.of(withPastFile, withPast), config.numHeads());
            if (noPastFile != null) {
                noPast = ort.open(noPastFile);
                GraphSignature sig = GraphSignature.of(noPastFile, noPast);
                sig.input("input_ids");
                sig.output("logits");
                for (String p : graph.presentNames()) {
                    sig.output(p);
                }
            }
            if (config.vocabSize() > 0 && config.vocabSize() != graph.vocabSize() && graph.vocabSize() > 0) {
                throw new ModelLoadException(withPastFile, "logits have " + graph.vocabSize()
                        + " entries but config.json says vocab_size " + config.vocabSize());
            }
            return new Gpt2Runner(ort.env(), withPast, noPast, graph, config.contextLength());
        } catch (ModelLoadException | RuntimeException e) {
            closeQuietly(withPast);
            closeQuietly(noPast);
            throw e;
        }
    }

    private static void closeQuietly(OrtSession s) {
        if (s != null) {
            try {
                s.close();
            } catch (OrtException ignored) {
                // Already failing; the load error is the one worth reporting.
            }
        }
    }
}
