package io.spindle.runtime.family.gpt2;

import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import io.spindle.model.ModelConfig;
import io.spindle.runtime.onnx.GatherRewrite;
import io.spindle.runtime.onnx.GraphSignature;
import io.spindle.runtime.onnx.HeadGather;
import io.spindle.runtime.onnx.ModelLoadException;
import io.spindle.runtime.onnx.OrtRuntime;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.logging.Logger;

/**
 * Finds and opens a decoder's graph files in a model directory, in the layouts exporters produce:
 * {@code model.onnx} (Optimum with past, or ONNX Runtime's GPT-2), {@code decoder_model_merged.onnx}
 * (with {@code use_cache_branch}), or {@code decoder_model.onnx} + {@code decoder_with_past_model.onnx};
 * or the file an onnxruntime-genai folder names ({@link ModelConfig#graphFile()}, e.g. {@code past.onnx}).
 * A {@code model.onnx} in Spindle's in-place KV form ({@link Gpt2Graph#inPlaceKv()}) gets an
 * {@link InPlaceKvRunner}; every other graph a {@link Gpt2Runner}.
 */
public final class Gpt2Loader {
    private static final Logger LOG = Logger.getLogger(Gpt2Loader.class.getName());

    private Gpt2Loader() {
    }

    /** True when the directory holds any decoder graph this loader recognises by file name. */
    public static boolean hasDecoderGraph(Path dir) {
        return List.of("model.onnx", "decoder_model_merged.onnx", "decoder_with_past_model.onnx").stream()
                .anyMatch(f -> Files.isRegularFile(dir.resolve(f)));
    }

    public static Gpt2Decoder load(OrtRuntime ort, Path dir, ModelConfig config) throws ModelLoadException {
        return load(ort, dir, config, null);
    }

    /**
     * @param rewriteCache where graphs that compute logits at every position are kept rewritten to
     *                     compute them only where the engine samples ({@link HeadGather}); null serves
     *                     every graph as exported
     */
    public static Gpt2Decoder load(OrtRuntime ort, Path dir, ModelConfig config, Path rewriteCache)
            throws ModelLoadException {
        Loading loading = new Loading(ort, config, rewriteCache);
        if (config.graphFile() != null) {
            // The folder names its graph (onnxruntime-genai's genai_config.json): that file, or nothing.
            Path named = dir.resolve(config.graphFile());
            if (!Files.isRegularFile(named)) {
                throw new ModelLoadException(named, "file not found (genai_config.json names it as the decoder graph)");
            }
            return loading.open(named, null);
        }
        Path merged = dir.resolve("decoder_model_merged.onnx");
        Path single = dir.resolve("model.onnx");
        Path withPast = dir.resolve("decoder_with_past_model.onnx");
        Path noPast = dir.resolve("decoder_model.onnx");
        if (Files.isRegularFile(merged)) {
            return loading.open(merged, null);
        }
        if (Files.isRegularFile(withPast)) {
            if (!Files.isRegularFile(noPast)) {
                throw new ModelLoadException(noPast, "file not found (decoder_with_past_model.onnx needs it for the prompt)");
            }
            return loading.open(withPast, noPast);
        }
        if (Files.isRegularFile(single)) {
            return loading.open(single, null);
        }
        throw new ModelLoadException(dir, "no decoder graph: expected model.onnx, decoder_model_merged.onnx, "
                + "or decoder_model.onnx + decoder_with_past_model.onnx");
    }

    /** One model's loading: the runtime, its config and where rewritten graphs are cached. */
    private record Loading(OrtRuntime ort, ModelConfig config, Path rewriteCache) {
        Gpt2Decoder open(Path withPastFile, Path noPastFile) throws ModelLoadException {
            OrtSession withPast = null;
            OrtSession noPast = null;
            try {
                withPast = serving(withPastFile);
                if (noPastFile != null) {
                    noPast = serving(noPastFile);
                    if (gathers(withPast) != gathers(noPast)) {
                        // The runner feeds both the same way: serve both as exported.
                        LOG.warning("decoder graphs " + withPastFile + " and " + noPastFile + " are served as exported, "
                                + "with logits at every position, because only one of them computes them where sampled");
                        closeQuietly(withPast);
                        withPast = null;
                        closeQuietly(noPast);
                        noPast = null;
                        withPast = ort.open(withPastFile);
                        noPast = ort.open(noPastFile);
                    }
                }
                Gpt2Graph graph = Gpt2Graph.recognise(GraphSignature.of(withPastFile, withPast), config.numHeads());
                if (noPast != null) {
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
                if (graph.inPlaceKv()) {
                    if (noPast != null) {
                        throw new ModelLoadException(noPastFile, "an in-place KV graph is served alone; "
                                + "it takes prompts itself, no separate graph without past");
                    }
                    InPlaceKvRunner.Binding binding = ort.binding() == OrtRuntime.Binding.JAVA_API
                            ? InPlaceKvRunner.Binding.JAVA_API
                            : ort.provider() == OrtRuntime.Provider.CUDA ? InPlaceKvRunner.Binding.FFM_CUDA
                            : InPlaceKvRunner.Binding.FFM;
                    return new InPlaceKvRunner(ort.env(), withPast, graph, config.contextLength(), binding);
                }
                return new Gpt2Runner(ort.env(), withPast, noPast, graph, config.contextLength());
            } catch (ModelLoadException | RuntimeException e) {
                closeQuietly(withPast);
                closeQuietly(noPast);
                throw e;
            }
        }

        /**
         * A session on {@code file} in the serving form: the graph itself when it already computes
         * logits only where asked (or no rewrite cache is configured), else its rewrite (cached, or
         * made and probed now), else, with a log line saying why, the graph as exported.
         */
        private OrtSession serving(Path file) throws ModelLoadException {
            if (rewriteCache == null) {
                return ort.open(file);
            }
            HeadGather gather;
            try {
                gather = HeadGather.of(file, rewriteCache);
                Path cached = gather.cached();
                if (cached != null) {
                    return ort.open(cached);
                }
            } catch (IOException e) {
                throw new ModelLoadException(file, "cannot read the graph or its rewrite cache: " + e.getMessage(), e);
            }
            OrtSession original = ort.open(file);
            if (gathers(original)) {
                return original;
            }
            HeadGather.Outcome outcome = gather.rewrite(ort::open, original, (a, b) -> Gpt2Probe.mismatch(ort.env(), a, b));
            if (!outcome.rewritten()) {
                LOG.warning("decoder graph " + file + " is served as exported, with logits at every position "
                        + "(each prompt chunk computes chunk × vocabulary logits, ~30% of a GPT-2-small prefill), "
                        + "because " + outcome.whyNot());
            }
            return outcome.session();
        }

        private static boolean gathers(OrtSession s) {
            return s.getInputNames().contains(GatherRewrite.INPUT);
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
