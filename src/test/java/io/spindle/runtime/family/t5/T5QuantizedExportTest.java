package io.spindle.runtime.family.t5;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtSession;
import io.spindle.engine.exec.StepInput;
import io.spindle.engine.exec.StepOutput;
import io.spindle.model.ModelConfig;
import io.spindle.runtime.demo.T5DemoWriter.Variant;
import io.spindle.runtime.onnx.OrtQuantizedGraphs;
import io.spindle.runtime.onnx.OrtQuantizedGraphs.Form;
import io.spindle.runtime.onnx.OrtRuntime;
import io.spindle.runtime.onnx.WeightFormat;
import io.spindle.testing.TestModels;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.nio.FloatBuffer;
import java.nio.LongBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The tiny T5, split and merged, quantized the way ONNX Runtime's tools write graphs
 * ({@link OrtQuantizedGraphs}), served by {@link T5Runner}: cached decoding equals a direct ONNX Runtime
 * recompute over the same quantized files, batched equals alone, logits stay near float32.
 */
class T5QuantizedExportTest {
    private static final OrtRuntime ORT = new OrtRuntime("cpu", 2);
    private static final AtomicLong IDS = new AtomicLong(1);
    private static final int[][] SOURCES = {{339, 829, 416, 1}, {1119, 282, 1131, 410, 534, 579, 310, 259, 1}, {2733, 1}};
    private static final int STEPS = 8;
    private static final float FLOAT_NOISE = 1e-4f;
    /**
     * Cached decode against a whole-sequence recompute, dynamic int8: each step quantizes its own
     * activations (one new position cached, every position recomputed), measured up to 0.23 here
     * against float logits whose spread is 4.0; QDQ's decoder files are calibrated on the same inputs,
     * so their ranges and logits agree exactly (measured 0).
     */
    private static final float DYNAMIC_TOLERANCE = 0.5f;
    private static final float QDQ_TOLERANCE = FLOAT_NOISE;
    /**
     * RMS error over the float logits' spread, measured: int8 MatMulInteger 0.020; QDQ 0.070 split, 0.029
     * merged (whose decoder stays float: the tool does not enter If branches); int4 block 32 0.144. Bounds
     * leave under 2× headroom; a wrong packing or scale gives errors of the logits' own size.
     */
    private static final double INT8_RELATIVE_RMS = 0.12;
    private static final double INT4_RELATIVE_RMS = 0.25;

    @TempDir
    static Path tmp;

    static Stream<Arguments> cases() {
        List<Arguments> out = new ArrayList<>();
        for (Variant v : Variant.values()) {
            for (Form f : Form.values()) {
                out.add(Arguments.of(v, f));
            }
        }
        return out.stream();
    }

    /** {@link #cases()} whose merged decoder has the split one's quantized bytes (QDQ leaves its If branches float). */
    static Stream<Arguments> casesWithSplitReference() {
        return cases().filter(a -> !(a.get()[0] == Variant.MERGED && a.get()[1] == Form.INT8_QDQ));
    }

    /** {@link #cases()} whose forms compute each row on its own (dynamic int8 scales span the batch). */
    static Stream<Arguments> perRowCases() {
        return cases().filter(a -> a.get()[1] != Form.INT8_DYNAMIC);
    }

    private static Path quantized(Variant v, Form form) {
        return OrtQuantizedGraphs.copy(TestModels.tinyT5(v), tmp.resolve(v.name() + "-" + form.id()), form);
    }

