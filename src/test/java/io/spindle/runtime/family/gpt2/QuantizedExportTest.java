package io.spindle.runtime.family.gpt2;

import io.spindle.engine.exec.StepInput;
import io.spindle.engine.exec.StepInput.Logits;
import io.spindle.engine.exec.StepOutput;
import io.spindle.model.ModelConfig;
import io.spindle.runtime.demo.DemoLayout;
import io.spindle.runtime.onnx.OrtQuantizedGraphs;
import io.spindle.runtime.onnx.OrtQuantizedGraphs.Form;
import io.spindle.runtime.onnx.OrtRuntime;
import io.spindle.runtime.onnx.WeightFormat;
import io.spindle.testing.DirectOrtLoop;
import io.spindle.testing.ModelFolders;
import io.spindle.testing.TestModels;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.MethodSource;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * GPT-2 exports quantized the way ONNX Runtime's tools write them ({@link OrtQuantizedGraphs}), in every
 * demo layout, served through Spindle's own loader and runners: the LM head is still computed only where
 * sampled, tokens alone equal a plain ONNX Runtime loop over the same quantized file, batched with chunked
 * prefill equal alone, and logits stay near the float32 graph's.
 */
class QuantizedExportTest {
    private static final OrtRuntime ORT = new OrtRuntime("cpu", 2);
    private static final int[][] PROMPTS = {{15496, 995, 11, 318, 257, 1332, 13}, {464, 2068, 7586}, {50256, 100, 200, 300, 400}};
    private static final int NEW_TOKENS = 8;
    /** Float rounding between kernels run on different row counts: far below any quantization error. */
    private static final float FLOAT_NOISE = 1e-4f;
    /**
     * Batched and chunked against alone, dynamic int8: measured 0.006–0.0093 over these graphs (the
     * float logits' spread is 0.16); a row gathered from the wrong position moves them by about that spread.
     */
    private static final float DYNAMIC_BATCH_TOLERANCE = 0.02f;
    /**
     * RMS error over the float32 logits' standard deviation. Measured: int8 MatMulInteger 0.017–0.018,
     * int8 QDQ 0.037 (it also quantizes each product's output); int4 block 32 0.116–0.121, as expected
     * from a step of range/15 per block of 32 (about 8% of a weight's spread as noise) over nine
     * projections of a 64-wide model. A wrong packing (nibble order, block layout, zero points) gives
     * errors of the logits' own size (relative RMS near 1).
     */
    private static final double INT8_RELATIVE_RMS = 0.06;
    private static final double INT4_RELATIVE_RMS = 0.2;

    @TempDir
    static Path tmp;

    static Stream<Arguments> cases() {
        List<Arguments> out = new ArrayList<>();
        for (DemoLayout layout : DemoLayout.values()) {
            for (Form form : Form.values()) {
                out.add(Arguments.of(layout, form));
            }
        }
        return out.stream();
    }

    /** {@link #cases()} with a plain-loop reference: the in-place form's QDQ graph was calibrated on its own. */
    static Stream<Arguments> casesWithReference() {
        return cases().filter(a -> !(a.get()[0] == DemoLayout.IN_PLACE_KV && a.get()[1] == Form.INT8_QDQ));
    }

    private static Path source(DemoLayout layout) {
        return layout == DemoLayout.IN_PLACE_KV ? TestModels.tiny(layout) : TestModels.tinyExported(layout);
    }

    private static Path quantized(DemoLayout layout, Form form) {
        return OrtQuantizedGraphs.copy(source(layout), tmp.resolve(layout.id() + "-" + form.id()), form);
    }

    private static String graphFile(DemoLayout layout) {
        return layout == DemoLayout.OPTIMUM_SPLIT ? "decoder_with_past_model.onnx" : "model.onnx";
    }

