package io.spindle.runtime.family.bert;

import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtSession;
import io.spindle.engine.exec.EncoderRunner;
import io.spindle.runtime.demo.BertGraphBuilder.Head;
import io.spindle.runtime.onnx.GatherRewrite;
import io.spindle.runtime.onnx.OrtQuantizedGraphs;
import io.spindle.runtime.onnx.OrtQuantizedGraphs.Form;
import io.spindle.runtime.onnx.OrtRuntime;
import io.spindle.runtime.onnx.RewriteCache;
import io.spindle.runtime.onnx.WeightFormat;
import io.spindle.testing.TestModels;
import io.spindle.text.TextTokenizer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.io.InputStream;
import java.nio.FloatBuffer;
import java.nio.file.Files;
import java.util.HashSet;
import java.util.Set;
import java.nio.LongBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The tiny BERT, feature extraction and fill-mask, quantized the way ONNX Runtime's tools write graphs
 * ({@link OrtQuantizedGraphs}), served by Spindle's encoders: alone equal to a direct ONNX Runtime run
 * of the same quantized file, batched (padded) equal to alone, the masked-LM head still gathered at the
 * masks, embeddings near float32's.
 */
class BertQuantizedExportTest {
    private static final OrtRuntime ORT = new OrtRuntime("cpu", 2);
    private static final List<String> TEXTS = List.of("The capital of France is [MASK].",
            "A [MASK] sat on the [MASK] all afternoon, purring.", "[MASK]", "Short one.");
    private static final int VOCAB = 30522;
    private static final float FLOAT_NOISE = 1e-4f;
    /**
     * Padded rows in one batch against each row alone, dynamic int8: the activation scale is the
     * maximum over the whole batch, padding included. Measured up to 0.00014 on embeddings (unit
     * vectors) and 0.010 on masked-LM logits; weight-only and QDQ forms measured 0.
     */
    private static final float DYNAMIC_BATCH_TOLERANCE = 0.02f;
    /**
     * Cosine of each input's embedding with float32's, measured ≥ 0.99985 (QDQ), 0.99999 (int4 and
     * MatMulInteger): mean pooling over a random tiny BERT is dominated by its embeddings, which the
     * tools leave float. The bundled MiniLM's trained weights are issue 18's quality measure, not this.
     */
    private static final double INT8_COSINE = 0.999;
    private static final double INT4_COSINE = 0.999;

    @TempDir
    static Path tmp;
    private static TextTokenizer tokenizer;
    private static int mask;

    @BeforeAll
    static void load() throws Exception {
        tokenizer = TextTokenizer.load(TestModels.tinyBert(Head.MASKED_LM).resolve("tokenizer.json"));
        mask = tokenizer.addedTokenId("[MASK]").orElseThrow();
    }

    @AfterAll
    static void close() {
        tokenizer.close();
    }

    private static List<int[]> inputs() {
        List<int[]> in = new ArrayList<>();
        TEXTS.forEach(t -> in.add(tokenizer.encode(t, true)));
        return in;
    }

    private static Path quantized(Head head, Form form) {
        return OrtQuantizedGraphs.copy(TestModels.tinyBert(head), tmp.resolve(head + "-" + form.id()), form);
    }

    @ParameterizedTest
    @EnumSource(Form.class)
    void embeddingsEqualADirectRunAloneAndBatchedAndStayNearFloat32(Form form) throws Exception {
        Path q = quantized(Head.FEATURES, form);
        assertEquals(form == Form.INT4_MATMUL_NBITS ? "int4" : "int8", WeightFormat.read(q.resolve("model.onnx")).name());
        EncoderRunner runner = BertLoader.load(ORT, q, 512, mask, null);
        EncoderRunner flt = BertLoader.load(ORT, TestModels.tinyBert(Head.FEATURES), 512, mask, null);
        try (OrtSession session = ORT.open(q.resolve("model.onnx"))) {
            assertInstanceOf(BertEncoder.class, runner);
            List<int[]> inputs = inputs();
            float[][] together = runner.encode(inputs);
            float[][] reference = flt.encode(inputs);
            double worstCosine = 1;
            float worstBatch = 0;
            for (int i = 0; i < inputs.size(); i++) {
                float[] alone = runner.encode(List.of(inputs.get(i)))[0];
                float[] direct = meanPooledNormalised(run(session, inputs.get(i), "last_hidden_state"), 64);
                assertTrue(maxAbsDiff(direct, alone) <= FLOAT_NOISE, "input " + i + ": " + maxAbsDiff(direct, alone));
                worstBatch = Math.max(worstBatch, maxAbsDiff(alone, together[i]));
                worstCosine = Math.min(worstCosine, dot(alone, reference[i]));
            }
            System.out.printf("bert features %s: batched vs alone max |Δ| %.3g, min cosine vs float32 %.5f%n",
                    form.id(), worstBatch, worstCosine);
            assertTrue(worstBatch <= (form == Form.INT8_DYNAMIC ? DYNAMIC_BATCH_TOLERANCE : FLOAT_NOISE), "batched " + worstBatch);
            assertTrue(worstCosine >= (form == Form.INT4_MATMUL_NBITS ? INT4_COSINE : INT8_COSINE), "cosine " + worstCosine);
        } finally {
            runner.close();
            flt.close();
        }
    }

