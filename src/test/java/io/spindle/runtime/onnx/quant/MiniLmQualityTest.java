package io.spindle.runtime.onnx.quant;

import io.spindle.engine.exec.EncoderRunner;
import io.spindle.runtime.family.bert.BertLoader;
import io.spindle.runtime.family.bert.BundledMiniLm;
import io.spindle.runtime.onnx.OrtRuntime;
import io.spindle.text.TextTokenizer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Measured quality on trained weights (issue 18 item 3): the bundled all-MiniLM-L6-v2's sentence
 * embeddings, quantized vs float32, cosine per input over a fixed set of 30 varied sentences
 * (short and long, several languages, code, numbers, emoji). The target is int8 ≥ 0.99 on
 * every input; int4's threshold is below its measured minimum with margin (figures in
 * load-tests/results/quantize/quality.md, printed by this test).
 */
class MiniLmQualityTest {
    static final List<String> SENTENCES = List.of(
            "The cat sits on the mat.",
            "A cat is sitting on a rug.",
            "Stock markets fell sharply after the announcement.",
            "Shares dropped steeply when the news came out.",
            "How do I bake sourdough bread at home?",
            "naïve café — 日本語 😀",
            "The mitochondria is the powerhouse of the cell.",
            "Quantum entanglement links the states of two particles regardless of distance.",
            "I'm sorry, but I can't make it to the meeting tomorrow.",
            "def fib(n): return n if n < 2 else fib(n - 1) + fib(n - 2)",
            "SELECT name, count(*) FROM users GROUP BY name HAVING count(*) > 1;",
            "The 2024 budget allocates $3.2 billion to infrastructure, up 12% from 2023.",
            "Der schnelle braune Fuchs springt über den faulen Hund.",
            "El tiempo hoy es soleado con una temperatura máxima de 25 grados.",
            "La réunion a été reportée à la semaine prochaine.",
            "Can you recommend a good book about the history of Rome?",
            "Error: connection refused (ECONNREFUSED) at 127.0.0.1:5432",
            "Photosynthesis converts light energy into chemical energy stored in glucose.",
            "The patient presented with fever, cough and shortness of breath for three days.",
            "Buy two, get one free! Offer valid until Sunday.",
            "He scored the winning goal in the final minute of extra time.",
            "To be, or not to be, that is the question.",
            "The Eiffel Tower is located in Paris.",
            "Please reset my password; I no longer have access to my email.",
            "Machine learning models can overfit when the training set is small.",
            "ok",
            "What is the capital of Australia?",
            "The court ruled that the contract was void because it was signed under duress.",
            "Rain is expected this weekend, so bring an umbrella and wear boots if you go hiking in the hills "
                    + "north of the city, where the trails get muddy and slippery after a storm.",
            "🙂🙂🙂 lol that was so funny 😂");

    private static final OrtRuntime ORT = new OrtRuntime("cpu", 2);
    private static Path dir;
    private static TextTokenizer tokenizer;
    private static List<float[]> reference;

    @TempDir
    static Path tmp;

    @BeforeAll
    static void load() throws Exception {
        dir = BundledMiniLm.ensure(Path.of("target", "test-models"));
        tokenizer = TextTokenizer.load(dir.resolve("tokenizer.json"));
        reference = embed(dir);
    }

    @AfterAll
    static void close() {
        tokenizer.close();
    }

    private static List<float[]> embed(Path model) throws Exception {
        List<float[]> out = new ArrayList<>();
        try (EncoderRunner encoder = BertLoader.load(ORT, model, 512, -1, null)) {
            for (String s : SENTENCES) {
                out.add(encoder.encode(List.of(tokenizer.encode(s, true)))[0]);
            }
        }
        return out;
    }

    /** Minimum and mean cosine of the quantized model's embeddings against float32's. */
    private static double[] measure(String setting) throws Exception {
        return measure(setting, WeightQuantizer.Scales.SEARCH);
    }

