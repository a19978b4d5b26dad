package io.spindle.runtime.family.bert;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtSession;
import io.spindle.engine.exec.EncoderRunner;
import io.spindle.runtime.demo.BertGraphBuilder.Head;
import io.spindle.runtime.onnx.OrtRuntime;
import io.spindle.testing.TestModels;
import io.spindle.text.TextTokenizer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.nio.FloatBuffer;
import java.nio.LongBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Model tests on the project-built tiny BERT, with its feature-extraction and its masked-LM head. */
class TinyBertTest {
    private static final OrtRuntime ORT = new OrtRuntime("cpu", 2);
    private static final List<String> TEXTS = List.of("The capital of France is [MASK].",
            "A [MASK] sat on the [MASK] all afternoon, purring.", "[MASK]");
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

    /** The rows of the masked-LM runner are exactly the graph's logits at the mask positions, batched or alone. */
    @Test
    void maskedLmRowsAreTheGraphsLogitsAtEachMask() throws Exception {
        Path dir = TestModels.tinyBert(Head.MASKED_LM);
        EncoderRunner runner = BertLoader.load(ORT, dir, 512, mask, null);
        assertInstanceOf(MaskedLmEncoder.class, runner);
        assertEquals(30522, runner.dimensions());
        List<int[]> inputs = inputs();
        float[][] together = runner.encode(inputs);
        try (OrtSession session = ORT.open(dir.resolve("model.onnx"))) {
            for (int i = 0; i < inputs.size(); i++) {
                int[] ids = inputs.get(i);
                float[] all = logits(session, ids);
                float[] alone = runner.encode(List.of(ids))[0];
                int m = 0;
                for (int t = 0; t < ids.length; t++) {
                    if (ids[t] != mask) {
                        continue;
                    }
                    for (int v = 0; v < 30522; v++) {
                        float expected = all[t * 30522 + v];
                        assertEquals(expected, alone[m * 30522 + v], 1e-5, "input " + i + " mask " + m);
                        assertEquals(expected, together[i][m * 30522 + v], 1e-5, "batched: input " + i + " mask " + m);
                    }
                    m++;
                }
                assertEquals(m * 30522, alone.length, "one row of logits per mask");
            }
        } finally {
            runner.close();
        }
    }

    @Test
    void featureExtractionPaddingChangesNoVector() throws Exception {
        EncoderRunner runner = BertLoader.load(ORT, TestModels.tinyBert(Head.FEATURES), 512, mask, null);
        try {
            assertInstanceOf(BertEncoder.class, runner);
            assertEquals(64, runner.dimensions());
            List<int[]> inputs = inputs();
            float[][] together = runner.encode(inputs);
            for (int i = 0; i < inputs.size(); i++) {
                float[] alone = runner.encode(List.of(inputs.get(i)))[0];
                double norm = 0;
                for (int d = 0; d < alone.length; d++) {
                    assertEquals(alone[d], together[i][d], 1e-5, "input " + i + " dimension " + d);
                    norm += alone[d] * alone[d];
                }
                assertEquals(1.0, norm, 1e-4, "mean-pooled and normalised by default");
            }
        } finally {
            runner.close();
        }
    }

    private static float[] logits(OrtSession session, int[] ids) throws Exception {
        long[] l = java.util.Arrays.stream(ids).asLongStream().toArray();
        long[] ones = new long[l.length];
        java.util.Arrays.fill(ones, 1);
        long[] shape = {1, l.length};
        try (OnnxTensor a = OnnxTensor.createTensor(ORT.env(), LongBuffer.wrap(l), shape);
             OnnxTensor b = OnnxTensor.createTensor(ORT.env(), LongBuffer.wrap(ones), shape);
             OnnxTensor c = OnnxTensor.createTensor(ORT.env(), LongBuffer.wrap(new long[l.length]), shape);
             OrtSession.Result r = session.run(Map.of("input_ids", a, "attention_mask", b, "token_type_ids", c))) {
            FloatBuffer fb = ((OnnxTensor) r.get(0)).getFloatBuffer();
            float[] out = new float[fb.remaining()];
            fb.get(out);
            assertTrue(out.length == l.length * 30522);
            return out;
        }
    }
}