    /**
     * Loaded through Spindle's loader with a rewrite cache, a quantized export still computes logits only
     * where sampled (its LM head, quantized too, recognised by the rewrite), and its format is reported.
     */
    @ParameterizedTest
    @MethodSource("cases")
    void servedWithLogitsOnlyWhereSampled(DemoLayout layout, Form form) throws Exception {
        Path q = quantized(layout, form);
        WeightFormat format = WeightFormat.read(q.resolve(graphFile(layout)));
        assertEquals(form == Form.INT4_MATMUL_NBITS ? "int4" : "int8", format.name(), format.describe());
        try (Gpt2Decoder runner = Gpt2Loader.load(ORT, q, ModelConfig.read(q), tmp.resolve("cache"))) {
            assertTrue(runner.graph().gathersLogits(), "the quantized head is gathered");
            assertEquals(layout == DemoLayout.IN_PLACE_KV, runner instanceof InPlaceKvRunner);
        }
    }

    /**
     * Greedy tokens alone (each prompt in one step, then one token a step) equal a plain ONNX Runtime loop
     * over the same quantized file, and the prompt's logits equal that file's full-sequence forward pass.
     * The in-place form has no past inputs for the plain loop; its quantized weights are the same bytes as
     * the Optimum export's, so that export's loop is its reference (not for QDQ, whose activation ranges
     * come from calibrating each graph on its own inputs).
     */
    @ParameterizedTest
    @MethodSource("casesWithReference")
    void aloneEqualsAPlainOnnxRuntimeLoopOverTheSameFile(DemoLayout layout, Form form) throws Exception {
        Path q = quantized(layout, form);
        Path reference = layout == DemoLayout.IN_PLACE_KV ? quantized(DemoLayout.OPTIMUM, form).resolve("model.onnx")
                : q.resolve(graphFile(layout));
        try (Gpt2Decoder runner = Gpt2Loader.load(ORT, q, ModelConfig.read(q), tmp.resolve("cache"));
             DirectOrtLoop direct = new DirectOrtLoop(reference)) {
            for (int p = 0; p < PROMPTS.length; p++) {
                assertArrayEquals(direct.greedy(PROMPTS[p], NEW_TOKENS), greedyAlone(runner, PROMPTS[p], 100 + p),
                        "prompt " + p);
                float[][] full = direct.logits(PROMPTS[p]);
                float[][] served = promptLogits(runner, PROMPTS[p], 150 + p);
                for (int pos = 0; pos < full.length; pos++) {
                    float d = maxAbsDiff(full[pos], served[pos]);
                    assertTrue(d <= FLOAT_NOISE, "prompt " + p + ", position " + pos + ": max |Δ| " + d);
                }
            }
        }
    }

    /**
     * Three sequences, prompts fed in chunks of three in shared steps, then decoded together: with
     * weight-only (int4) or statically calibrated (QDQ) quantization each position is computed as
     * alone, so the tokens are the same. {@code DynamicQuantizeLinear} scales activations by the
     * maximum over the whole step's tensor (every row and chunk, padding included), so batching moves
     * the int8 export's logits by up to {@link #DYNAMIC_BATCH_TOLERANCE}: there only the first token's
     * logits are compared, and within that bound.
     */
    @ParameterizedTest
    @MethodSource("cases")
    void batchedWithChunkedPrefillAgreesWithAlone(DemoLayout layout, Form form) throws Exception {
        Path q = quantized(layout, form);
        try (Gpt2Decoder runner = Gpt2Loader.load(ORT, q, ModelConfig.read(q), tmp.resolve("cache"))) {
            float[][] batchedFirst = new float[PROMPTS.length][];
            int[][] batched = greedyBatchedChunked(runner, 300, batchedFirst);
            for (int p = 0; p < PROMPTS.length; p++) {
                float[] aloneFirst = promptLogits(runner, PROMPTS[p], 400 + p)[PROMPTS[p].length - 1];
                float d = maxAbsDiff(aloneFirst, batchedFirst[p]);
                System.out.printf("%s %s prompt %d: batched vs alone first-token max |Δ| %.3g%n", layout.id(), form.id(), p, d);
                if (form == Form.INT8_DYNAMIC) {
                    assertTrue(d <= DYNAMIC_BATCH_TOLERANCE, "prompt " + p + ": max |Δ| " + d);
                } else {
                    assertTrue(d <= FLOAT_NOISE, "prompt " + p + ": max |Δ| " + d);
                    assertArrayEquals(greedyAlone(runner, PROMPTS[p], 500 + p), batched[p], "prompt " + p);
                }
            }
            assertEquals(0, runner.numCachedSequences());
        }
    }