    private static double[] measure(String setting, WeightQuantizer.Scales scales) throws Exception {
        QuantizeSettings s = QuantizeSettings.parse("test", setting);
        Path q = tmp.resolve(s.cacheTag() + "-" + scales);
        var results = QuantizedCopy.write(dir, q, s, scales);
        List<float[]> got = embed(q);
        double min = 1;
        double sum = 0;
        for (int i = 0; i < SENTENCES.size(); i++) {
            double c = DemoModelsQuantizeTest.cosine(reference.get(i), got.get(i));
            min = Math.min(min, c);
            sum += c;
        }
        var r = results.get("model.onnx");
        System.out.printf(Locale.ROOT, "MiniLM %-28s min cosine %.5f  mean %.5f  (%d MatMuls, weights %.1f → %.1f MB)%n",
                setting + (scales == WeightQuantizer.Scales.SEARCH ? "" : " (" + scales + ")"), min, sum / SENTENCES.size(), r.quantizedMatMuls(), r.floatWeightBytesBefore() / 1e6,
                r.weightBytesAfter() / 1e6);
        return new double[] {min, sum / SENTENCES.size()};
    }

    /** ONNX Runtime's quantize_dynamic form, per tensor and per channel, for the choice of int8's form. */
    @Test
    void dynamicInt8FormCompared() throws Exception {
        for (boolean perChannel : new boolean[] {false, true}) {
            Path q = tmp.resolve("dynamic-" + perChannel);
            QuantizedCopy.write(dir, q, QuantizeSettings.NONE);
            java.nio.file.Files.write(q.resolve("model.onnx"), DynamicInt8Form.rewrite(ai.onnx.proto.OnnxMl.ModelProto.parseFrom(
                    java.nio.file.Files.readAllBytes(dir.resolve("model.onnx"))), perChannel).toByteArray());
            List<float[]> got = embed(q);
            double min = 1;
            double sum = 0;
            for (int i = 0; i < SENTENCES.size(); i++) {
                double c = DemoModelsQuantizeTest.cosine(reference.get(i), got.get(i));
                min = Math.min(min, c);
                sum += c;
            }
            System.out.printf(Locale.ROOT, "MiniLM %-28s min cosine %.5f  mean %.5f%n",
                    "int8-dynamic" + (perChannel ? "-per-channel" : ""), min, sum / SENTENCES.size());
            assertTrue(min > 0.7, "min cosine " + min);
        }
    }

    @Test
    void int8StaysAbove099OnEveryInput() throws Exception {
        double[] m = measure("int8");
        assertTrue(m[0] >= 0.99 && m[1] >= 0.999, "int8 minimum cosine " + m[0] + ", mean " + m[1]);
    }

    /**
     * The served int8-dynamic (per-column weight scales, DynamicQuantizeMatMul): below int8's target on
     * this trained encoder, which is why int8 is the block form; bounded below its measured figures.
     */
    @Test
    void int8DynamicStaysCloseOnEveryInput() throws Exception {
        double[] m = measure("int8-dynamic");
        assertTrue(m[0] >= 0.95 && m[1] >= 0.99, "int8-dynamic minimum cosine " + m[0] + ", mean " + m[1]);
    }

    @Test
    void int4StaysCloseOnEveryInput() throws Exception {
        double[] m = measure("int4");
        // Measured 0.9159 / 0.9726 with the scale search (quant-v2), 0.9129 / 0.9697 with round to nearest.
        assertTrue(m[0] >= 0.905 && m[1] >= 0.965, "int4 minimum cosine " + m[0] + ", mean " + m[1]);
    }

    /** quant-v1's round to nearest against the served scale search, same settings. */
    @Test
    void scaleSearchComparedWithRoundToNearest() throws Exception {
        for (String v : List.of("int8", "int4", "int4,symmetric", "int4,block=128")) {
            double[] rtn = measure(v, WeightQuantizer.Scales.ROUND_TO_NEAREST);
            double[] search = measure(v, WeightQuantizer.Scales.SEARCH);
            assertTrue(search[1] >= rtn[1] - 1e-4, v + ": mean cosine " + search[1] + " with the search, " + rtn[1] + " without");
        }
    }

    /** The options' effect on quality, for the results file; asserts only that each still resembles float32. */
    @Test
    void optionsCompared() throws Exception {
        for (String v : List.of("int8,symmetric", "int8,accuracy=0", "int8,block=128", "int4,symmetric", "int4,accuracy=0",
                "int4,block=16", "int4,block=64", "int4,block=128", "int4,symmetric,block=128", "int4,embeddings=yes")) {
            double[] m = measure(v);
            assertTrue(m[0] >= 0.8, v + " minimum cosine " + m[0]);
        }
    }
}
