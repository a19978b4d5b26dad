package io.spindle.runtime.family.gpt2;

import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import io.spindle.model.ModelConfig;
import io.spindle.runtime.onnx.GatherRewrite;
import io.spindle.runtime.onnx.GraphSignature;
import io.spindle.runtime.onnx.HeadGather;
import io.spindle.runtime.onnx.KvDtype;
import io.spindle.runtime.onnx.ModelLoadException;
import io.spindle.runtime.onnx.OrtRuntime;
import io.spindle.runtime.onnx.ServedWeights;

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
 * {@link InPlaceKvRunner}; every other graph a {@link Gpt2Runner}, unless {@link KvForm#IN_PLACE} asks
 * for exports to be compiled into the in-place form ({@link InPlaceCompile}).
 */
public final class Gpt2Loader {
    private static final Logger LOG = Logger.getLogger(Gpt2Loader.class.getName());

    private Gpt2Loader() {
    }

    /** Which KV form exports are served in ({@code spindle.models.kv-layout}). */
    public enum KvForm {
        /** The graph as exported, its cache copied as presents each step ({@link Gpt2Runner}). */
        AS_EXPORTED,
        /**
         * Compiled at load into Spindle's in-place KV form (served by {@link InPlaceKvRunner}), cached
         * by the source's SHA-256; the export as it is, with a warning saying why, when that fails.
         */
        IN_PLACE;

        public static KvForm of(String value) {
            return switch (value.strip().toLowerCase(java.util.Locale.ROOT)) {
                case "as-exported" -> AS_EXPORTED;
                case "in-place" -> IN_PLACE;
                default -> throw new IllegalArgumentException("spindle.models.kv-layout is as-exported or in-place, not " + value);
            };
        }
    }

    /**
     * How exports' KV caches are served: the form ({@code spindle.models.kv-layout}) and, for the
     * in-place form, the cache's element type ({@code spindle.models.kv-dtype}, already resolved for the
     * provider).
     */
    public record KvSettings(KvForm form, KvDtype dtype) {
        public static final KvSettings AS_EXPORTED = new KvSettings(KvForm.AS_EXPORTED, KvDtype.FLOAT32);

        public static KvSettings inPlace(KvDtype dtype) {
            return new KvSettings(KvForm.IN_PLACE, dtype);
        }
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
        return load(ort, dir, config, rewriteCache, KvForm.AS_EXPORTED);
    }

    /**
     * @param kvForm {@link KvForm#IN_PLACE} compiles an export into the in-place KV form, cached in
     *               {@code rewriteCache} (which it then needs)
     */
    public static Gpt2Decoder load(OrtRuntime ort, Path dir, ModelConfig config, Path rewriteCache, KvForm kvForm)
            throws ModelLoadException {
        return load(ort, dir, config, rewriteCache, kvForm, ServedWeights.asExported());
    }

    /**
     * @param weights the model's quantize setting, applied to the graph it is served from once that
     *                graph is settled (rewrites and compiles are probed in float32)
     */
    public static Gpt2Decoder load(OrtRuntime ort, Path dir, ModelConfig config, Path rewriteCache, KvForm kvForm,
                                   ServedWeights weights) throws ModelLoadException {
        return load(ort, dir, config, rewriteCache, new KvSettings(kvForm, KvDtype.FLOAT32), weights);
    }

    /** @param kv the KV form and, for the in-place form, the cache's element type (part of the compile's cache key) */
    public static Gpt2Decoder load(OrtRuntime ort, Path dir, ModelConfig config, Path rewriteCache, KvSettings kv,
                                   ServedWeights weights) throws ModelLoadException {
        Loading loading = new Loading(ort, config, rewriteCache, kv.form(), kv.dtype(), weights);
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
    private record Loading(OrtRuntime ort, ModelConfig config, Path rewriteCache, KvForm kvForm, KvDtype kvDtype,
                           ServedWeights weights) {
        Gpt2Decoder open(Path withPastFile, Path noPastFile) throws ModelLoadException {
            if (kvForm == KvForm.IN_PLACE && rewriteCache == null) {
                LOG.warning("decoder graph " + withPastFile + " is served as exported: the in-place KV form was asked for "
                        + "but no cache directory for compiled graphs was given");
            }
            if (kvForm != KvForm.IN_PLACE || rewriteCache == null) {
                return openAsIs(withPastFile, noPastFile, true);
            }
            InPlaceCompile compile;
            try {
                compile = new InPlaceCompile(withPastFile, rewriteCache, kvDtype);
                Path cached = compile.cached();
                if (cached != null) {
                    try {
                        InPlaceKvRunner runner = inPlaceRunner(weights.open(cached, ort::open), cached);
                        LOG.info("decoder graph " + withPastFile + ": served in the in-place KV form (" + kvDtype.id()
                                + " cache), compiled graph " + cached + " (cached)");
                        return runner;
                    } catch (ModelLoadException | RuntimeException e) {
                        LOG.warning("compiled graph " + cached + " cannot be served (" + e.getMessage() + "); compiling again");
                        compile.discard();
                    }
                }
            } catch (IOException e) {
                throw new ModelLoadException(withPastFile, "cannot read the graph or its compile cache: " + e.getMessage(), e);
            }
            // In float32 whatever the quantize setting: the compiled graph is probed against it.
            Gpt2Decoder original = openAsIs(withPastFile, noPastFile, false);
            if (original instanceof InPlaceKvRunner) {
                return served(original, withPastFile, noPastFile);
            }
            String why;
            Path compiled = null;
            try {
                InPlaceKvRunner runner = null;
                String mismatch = null;
                // A float16 cache: its float32 twin first, which is what checks the mapping (InPlaceCompile).
                List<KvDtype> stages = kvDtype == KvDtype.FLOAT32 ? List.of(kvDtype) : List.of(KvDtype.FLOAT32, kvDtype);
                for (KvDtype as : stages) {
                    if (runner != null) {
                        runner.close();
                        Files.deleteIfExists(compiled);
                    }
                    compiled = compile.compile(original.graph(), as);
                    try {
                        runner = inPlaceRunner(ort.open(compiled), compiled);
                    } catch (ModelLoadException | RuntimeException e) {
                        throw new Refused(e);
                    }
                    mismatch = InPlaceCompile.mismatch(original, runner, InPlaceCompile.tolerance(as));
                    if (mismatch != null) {
                        mismatch = (stages.size() > 1 ? "with a " + as.id() + " cache, " : "") + mismatch;
                        break;
                    }
                }
                compile.forgetWeights();
                if (mismatch == null) {
                    compile.keep(compiled);
                    LOG.info("decoder graph " + withPastFile + ": compiled into the in-place KV form (GroupQueryAttention "
                            + "over a " + kvDtype.id() + " cache that stays in place, logits only where sampled), equal to "
                            + "the export on the probe (within " + InPlaceCompile.tolerance(kvDtype) + "); compiled graph "
                            + compile.file());
                    original.close();
                    if (weights.quantizes()) {
                        runner.close();
                        return inPlaceRunner(weights.open(compile.file(), ort::open), compile.file());
                    }
                    return runner;
                }
                runner.close();
                why = "the compiled graph does not compute what the export does: " + mismatch;
            } catch (Gpt2WeightsReader.NotMappable e) {
                why = "its weights do not map onto GPT-2's parameters: " + e.getMessage();
            } catch (Refused e) {
                why = "ONNX Runtime refuses the compiled graph: " + e.getCause().getMessage();
            } catch (IOException | RuntimeException e) {
                why = "compiling it failed: " + e;
            } catch (OutOfMemoryError e) {
                why = "the heap cannot hold the graph while compiling it (about its file size is needed)";
            } finally {
                if (compiled != null) {
                    try {
                        Files.deleteIfExists(compiled);
                    } catch (IOException ignored) {
                        // A temporary file; the next compile overwrites it.
                    }
                }
            }
            LOG.warning("decoder graph " + withPastFile + " is served as exported, not in the in-place KV form "
                    + "(spindle.models.kv-layout=in-place), because " + why);
            return served(original, withPastFile, noPastFile);
        }

        /** {@code original}, opened in float32 for a probe, in its serving form (quantized when asked). */
        private Gpt2Decoder served(Gpt2Decoder original, Path withPastFile, Path noPastFile) throws ModelLoadException {
            if (!weights.quantizes()) {
                return original;
            }
            original.close();
            return openAsIs(withPastFile, noPastFile, true);
        }

        /** A session on a compiled graph that ONNX Runtime would not open or serve. */
        private static final class Refused extends Exception {
            Refused(Exception cause) {
                super(cause);
            }
        }

        private InPlaceKvRunner inPlaceRunner(OrtSession session, Path file) throws ModelLoadException {
            try {
                Gpt2Graph graph = Gpt2Graph.recognise(GraphSignature.of(file, session), config.numHeads());
                if (!graph.inPlaceKv()) {
                    throw new ModelLoadException(file, "the compiled graph is not in the in-place KV form");
                }
                return new InPlaceKvRunner(ort, session, graph, config.contextLength(), binding());
            } catch (ModelLoadException | RuntimeException e) {
                weights.forget(session);
                closeQuietly(session);
                throw e;
            }
        }

        private InPlaceKvRunner.Binding binding() {
            return ort.binding() == OrtRuntime.Binding.JAVA_API ? InPlaceKvRunner.Binding.JAVA_API
                    : ort.provider() == OrtRuntime.Provider.CUDA ? InPlaceKvRunner.Binding.FFM_CUDA
                    : InPlaceKvRunner.Binding.FFM;
        }

        /**
         * The export as it is (logits gathered where sampled when that rewrite holds); with
         * {@code forServing}, its graphs in the form they are served in (quantized when asked), else in
         * float32 for a probe.
         */
        Gpt2Decoder openAsIs(Path withPastFile, Path noPastFile, boolean forServing) throws ModelLoadException {
            OrtSession withPast = null;
            OrtSession noPast = null;
            try {
                withPast = serving(withPastFile, forServing);
                if (noPastFile != null) {
                    noPast = serving(noPastFile, forServing);
                    if (gathers(withPast) != gathers(noPast)) {
                        // The runner feeds both the same way: serve both as exported.
                        LOG.warning("decoder graphs " + withPastFile + " and " + noPastFile + " are served as exported, "
                                + "with logits at every position, because only one of them computes them where sampled");
                        weights.forget(withPast);
                        closeQuietly(withPast);
                        withPast = null;
                        weights.forget(noPast);
                        closeQuietly(noPast);
                        noPast = null;
                        withPast = forServing ? weights.open(withPastFile, ort::open) : ort.open(withPastFile);
                        noPast = forServing ? weights.open(noPastFile, ort::open) : ort.open(noPastFile);
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
                    return new InPlaceKvRunner(ort, withPast, graph, config.contextLength(), binding());
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
         * made and probed now), else, with a log line saying why, the graph as exported; with
         * {@code forServing}, that graph quantized when the model's setting asks for it.
         */
        private OrtSession serving(Path file, boolean forServing) throws ModelLoadException {
            HeadGather.Opener open = forServing ? f -> weights.open(f, ort::open) : ort::open;
            if (rewriteCache == null) {
                return open.open(file);
            }
            HeadGather gather;
            try {
                gather = HeadGather.of(file, rewriteCache);
                Path cached = gather.cached();
                if (cached != null) {
                    return open.open(cached);
                }
            } catch (IOException e) {
                throw new ModelLoadException(file, "cannot read the graph or its rewrite cache: " + e.getMessage(), e);
            }
            if (forServing && weights.quantizes()) {
                // A graph that needs no rewrite is served quantized without opening it in float32 first.
                OrtSession quantized = weights.open(file, ort::open);
                if (gathers(quantized)) {
                    return quantized;
                }
                weights.forget(quantized);
                closeQuietly(quantized);
            }
            OrtSession original = ort.open(file);
            if (gathers(original)) {
                return forServing ? weights.serve(original, file, ort::open) : original;
            }
            HeadGather.Outcome outcome = gather.rewrite(ort::open, original, (a, b) -> Gpt2Probe.mismatch(ort.env(), a, b));
            if (!outcome.rewritten()) {
                LOG.warning("decoder graph " + file + " is served as exported, with logits at every position "
                        + "(each prompt chunk computes chunk × vocabulary logits, ~30% of a GPT-2-small prefill), "
                        + "because " + outcome.whyNot());
            }
            return forServing ? weights.serve(outcome.session(), outcome.file(), ort::open) : outcome.session();
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
