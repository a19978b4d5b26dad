package io.spindle.runtime.family.bert;

import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.spindle.engine.exec.EncoderRunner;
import io.spindle.runtime.onnx.HeadGather;
import io.spindle.runtime.onnx.ModelLoadException;
import io.spindle.runtime.onnx.OrtRuntime;
import io.spindle.runtime.onnx.ServedWeights;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Opens a BERT-family encoder directory: {@code model.onnx} (or {@code onnx/model.onnx}), a
 * feature-extraction graph or a masked-LM one, and,
 * when present, sentence-transformers' {@code 1_Pooling/config.json} (pooling mode) and
 * {@code modules.json} (a Normalize module); without them, mean pooling and L2 normalisation. A
 * masked-LM graph is rewritten, once and cached, to compute logits at the masks only.
 */
public final class BertLoader {
    private static final ObjectMapper JSON = new ObjectMapper();

    private BertLoader() {
    }

    /**
     * An embedding model, or a masked-LM model when the graph's output is {@code logits} (a fill-mask
     * export); {@code maskTokenId} is the latter's mask token, -1 when the tokenizer has none.
     *
     * @param rewriteCache where a masked-LM graph rewritten to compute logits at the masks only is kept
     *                     ({@link HeadGather}); null serves every graph as exported
     */
    public static EncoderRunner load(OrtRuntime ort, Path dir, int contextLength, int maskTokenId, Path rewriteCache)
            throws ModelLoadException {
        return load(ort, dir, contextLength, maskTokenId, rewriteCache, ServedWeights.asExported());
    }

    /**
     * @param weights the model's quantize setting, applied once the graph it is served from is settled
     *                (a masked-LM rewrite is probed in float32)
     */
    public static EncoderRunner load(OrtRuntime ort, Path dir, int contextLength, int maskTokenId, Path rewriteCache,
                                     ServedWeights weights) throws ModelLoadException {
        Path graph = Files.isRegularFile(dir.resolve("model.onnx")) ? dir.resolve("model.onnx")
                : dir.resolve("onnx").resolve("model.onnx");
        if (!Files.isRegularFile(graph)) {
            throw new ModelLoadException(dir, "no encoder graph: expected model.onnx or onnx/model.onnx");
        }
        Pooling pooling = pooling(dir);
        HeadGather gather;
        Path cached;
        try {
            gather = rewriteCache == null ? null : HeadGather.of(graph, rewriteCache);
            cached = gather == null ? null : gather.cached();
        } catch (IOException e) {
            throw new ModelLoadException(graph, "cannot read the graph or its rewrite cache: " + e.getMessage(), e);
        }
        Path opened = cached != null ? cached : graph;
        OrtSession session = ort.openForVaryingShapes(opened);
        try {
            if (!session.getInputNames().containsAll(java.util.List.of("input_ids", "attention_mask"))) {
                throw new ModelLoadException(graph, "an encoder graph needs inputs input_ids and attention_mask, has "
                        + session.getInputNames());
            }
            if (session.getOutputNames().contains("logits") && !session.getOutputNames().contains("last_hidden_state")) {
                long[] logits = ((ai.onnxruntime.TensorInfo) session.getOutputInfo().get("logits").getInfo()).getShape();
                if (maskTokenId < 0) {
                    throw new ModelLoadException(graph, "a masked-LM graph (output 'logits') needs a mask token: "
                            + "tokenizer_config.json's mask_token, or [MASK] in tokenizer.json's added_tokens");
                }
                int vocab = logits.length == 3 && logits[2] > 0 ? (int) logits[2] : vocabFromConfig(dir);
                if (gather != null && cached == null) {
                    HeadGather.Outcome outcome = MaskedLmGather.rewrite(gather, graph, ort, session);
                    session = outcome.session();
                    opened = outcome.file();
                }
                session = weights.serve(session, opened, ort::openForVaryingShapes);
                return new MaskedLmEncoder(ort.env(), session, vocab, contextLength, maskTokenId);
            }
            String out = BertEncoder.tokenOutput(session);
            long[] shape = ((ai.onnxruntime.TensorInfo) session.getOutputInfo().get(out).getInfo()).getShape();
            int hidden = shape[2] > 0 ? (int) shape[2] : hiddenFromConfig(dir);
            session = weights.serve(session, opened, ort::openForVaryingShapes);
            return new BertEncoder(ort.env(), session, hidden, contextLength, pooling);
        } catch (OrtException | IOException e) {
            closeQuietly(session);
            throw new ModelLoadException(graph, String.valueOf(e.getMessage()), e);
        } catch (ModelLoadException | RuntimeException e) {
            closeQuietly(session);
            throw e;
        }
    }

    private static int vocabFromConfig(Path dir) throws IOException {
        int v = JSON.readTree(dir.resolve("config.json").toFile()).path("vocab_size").asInt(0);
        if (v <= 0) {
            throw new IOException("the graph's vocabulary size is dynamic and config.json has no vocab_size");
        }
        return v;
    }

    private static int hiddenFromConfig(Path dir) throws IOException {
        int h = JSON.readTree(dir.resolve("config.json").toFile()).path("hidden_size").asInt(0);
        if (h <= 0) {
            throw new IOException("the graph's hidden size is dynamic and config.json has no hidden_size");
        }
        return h;
    }

    static Pooling pooling(Path dir) throws ModelLoadException {
        try {
            Pooling.Mode mode = Pooling.Mode.MEAN;
            Path poolingConfig = dir.resolve("1_Pooling").resolve("config.json");
            if (Files.isRegularFile(poolingConfig)) {
                JsonNode p = JSON.readTree(poolingConfig.toFile());
                mode = p.path("pooling_mode_cls_token").asBoolean(false) ? Pooling.Mode.CLS
                        : p.path("pooling_mode_max_tokens").asBoolean(false) ? Pooling.Mode.MAX : Pooling.Mode.MEAN;
            }
            boolean normalize = true;
            Path modules = dir.resolve("modules.json");
            if (Files.isRegularFile(modules)) {
                normalize = false;
                for (JsonNode m : JSON.readTree(modules.toFile())) {
                    normalize |= m.path("type").asText("").endsWith("Normalize");
                }
            }
            return new Pooling(mode, normalize);
        } catch (IOException e) {
            throw new ModelLoadException(dir, "cannot read the pooling configuration: " + e.getMessage(), e);
        }
    }

    private static void closeQuietly(OrtSession s) {
        try {
            s.close();
        } catch (OrtException ignored) {
            // already failing
        }
    }
}