    /**
     * Logits of every prompt position against the float32 export of the same weights: the RMS error
     * relative to the float logits' spread, and the largest error, within the bounds measured on these
     * graphs (see the constants).
     */
    @ParameterizedTest
    @MethodSource("cases")
    void logitsStayNearTheFloat32Exports(DemoLayout layout, Form form) throws Exception {
        Path q = quantized(layout, form);
        Path f = source(layout);
        try (Gpt2Decoder quant = Gpt2Loader.load(ORT, q, ModelConfig.read(q), tmp.resolve("cache"));
             Gpt2Decoder flt = Gpt2Loader.load(ORT, f, ModelConfig.read(f), tmp.resolve("cache"))) {
            double sq = 0;
            double sum = 0;
            double fsq = 0;
            long n = 0;
            float max = 0;
            for (int p = 0; p < PROMPTS.length; p++) {
                float[][] a = promptLogits(quant, PROMPTS[p], 600 + p);
                float[][] b = promptLogits(flt, PROMPTS[p], 700 + p);
                for (int pos = 0; pos < a.length; pos++) {
                    for (int v = 0; v < a[pos].length; v++) {
                        double d = a[pos][v] - b[pos][v];
                        sq += d * d;
                        sum += b[pos][v];
                        fsq += (double) b[pos][v] * b[pos][v];
                        max = (float) Math.max(max, Math.abs(d));
                        n++;
                    }
                }
            }
            double sd = Math.sqrt(fsq / n - (sum / n) * (sum / n));
            double relRms = Math.sqrt(sq / n) / sd;
            System.out.printf("%s %s: vs float32 relative RMS %.4f, max |Δ| %.4f (float logits' sd %.4f)%n",
                    layout.id(), form.id(), relRms, max, sd);
            double bound = form == Form.INT4_MATMUL_NBITS ? INT4_RELATIVE_RMS : INT8_RELATIVE_RMS;
            assertTrue(relRms <= bound, "relative RMS " + relRms + " > " + bound);
        }
    }

    /** spindle.models.kv-layout=in-place cannot compile integer weights: the export is served as it is. */
    @ParameterizedTest
    @EnumSource(Form.class)
    void inPlaceKvLayoutServesAQuantizedExportAsExported(Form form) throws Exception {
        Path q = quantized(DemoLayout.OPTIMUM, form);
        List<String> warnings = new ArrayList<>();
        Logger log = Logger.getLogger(Gpt2Loader.class.getName());
        Handler h = new Handler() {
            @Override
            public void publish(LogRecord r) {
                if (r.getLevel() == Level.WARNING) {
                    warnings.add(r.getMessage());
                }
            }

            @Override
            public void flush() {
            }

            @Override
            public void close() {
            }
        };
        log.addHandler(h);
        try (Gpt2Decoder runner = Gpt2Loader.load(ORT, q, ModelConfig.read(q), tmp.resolve("cache-" + form.id()),
                Gpt2Loader.KvForm.IN_PLACE)) {
            assertInstanceOf(Gpt2Runner.class, runner);
            assertTrue(runner.graph().gathersLogits());
        } finally {
            log.removeHandler(h);
        }
        assertEquals(1, warnings.size(), warnings.toString());
        assertTrue(warnings.getFirst().contains("its weights are quantized (" + (form == Form.INT4_MATMUL_NBITS
                ? "int4 (MatMulNBits, block 32)" : form == Form.INT8_QDQ ? "int8 (QDQ)" : "int8 (MatMulInteger)")),
                warnings.getFirst());
    }

    /**
     * The external onnxruntime-genai export (ONNX Runtime's own fused GPT-2, int32 inputs, genai folder)
     * quantized in each form: served gathered, tokens alone and batched equal to a plain loop over the file.
     */
    @ParameterizedTest
    @EnumSource(Form.class)
    void externalGenaiExportQuantizedServesAsThePlainLoop(Form form) throws Exception {
        Path q = OrtQuantizedGraphs.copy(ModelFolders.GENAI_GPT2, tmp.resolve("genai-" + form.id()), form);
        assertTrue(WeightFormat.read(q.resolve("past.onnx")).quantized());
        int[][] prompts = {{98}, {10, 20, 30, 40}, {500, 3, 999, 1, 77, 640, 12}};
        try (Gpt2Decoder runner = Gpt2Loader.load(ORT, q, ModelConfig.read(q), tmp.resolve("cache"));
             DirectOrtLoop direct = new DirectOrtLoop(q.resolve("past.onnx"))) {
            assertTrue(runner.graph().gathersLogits());
            for (int p = 0; p < prompts.length; p++) {
                assertArrayEquals(direct.greedy(prompts[p], NEW_TOKENS), greedyAlone(runner, prompts[p], 800 + p), "prompt " + p);
            }
        }
    }