    /**
     * The fill-mask head, quantized too, is still rewritten to run at the masks only (the rewrite is in
     * the cache), and each mask's row equals the quantized graph's own logits at that position.
     */
    @ParameterizedTest
    @EnumSource(Form.class)
    void maskedLmIsGatheredAndItsRowsAreTheQuantizedGraphsLogits(Form form) throws Exception {
        Path q = quantized(Head.MASKED_LM, form);
        Path cache = tmp.resolve("cache-" + form.id());
        EncoderRunner runner = BertLoader.load(ORT, q, 512, mask, cache);
        try (OrtSession session = ORT.open(q.resolve("model.onnx"))) {
            assertInstanceOf(MaskedLmEncoder.class, runner);
            Path rewritten = new RewriteCache(cache).file(q.resolve("model.onnx"), GatherRewrite.VERSION);
            assertTrue(new RewriteCache(cache).valid(rewritten), "the quantized head is rewritten: " + rewritten);
            // The vocabulary projection runs at the masks only; with per-position forms the gather goes deeper,
            // but a DynamicQuantizeLinear's whole-tensor scale stops it at the projection's quantized input.
            int after = projectionsAfterTheGather(rewritten);
            assertTrue(after >= (form == Form.INT8_DYNAMIC ? 1 : 2), after + " products after the gather");
            List<int[]> inputs = inputs();
            float[][] together = runner.encode(inputs);
            float worstBatch = 0;
            for (int i = 0; i < inputs.size(); i++) {
                int[] ids = inputs.get(i);
                float[] all = run(session, ids, "logits");
                float[] alone = runner.encode(List.of(ids))[0];
                int m = 0;
                for (int t = 0; t < ids.length; t++) {
                    if (ids[t] != mask) {
                        continue;
                    }
                    float[] want = java.util.Arrays.copyOfRange(all, t * VOCAB, (t + 1) * VOCAB);
                    float[] got = java.util.Arrays.copyOfRange(alone, m * VOCAB, (m + 1) * VOCAB);
                    assertTrue(maxAbsDiff(want, got) <= FLOAT_NOISE, "input " + i + " mask " + m + ": " + maxAbsDiff(want, got));
                    worstBatch = Math.max(worstBatch, maxAbsDiff(got,
                            java.util.Arrays.copyOfRange(together[i], m * VOCAB, (m + 1) * VOCAB)));
                    m++;
                }
                assertEquals(m * VOCAB, alone.length, "one row of logits per mask");
            }
            System.out.printf("bert masked-lm %s: batched vs alone max |Δ| %.3g%n", form.id(), worstBatch);
            assertTrue(worstBatch <= (form == Form.INT8_DYNAMIC ? DYNAMIC_BATCH_TOLERANCE : FLOAT_NOISE), "batched " + worstBatch);
        } finally {
            runner.close();
        }
    }

    /** How many matrix products (float, QDQ or quantized ops) read, directly or not, the gathered rows. */
    private static int projectionsAfterTheGather(Path rewritten) throws Exception {
        ModelProto model;
        try (InputStream in = Files.newInputStream(rewritten)) {
            model = ModelProto.parseFrom(in);
        }
        Set<String> downstream = new HashSet<>(Set.of("spindle_gathered"));
        int products = 0;
        for (NodeProto n : model.getGraph().getNodeList()) {
            if (n.getInputList().stream().anyMatch(downstream::contains)) {
                downstream.addAll(n.getOutputList());
                if (Set.of("MatMul", "MatMulNBits", "MatMulInteger").contains(n.getOpType())) {
                    products++;
                }
            }
        }
        return products;
    }

    private static float[] run(OrtSession session, int[] ids, String output) throws Exception {
        long[] l = java.util.Arrays.stream(ids).asLongStream().toArray();
        long[] ones = new long[l.length];
        java.util.Arrays.fill(ones, 1);
        long[] shape = {1, l.length};
        try (OnnxTensor a = OnnxTensor.createTensor(ORT.env(), LongBuffer.wrap(l), shape);
             OnnxTensor b = OnnxTensor.createTensor(ORT.env(), LongBuffer.wrap(ones), shape);
             OnnxTensor c = OnnxTensor.createTensor(ORT.env(), LongBuffer.wrap(new long[l.length]), shape);
             OrtSession.Result r = session.run(Map.of("input_ids", a, "attention_mask", b, "token_type_ids", c))) {
            FloatBuffer fb = ((OnnxTensor) r.get(output).orElseThrow()).getFloatBuffer();
            float[] out = new float[fb.remaining()];
            fb.get(out);
            return out;
        }
    }

    /** Mean over positions of [positions × hidden], then unit length: the tiny BERT's default pooling. */
    private static float[] meanPooledNormalised(float[] states, int hidden) {
        int n = states.length / hidden;
        float[] v = new float[hidden];
        for (int p = 0; p < n; p++) {
            for (int d = 0; d < hidden; d++) {
                v[d] += states[p * hidden + d] / n;
            }
        }
        double norm = Math.sqrt(dot(v, v));
        for (int d = 0; d < hidden; d++) {
            v[d] /= (float) norm;
        }
        return v;
    }

    private static double dot(float[] a, float[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) {
            s += (double) a[i] * b[i];
        }
        return s;
    }

    private static float maxAbsDiff(float[] a, float[] b) {
        float max = 0;
        for (int i = 0; i < a.length; i++) {
            max = Math.max(max, Math.abs(a[i] - b[i]));
        }
        return max;
    }
}