    /**
     * Every decoder step's logits equal the encoder and the no-past decoder of the quantized split export
     * run over the whole sequence. A merged export's quantized weights are the split one's bytes (except
     * QDQ, which leaves the merged decoder's {@code If} branches float, as the tool does).
     */
    @ParameterizedTest
    @MethodSource("casesWithSplitReference")
    void cachedDecodeEqualsADirectRecomputeOfTheQuantizedFiles(Variant v, Form form) throws Exception {
        Path q = quantized(v, form);
        assertEquals(form == Form.INT4_MATMUL_NBITS ? "int4" : "int8",
                WeightFormat.read(q.resolve("encoder_model.onnx")).name());
        float tolerance = form == Form.INT8_DYNAMIC ? DYNAMIC_TOLERANCE : form == Form.INT8_QDQ ? QDQ_TOLERANCE : FLOAT_NOISE;
        float worst = 0;
        try (T5Runner runner = T5Loader.load(ORT, q, ModelConfig.read(q));
             Recompute full = new Recompute(quantized(Variant.SPLIT, form))) {
            for (int[] source : SOURCES) {
                int[] tokens = new int[source.length + STEPS];
                System.arraycopy(source, 0, tokens, 0, source.length);
                long id = IDS.getAndIncrement();
                List<Integer> decoderInput = new ArrayList<>(List.of(0));
                int len = source.length;
                float[] logits = logits(runner, runner.execute(List.of(new StepInput(id, tokens, 0, len, len))));
                for (int step = 0; step < STEPS - 1; step++) {
                    worst = Math.max(worst, maxAbsDiff(full.logits(source, decoderInput), logits));
                    tokens[len] = argmax(logits);
                    decoderInput.add(tokens[len]);
                    logits = logits(runner, runner.execute(List.of(new StepInput(id, tokens, len, len + 1, source.length))));
                    len++;
                }
                runner.release(id);
            }
            assertEquals(0, runner.numCachedSequences());
        }
        System.out.printf("t5 %s %s: cached vs recompute max |Δ| %.3g%n", v, form.id(), worst);
        assertTrue(worst <= tolerance, "max |Δ| " + worst);
    }

    /** Sources of different lengths in shared steps generate what each generates alone (per-position forms). */
    @ParameterizedTest
    @MethodSource("perRowCases")
    void batchedEqualsAlone(Variant v, Form form) throws Exception {
        Path q = quantized(v, form);
        try (T5Runner runner = T5Loader.load(ORT, q, ModelConfig.read(q))) {
            int[][] alone = new int[SOURCES.length][];
            for (int i = 0; i < SOURCES.length; i++) {
                alone[i] = greedy(runner, List.of(SOURCES[i]))[0];
            }
            int[][] batched = greedy(runner, List.of(SOURCES));
            for (int i = 0; i < SOURCES.length; i++) {
                assertArrayEquals(alone[i], batched[i], "source " + i);
            }
        }
    }

    @ParameterizedTest
    @MethodSource("cases")
    void logitsStayNearFloat32(Variant v, Form form) throws Exception {
        Path q = quantized(v, form);
        Path f = TestModels.tinyT5(v);
        double sq = 0;
        double sum = 0;
        double fsq = 0;
        long n = 0;
        try (T5Runner quant = T5Loader.load(ORT, q, ModelConfig.read(q));
             T5Runner flt = T5Loader.load(ORT, f, ModelConfig.read(f))) {
            for (int[] source : SOURCES) {
                long a = IDS.getAndIncrement();
                long b = IDS.getAndIncrement();
                float[] x = logits(quant, quant.execute(List.of(new StepInput(a, source, 0, source.length, source.length))));
                float[] y = logits(flt, flt.execute(List.of(new StepInput(b, source, 0, source.length, source.length))));
                quant.release(a);
                flt.release(b);
                for (int i = 0; i < x.length; i++) {
                    double d = x[i] - y[i];
                    sq += d * d;
                    sum += y[i];
                    fsq += (double) y[i] * y[i];
                    n++;
                }
            }
        }
        double sd = Math.sqrt(fsq / n - (sum / n) * (sum / n));
        double rel = Math.sqrt(sq / n) / sd;
        System.out.printf("t5 %s %s: vs float32 relative RMS %.4f (sd %.3f)%n", v, form.id(), rel, sd);
        assertTrue(rel <= (form == Form.INT4_MATMUL_NBITS ? INT4_RELATIVE_RMS : INT8_RELATIVE_RMS), "relative RMS " + rel);
    }

