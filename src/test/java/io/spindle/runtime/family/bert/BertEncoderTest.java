package io.spindle.runtime.family.bert;

import dev.langchain4j.model.embedding.onnx.allminilml6v2.AllMiniLmL6V2EmbeddingModel;
import io.spindle.engine.exec.EncoderRunner;
import io.spindle.runtime.onnx.OrtRuntime;
import io.spindle.text.TextTokenizer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The bundled all-MiniLM-L6-v2 through Spindle's encoder equals LangChain4j's own model, orders
 * sentence pairs by meaning, and pads batches without changing any vector.
 */
class BertEncoderTest {
    private static final List<String> SENTENCES = List.of(
            "The cat sits on the mat.",
            "A cat is sitting on a rug.",
            "Stock markets fell sharply after the announcement.",
            "Shares dropped steeply when the news came out.",
            "How do I bake sourdough bread at home?",
            "naïve café — 日本語 😀");
    private static EncoderRunner encoder;
    private static TextTokenizer tokenizer;

    @BeforeAll
    static void load() throws Exception {
        Path dir = BundledMiniLm.ensure(Path.of("target", "test-models"));
        encoder = BertLoader.load(new OrtRuntime("cpu", 2), dir, 512, -1, null);
        assertInstanceOf(BertEncoder.class, encoder);
        tokenizer = TextTokenizer.load(dir.resolve("tokenizer.json"));
    }

    @AfterAll
    static void close() {
        encoder.close();
        tokenizer.close();
    }

    private static float[] embed(String text) throws Exception {
        return encoder.encode(List.of(tokenizer.encode(text, true)))[0];
    }

    static double cosine(float[] a, float[] b) {
        double dot = 0;
        double na = 0;
        double nb = 0;
        for (int i = 0; i < a.length; i++) {
            dot += (double) a[i] * b[i];
            na += (double) a[i] * a[i];
            nb += (double) b[i] * b[i];
        }
        return dot / Math.sqrt(na * nb);
    }

    @Test
    void embeddingsEqualLangChain4jsOwnModel() throws Exception {
        AllMiniLmL6V2EmbeddingModel reference = new AllMiniLmL6V2EmbeddingModel();
        for (String s : SENTENCES) {
            float[] ours = embed(s);
            float[] theirs = reference.embed(s).content().vector();
            assertEquals(384, ours.length);
            assertEquals(theirs.length, ours.length);
            double c = cosine(ours, theirs);
            assertTrue(c >= 0.9999, "cosine " + c + " for '" + s + "'");
        }
    }

    @Test
    void vectorsAreUnitLengthAndOrderPairsByMeaning() throws Exception {
        List<float[]> v = new ArrayList<>();
        for (String s : SENTENCES) {
            v.add(embed(s));
        }
        assertEquals(1.0, cosine(v.get(0), v.get(0)), 1e-6);
        double norm = 0;
        for (float x : v.get(0)) {
            norm += x * x;
        }
        assertEquals(1.0, norm, 1e-4, "normalised as the model declares");
        double cats = cosine(v.get(0), v.get(1));
        double markets = cosine(v.get(2), v.get(3));
        double catsVsMarkets = cosine(v.get(0), v.get(2));
        double catsVsBread = cosine(v.get(1), v.get(4));
        assertTrue(cats > catsVsMarkets && cats > catsVsBread, "cat paraphrases " + cats + " vs " + catsVsMarkets);
        assertTrue(markets > catsVsMarkets, "market paraphrases " + markets + " vs " + catsVsMarkets);
        assertTrue(cats > 0.5 && markets > 0.5 && catsVsMarkets < 0.3,
                "paraphrases are close, unrelated sentences are not: " + cats + ", " + markets + ", " + catsVsMarkets);
    }

    @Test
    void paddingInABatchChangesNoVector() throws Exception {
        List<int[]> inputs = new ArrayList<>();
        for (String s : SENTENCES) {
            inputs.add(tokenizer.encode(s, true));
        }
        assertTrue(inputs.get(4).length != inputs.get(0).length, "rows of different lengths");
        float[][] together = encoder.encode(inputs);
        for (int i = 0; i < inputs.size(); i++) {
            float[] alone = encoder.encode(List.of(inputs.get(i)))[0];
            for (int d = 0; d < alone.length; d++) {
                assertEquals(alone[d], together[i][d], 1e-5, "input " + i + " dimension " + d);
            }
        }
    }

    @Test
    void poolingFollowsTheSentenceTransformersFiles() throws Exception {
        Path dir = BundledMiniLm.ensure(Path.of("target", "test-models"));
        assertEquals(Pooling.DEFAULT, BertLoader.pooling(dir));
        assertEquals(new Pooling(Pooling.Mode.MEAN, true), BertLoader.pooling(Path.of("target", "no-such-model")),
                "mean pooling and normalisation without the files");
    }
}