    private static float[][] promptLogits(Gpt2Decoder runner, int[] prompt, long id) throws Exception {
        StepOutput out = runner.execute(List.of(new StepInput(id, prompt, 0, prompt.length, prompt.length, Logits.EVERY)));
        float[][] l = new float[prompt.length][runner.vocabSize()];
        for (int p = 0; p < prompt.length; p++) {
            ((StepOutput.EveryPosition) out).copyLogits(0, p, l[p]);
        }
        runner.release(id);
        return l;
    }

    private static float maxAbsDiff(float[] a, float[] b) {
        float max = 0;
        for (int i = 0; i < a.length; i++) {
            max = Math.max(max, Math.abs(a[i] - b[i]));
        }
        return max;
    }

    static int[] greedyAlone(Gpt2Decoder runner, int[] prompt, long id) throws Exception {
        int[] tokens = new int[prompt.length + NEW_TOKENS];
        System.arraycopy(prompt, 0, tokens, 0, prompt.length);
        int len = prompt.length;
        int from = 0;
        float[] l = new float[runner.vocabSize()];
        for (int s = 0; s < NEW_TOKENS; s++) {
            StepOutput out = runner.execute(List.of(new StepInput(id, tokens, from, len, prompt.length)));
            out.copyLogits(0, l);
            from = len;
            tokens[len++] = argmax(l);
        }
        runner.release(id);
        return java.util.Arrays.copyOfRange(tokens, prompt.length, len);
    }

    /** Every prompt fed in chunks of at most 3 tokens, all sequences in each step, then decoded together. */
    static int[][] greedyBatchedChunked(Gpt2Decoder runner, long firstId, float[][] firstLogits) throws Exception {
        int n = PROMPTS.length;
        int[][] tokens = new int[n][];
        int[] len = new int[n];
        int[] fed = new int[n];
        for (int i = 0; i < n; i++) {
            tokens[i] = new int[PROMPTS[i].length + NEW_TOKENS];
            System.arraycopy(PROMPTS[i], 0, tokens[i], 0, PROMPTS[i].length);
            len[i] = PROMPTS[i].length;
        }
        float[] l = new float[runner.vocabSize()];
        while (true) {
            List<StepInput> step = new ArrayList<>();
            List<Integer> rows = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                if (len[i] - PROMPTS[i].length >= NEW_TOKENS) {
                    continue;
                }
                int to = Math.min(len[i], fed[i] + 3);
                step.add(new StepInput(firstId + i, tokens[i], fed[i], to, PROMPTS[i].length,
                        to == len[i] ? Logits.LAST : Logits.NONE));
                rows.add(i);
            }
            if (step.isEmpty()) {
                break;
            }
            StepOutput out = runner.execute(step);
            for (int r = 0; r < step.size(); r++) {
                int i = rows.get(r);
                fed[i] = step.get(r).to();
                if (step.get(r).logits() == Logits.LAST) {
                    out.copyLogits(r, l);
                    if (len[i] == PROMPTS[i].length) {
                        firstLogits[i] = l.clone();
                    }
                    tokens[i][len[i]++] = argmax(l);
                }
            }
        }
        int[][] generated = new int[n][];
        for (int i = 0; i < n; i++) {
            runner.release(firstId + i);
            generated[i] = java.util.Arrays.copyOfRange(tokens[i], PROMPTS[i].length, len[i]);
        }
        return generated;
    }

    static int argmax(float[] l) {
        int best = 0;
        for (int i = 1; i < l.length; i++) {
            if (l[i] > l[best]) {
                best = i;
            }
        }
        return best;
    }
}