    /** Greedy outputs of {@code sources}, all started in the same step and decoded together. */
    private static int[][] greedy(T5Runner runner, List<int[]> sources) throws Exception {
        int n = sources.size();
        int[][] tokens = new int[n][];
        int[] len = new int[n];
        long[] ids = new long[n];
        for (int i = 0; i < n; i++) {
            tokens[i] = java.util.Arrays.copyOf(sources.get(i), sources.get(i).length + STEPS);
            len[i] = sources.get(i).length;
            ids[i] = IDS.getAndIncrement();
        }
        for (int step = 0; step < STEPS; step++) {
            List<StepInput> batch = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                int src = sources.get(i).length;
                batch.add(step == 0 ? new StepInput(ids[i], tokens[i], 0, len[i], src)
                        : new StepInput(ids[i], tokens[i], len[i] - 1, len[i], src));
            }
            StepOutput out = runner.execute(batch);
            for (int i = 0; i < n; i++) {
                float[] l = new float[runner.vocabSize()];
                out.copyLogits(i, l);
                tokens[i][len[i]++] = argmax(l);
            }
        }
        int[][] generated = new int[n][];
        for (int i = 0; i < n; i++) {
            runner.release(ids[i]);
            generated[i] = java.util.Arrays.copyOfRange(tokens[i], sources.get(i).length, len[i]);
        }
        return generated;
    }

    /** The encoder and the no-past decoder, run directly over whole sequences. */
    private static final class Recompute implements AutoCloseable {
        private final OrtSession encoder;
        private final OrtSession decoder;

        Recompute(Path dir) throws Exception {
            encoder = ORT.open(dir.resolve("encoder_model.onnx"));
            decoder = ORT.open(dir.resolve("decoder_model.onnx"));
        }

        float[] logits(int[] source, List<Integer> decoderInput) throws Exception {
            var env = ORT.env();
            long[] src = java.util.Arrays.stream(source).asLongStream().toArray();
            long[] mask = new long[source.length];
            java.util.Arrays.fill(mask, 1);
            long[] dec = decoderInput.stream().mapToLong(Integer::longValue).toArray();
            try (OnnxTensor ids = OnnxTensor.createTensor(env, LongBuffer.wrap(src), new long[] {1, src.length});
                 OnnxTensor m = OnnxTensor.createTensor(env, LongBuffer.wrap(mask), new long[] {1, src.length});
                 OrtSession.Result enc = encoder.run(Map.of("input_ids", ids, "attention_mask", m));
                 OnnxTensor d = OnnxTensor.createTensor(env, LongBuffer.wrap(dec), new long[] {1, dec.length});
                 OrtSession.Result out = decoder.run(Map.of("encoder_attention_mask", m, "input_ids", d,
                         "encoder_hidden_states", (OnnxTensor) enc.get("last_hidden_state").orElseThrow()))) {
                FloatBuffer all = ((OnnxTensor) out.get("logits").orElseThrow()).getFloatBuffer();
                int vocab = all.remaining() / dec.length;
                float[] last = new float[vocab];
                all.position((dec.length - 1) * vocab);
                all.get(last);
                return last;
            }
        }

        @Override
        public void close() throws Exception {
            encoder.close();
            decoder.close();
        }
    }

    private static float[] logits(T5Runner runner, StepOutput out) {
        float[] l = new float[runner.vocabSize()];
        out.copyLogits(0, l);
        return l;
    }

    private static float maxAbsDiff(float[] a, float[] b) {
        float max = 0;
        for (int i = 0; i < a.length; i++) {
            max = Math.max(max, Math.abs(a[i] - b[i]));
        }
        return max;
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
