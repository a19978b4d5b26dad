package io.spindle.runtime.family.t5;

import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import io.spindle.model.ModelConfig;
import io.spindle.runtime.onnx.GraphSignature;
import io.spindle.runtime.onnx.ModelLoadException;
import io.spindle.runtime.onnx.OrtRuntime;
import io.spindle.runtime.onnx.ServedWeights;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Opens an Optimum seq2seq export ({@code text2text-generation-with-past}): {@code encoder_model.onnx}
 * and either {@code decoder_model_merged.onnx} or {@code decoder_model.onnx} +
 * {@code decoder_with_past_model.onnx}. The merged decoder wins when both are there.
 */
public final class T5Loader {
    private T5Loader() {
    }

    public static T5Runner load(OrtRuntime ort, Path dir, ModelConfig config) throws ModelLoadException {
        return load(ort, dir, config, ServedWeights.asExported());
    }

    /** @param weights the model's quantize setting, applied to each of its graphs */
    public static T5Runner load(OrtRuntime ort, Path dir, ModelConfig config, ServedWeights weights)
            throws ModelLoadException {
        Path encoderFile = dir.resolve("encoder_model.onnx");
        Path merged = dir.resolve("decoder_model_merged.onnx");
        Path noPastFile = dir.resolve("decoder_model.onnx");
        Path withPastFile = dir.resolve("decoder_with_past_model.onnx");
        if (!Files.isRegularFile(encoderFile)) {
            throw new ModelLoadException(encoderFile, "file not found (an encoder-decoder export needs its encoder)");
        }
        boolean isMerged = Files.isRegularFile(merged);
        if (!isMerged && !(Files.isRegularFile(noPastFile) && Files.isRegularFile(withPastFile))) {
            throw new ModelLoadException(dir, "no decoder: expected decoder_model_merged.onnx, or decoder_model.onnx + "
                    + "decoder_with_past_model.onnx (optimum-cli export onnx --task text2text-generation-with-past)");
        }
        if (config.decoderStartTokenId() < 0) {
            throw new ModelLoadException(dir.resolve("config.json"), "no decoder_start_token_id (in config.json or "
                    + "generation_config.json)");
        }
        List<OrtSession> opened = new ArrayList<>();
        try {
            OrtSession encoder = open(ort, weights, encoderFile, opened);
            OrtSession withPast = open(ort, weights, isMerged ? merged : withPastFile, opened);
            OrtSession noPast = isMerged ? null : open(ort, weights, noPastFile, opened);
            T5Graph graph = T5Graph.recognise(GraphSignature.of(encoderFile, encoder),
                    GraphSignature.of(isMerged ? merged : withPastFile, withPast),
                    noPast == null ? null : GraphSignature.of(noPastFile, noPast), config.numHeads(), config.headDim());
            if (config.vocabSize() > 0 && config.vocabSize() != graph.vocabSize()) {
                throw new ModelLoadException(isMerged ? merged : withPastFile, "logits have " + graph.vocabSize()
                        + " entries but config.json says vocab_size " + config.vocabSize());
            }
            return new T5Runner(ort.env(), encoder, noPast, withPast, graph, config.decoderStartTokenId(),
                    config.contextLength(), config.contextLength());
        } catch (ModelLoadException | RuntimeException e) {
            for (OrtSession s : opened) {
                try {
                    s.close();
                } catch (OrtException ignored) {
                    // Already failing; the load error is the one worth reporting.
                }
            }
            throw e;
        }
    }

    private static OrtSession open(OrtRuntime ort, ServedWeights weights, Path file, List<OrtSession> opened)
            throws ModelLoadException {
        OrtSession s = weights.open(file, ort::open);
        opened.add(s);
        return s;
    }
}
