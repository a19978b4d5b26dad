package io.spindle.runtime.family.gpt2;

import ai.onnx.proto.OnnxMl.ModelProto;
import io.spindle.engine.exec.StepInput;
import io.spindle.engine.exec.StepOutput;
import io.spindle.runtime.demo.Gpt2GraphBuilder;
import io.spindle.runtime.demo.Gpt2Weights;
import io.spindle.runtime.onnx.KvDtype;
import io.spindle.runtime.onnx.RewriteCache;
import io.spindle.runtime.onnx.WeightFormat;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Compiles a GPT-2 export into Spindle's in-place KV form ({@code spindle.models.kv-layout=in-place}):
 * its weights read onto GPT-2's parameters ({@link Gpt2WeightsReader}) and emitted by
 * {@link Gpt2GraphBuilder#inPlaceKv(Gpt2Weights, KvDtype)} with the cache in the configured element type
 * ({@code spindle.models.kv-dtype}); cached by {@link RewriteCache} under the source's SHA-256 and
 * {@link #version}. A compiled graph enters the cache only after {@link #mismatch} found it equal to the
 * export (until then it is a temporary file beside the cache). A float16 compile is probed twice: its
 * float32 twin at {@link #TOLERANCE}, which is what checks the mapping (float16's own rounding would
 * hide a wrong scale on small weights: a doctored attention scale moves the tiny demo's logits by
 * 2.4e-3, float16 by 5e-5), then itself at {@link #FLOAT16_TOLERANCE}. Runs on the model-loading thread.
 */
final class InPlaceCompile {
    /** The cache key's version: the builder's, and the reader's (bump it when what is read changes). */
    static final String VERSION = "inplace-kv-b" + Gpt2GraphBuilder.VERSION + "-r1";
    /** Logits of a float32 compile must agree within this (relative above 1), and greedy tokens exactly. */
    static final double TOLERANCE = 1e-4;
    /**
     * The same for a float16 cache, once its float32 twin passed at {@link #TOLERANCE}: queries, keys and
     * values rounded to 11 significant bits (2⁻¹¹ ≈ 4.9e-4 relative each) moved the tiny models' logits
     * by at most 1.0e-4 (InPlaceCompileTest prints it per case) and the 124M shape's by the figure
     * KvInPlaceBenchmark prints; trained weights have larger activations, and this stage only has to
     * catch float16 itself failing (overflow, a kernel that misbehaves), so the bound is loose: 1e-2,
     * relative above 1.
     */
    static final double FLOAT16_TOLERANCE = 1e-2;

    private final RewriteCache cache;
    private final Path source;
    private final Path file;
    private final KvDtype dtype;
    /** The export's weights once read, for a second emit (a float16 compile's float32 twin). */
    private Gpt2Weights weights;

    InPlaceCompile(Path source, Path cacheDir, KvDtype dtype) throws IOException {
        this.cache = new RewriteCache(cacheDir);
        this.source = source;
        this.dtype = dtype;
        this.file = cache.file(source, version(dtype));
    }

    /** The cache key's version for a cache element type: a float16 compile is another file. */
    static String version(KvDtype dtype) {
        return dtype == KvDtype.FLOAT32 ? VERSION : VERSION.replace("inplace-kv-", "inplace-kv-" + dtype.id() + "-");
    }

    /** How far the compiled graph's logits may be from the export's, for a cache element type. */
    static double tolerance(KvDtype dtype) {
        return dtype == KvDtype.FLOAT32 ? TOLERANCE : FLOAT16_TOLERANCE;
    }

    /** The cache file, whether or not it exists. */
    Path file() {
        return file;
    }

    /** The compiled graph from an earlier load, when there is a sound one. */
    Path cached() throws IOException {
        return cache.valid(file) ? file : null;
    }

    void discard() throws IOException {
        Files.deleteIfExists(RewriteCache.checksum(file));
        Files.deleteIfExists(file);
    }

    /**
     * Writes the compiled graph of {@code source} (recognised as {@code graph}) with its cache in
     * {@code as} to a temporary file and returns it; {@link #keep} moves the configured element type's
     * into the cache once it passed the probe. The weights are read once per instance.
     */
    Path compile(Gpt2Graph graph, KvDtype as) throws IOException, Gpt2WeightsReader.NotMappable {
        if (weights == null) {
            weights = read(graph);
        }
        Files.createDirectories(file.getParent());
        Path tmp = file.resolveSibling(file.getFileName() + "." + as.id() + ".unprobed-" + ProcessHandle.current().pid());
        try (OutputStream out = new BufferedOutputStream(Files.newOutputStream(tmp), 1 << 20)) {
            Gpt2GraphBuilder.inPlaceKv(weights, as).write(out);
        }
        return tmp;
    }

    /** Lets the weights read for {@link #compile} go (hundreds of megabytes for GPT-2-small). */
    void forgetWeights() {
        weights = null;
    }

    private Gpt2Weights read(Gpt2Graph graph) throws IOException, Gpt2WeightsReader.NotMappable {
        if (graph.kvType() != ai.onnxruntime.OnnxJavaType.FLOAT) {
            throw new Gpt2WeightsReader.NotMappable("its cache is " + graph.kvType()
                    + "; the in-place form is compiled from float32 exports");
        }
        WeightFormat format = WeightFormat.read(source);
        if (format.quantized()) {
            throw new Gpt2WeightsReader.NotMappable("its weights are quantized (" + format.describe()
                    + "); the in-place form is compiled from float32 weights");
        }
        ModelProto model;
        try (InputStream in = new BufferedInputStream(Files.newInputStream(source), 1 << 20)) {
            model = ModelProto.parseFrom(in);
        }
        try {
            return Gpt2WeightsReader.read(model, graph);
        } catch (RuntimeException e) {
            throw new Gpt2WeightsReader.NotMappable(e.getMessage());
        }
    }

    /** Moves a compiled graph that passed the probe into the cache. */
    void keep(Path compiled) throws IOException {
        try {
            cache.store(file, out -> Files.copy(compiled, out));
        } finally {
            Files.deleteIfExists(compiled);
        }
    }

    /**
     * Null when {@code compiled} computes what {@code original} does, else where not: two sequences
     * (one prompt chunked, the other's logits read at every prompt position), batched, then three
     * greedy decode steps; every logit read within {@code tolerance} (relative above 1) and every greedy
     * token equal, unless the original's own top two are within {@code tolerance} of each other (a tie
     * at the compiled graph's precision: either token is right). Both runners are left with no sequence.
     */
    static String mismatch(Gpt2Decoder original, Gpt2Decoder compiled, double tolerance) {
        int vocab = original.graph().vocabSize();
        int[] a = new int[12];
        int[] b = new int[12];
        for (int i = 0; i < 6; i++) {
            a[i] = (int) ((i * 7919L + 11) % vocab);
            b[i] = (int) ((i * 104729L + 5) % vocab);
        }
        long ida = Long.MAX_VALUE - 1;
        long idb = Long.MAX_VALUE - 2;
        int lenA = 6;
        int lenB = 3;
        List<List<StepInput>> fixed = List.of(
                List.of(new StepInput(ida, a, 0, 4, 6, StepInput.Logits.NONE), new StepInput(idb, b, 0, 3, 3, StepInput.Logits.EVERY)),
                List.of(new StepInput(ida, a, 4, 6, 6, StepInput.Logits.EVERY), new StepInput(idb, b, 3, 4, 3, StepInput.Logits.LAST)));
        float[] want = new float[vocab];
        float[] got = new float[vocab];
        try {
            for (int s = 0; s < 5; s++) {
                List<StepInput> step;
                if (s < 2) {
                    step = fixed.get(s);
                } else {
                    step = List.of(new StepInput(ida, a, lenA - 1, lenA, 6), new StepInput(idb, b, lenB - 1, lenB, 3));
                }
                if (s == 1) {
                    // b's first generated token: the original's greedy choice after its prompt (step 0).
                    lenB = 4;
                }
                StepOutput w = original.execute(step);
                List<float[]> expected = new ArrayList<>();
                List<float[]> expectedEvery = new ArrayList<>();
                for (int r = 0; r < step.size(); r++) {
                    StepInput in = step.get(r);
                    if (in.logits() == StepInput.Logits.EVERY) {
                        for (int p = 0; p < in.length(); p++) {
                            ((StepOutput.EveryPosition) w).copyLogits(r, p, want);
                            expectedEvery.add(want.clone());
                        }
                    }
                    if (in.logits() != StepInput.Logits.NONE) {
                        w.copyLogits(r, want);
                    }
                    expected.add(in.logits() == StepInput.Logits.NONE ? null : want.clone());
                }
                StepOutput c = compiled.execute(step);
                int every = 0;
                for (int r = 0; r < step.size(); r++) {
                    StepInput in = step.get(r);
                    String where = "step " + s + ", row " + r;
                    if (in.logits() == StepInput.Logits.EVERY) {
                        for (int p = 0; p < in.length(); p++) {
                            ((StepOutput.EveryPosition) c).copyLogits(r, p, got);
                            String d = differ(expectedEvery.get(every++), got, where + ", position " + p, tolerance);
                            if (d != null) {
                                return d;
                            }
                        }
                    }
                    if (expected.get(r) == null) {
                        continue;
                    }
                    c.copyLogits(r, got);
                    String d = differ(expected.get(r), got, where, tolerance);
                    if (d != null) {
                        return d;
                    }
                    int greedy = argmax(expected.get(r));
                    if (argmax(got) != greedy && !tie(expected.get(r), greedy, argmax(got), tolerance)) {
                        return where + ": greedy token " + argmax(got) + " instead of " + greedy;
                    }
                    if (in.sequenceId() == ida && s >= 1) {
                        a[lenA++] = greedy;
                    } else if (in.sequenceId() == idb && s == 0) {
                        b[3] = greedy;
                    } else if (in.sequenceId() == idb) {
                        b[lenB++] = greedy;
                    }
                }
            }
            return null;
        } catch (io.spindle.engine.exec.ModelExecutionException | RuntimeException e) {
            return "running the probe failed: " + e;
        } finally {
            for (long id : new long[] {ida, idb}) {
                original.release(id);
                compiled.release(id);
            }
        }
    }

    /** Whether the original's logits for tokens {@code a} and {@code b} are within {@code tolerance} of each other. */
    private static boolean tie(float[] want, int a, int b, double tolerance) {
        return Math.abs(want[a] - want[b]) <= tolerance * Math.max(1, Math.abs(want[a]));
    }

    private static String differ(float[] want, float[] got, String where, double tolerance) {
        for (int v = 0; v < want.length; v++) {
            if (!(Math.abs(want[v] - got[v]) <= tolerance * Math.max(1, Math.abs(want[v])))) {
                return where + ", token " + v + ": logit " + got[v] + " instead of " + want[v];
            }
        }
        return null;
    }

    private static int argmax(float[] l) {
        int best = 0;
        for (int i = 1; i < l.length; i++) {
            if (l[i] > l[best]) {
                best = i;
            }
        }
        return best;
    }
}
