package io.spindle.api;

import io.quarkus.test.junit.QuarkusTest;
import io.restassured.http.ContentType;
import io.restassured.response.Response;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtSession;
import io.spindle.runtime.demo.BertGraphBuilder;
import io.spindle.runtime.onnx.OrtRuntime;
import io.spindle.testing.Server;
import io.spindle.testing.TestModels;
import io.spindle.text.TextTokenizer;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.hasItem;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code POST /v1/fill-mask} on the demo masked-LM BERT, shaped like Hugging Face's fill-mask task, and its errors. */
@QuarkusTest
class FillMaskApiTest {
    private static final String MODEL = "demo-bert-mlm";

    @BeforeEach
    void ready() {
        Server.awaitReady();
    }

    private static Response post(String body) {
        return given().contentType(ContentType.JSON).body(body).post("/v1/fill-mask");
    }

    @Test
    void oneMaskGivesTopKCandidatesMostLikelyFirst() {
        Response r = post("{\"model\":\"" + MODEL + "\",\"inputs\":\"The capital of France is [MASK].\","
                + "\"parameters\":{\"top_k\":3}}");
        r.then().statusCode(200).contentType(ContentType.JSON).body("size()", equalTo(3));
        List<Map<String, Object>> cs = r.jsonPath().getList("$");
        double previous = 1.0;
        for (Map<String, Object> c : cs) {
            double score = ((Number) c.get("score")).doubleValue();
            assertTrue(score > 0 && score <= previous, "descending probabilities: " + cs);
            previous = score;
            String token = (String) c.get("token_str");
            assertEquals("the capital of france is " + token + ".", c.get("sequence"), "the mask filled in, lower-cased");
        }
        String again = post("{\"model\":\"" + MODEL + "\",\"inputs\":\"The capital of France is [MASK].\","
                + "\"parameters\":{\"top_k\":3}}").asString();
        assertEquals(r.asString(), again, "deterministic");
    }

    /** The top candidate is the argmax of the graph's own logits at the mask, with its softmax probability. */
    @Test
    void theTopCandidateIsTheArgmaxOfTheLogits() throws Exception {
        String text = "The capital of France is [MASK].";
        Response r = post("{\"model\":\"" + MODEL + "\",\"inputs\":\"" + text + "\",\"parameters\":{\"top_k\":1}}");
        r.then().statusCode(200).body("size()", equalTo(1));
        java.nio.file.Path dir = TestModels.tinyBert(BertGraphBuilder.Head.MASKED_LM);
        OrtRuntime ort = new OrtRuntime("cpu", 1);
        try (TextTokenizer tok = TextTokenizer.load(dir.resolve("tokenizer.json"));
             OrtSession session = ort.open(dir.resolve("model.onnx"))) {
            int[] ids = tok.encode(text, true);
            int mask = tok.addedTokenId("[MASK]").orElseThrow();
            int at = java.util.stream.IntStream.range(0, ids.length).filter(i -> ids[i] == mask).findFirst().orElseThrow();
            long[] l = java.util.Arrays.stream(ids).asLongStream().toArray();
            long[] ones = new long[l.length];
            java.util.Arrays.fill(ones, 1);
            long[] shape = {1, l.length};
            try (OnnxTensor a = OnnxTensor.createTensor(ort.env(), java.nio.LongBuffer.wrap(l), shape);
                 OnnxTensor b = OnnxTensor.createTensor(ort.env(), java.nio.LongBuffer.wrap(ones), shape);
                 OnnxTensor c = OnnxTensor.createTensor(ort.env(), java.nio.LongBuffer.wrap(new long[l.length]), shape);
                 OrtSession.Result out = session.run(Map.of("input_ids", a, "attention_mask", b, "token_type_ids", c))) {
                java.nio.FloatBuffer fb = ((OnnxTensor) out.get(0)).getFloatBuffer();
                int vocab = fb.remaining() / l.length;
                int best = 0;
                double max = Double.NEGATIVE_INFINITY;
                double[] row = new double[vocab];
                for (int v = 0; v < vocab; v++) {
                    row[v] = fb.get(at * vocab + v);
                    if (row[v] > max) {
                        max = row[v];
                        best = v;
                    }
                }
                double sum = 0;
                for (double x : row) {
                    sum += Math.exp(x - max);
                }
                assertEquals(best, r.jsonPath().getInt("[0].token"));
                assertEquals(1 / sum, r.jsonPath().getDouble("[0].score"), 1e-6);
            }
        }
    }

    @Test
    void severalMasksAndSeveralInputsNestAsHuggingFaceDoes() {
        Response two = post("{\"model\":\"" + MODEL + "\",\"inputs\":\"A [MASK] sat on the [MASK].\"}");
        two.then().statusCode(200).body("size()", equalTo(2)).body("[0].size()", equalTo(5)).body("[1].size()", equalTo(5));
        Response many = post("{\"model\":\"" + MODEL + "\",\"inputs\":[\"Hello [MASK].\",\"A [MASK] sat on the [MASK].\"],"
                + "\"parameters\":{\"top_k\":2}}");
        many.then().statusCode(200).body("size()", equalTo(2))
                .body("[0].size()", equalTo(2)).body("[0][0].token", equalTo(many.jsonPath().getInt("[0][0].token")))
                .body("[1].size()", equalTo(2)).body("[1][0].size()", equalTo(2));
        assertEquals(post("{\"model\":\"" + MODEL + "\",\"inputs\":\"Hello [MASK].\",\"parameters\":{\"top_k\":2}}")
                .jsonPath().getInt("[0].token"), many.jsonPath().getInt("[0][0].token"), "batched with another input, the same answer");
    }

    @Test
    void errorsAre400sInOpenAisFormat() {
        post("{\"model\":\"" + MODEL + "\",\"inputs\":\"\"}").then().statusCode(400).body("error.param", equalTo("inputs"));
        post("{\"model\":\"" + MODEL + "\"}").then().statusCode(400).body("error.param", equalTo("inputs"));
        post("{\"model\":\"" + MODEL + "\",\"inputs\":[]}").then().statusCode(400).body("error.param", equalTo("inputs"));
        post("{\"model\":\"" + MODEL + "\",\"inputs\":\"no mask here\"}").then().statusCode(400)
                .body("error.message", containsString("[MASK]"));
        post("{\"model\":\"" + MODEL + "\",\"inputs\":\"" + "word ".repeat(600) + "[MASK]\"}").then().statusCode(400)
                .body("error.message", containsString("512"));
        post("{\"model\":\"" + MODEL + "\",\"inputs\":\"x [MASK]\",\"parameters\":{\"top_k\":0}}").then().statusCode(400)
                .body("error.param", equalTo("top_k"));
        // Bounds on what one answer holds: 256 rows of logits, 6,400 candidates.
        post("{\"model\":\"" + MODEL + "\",\"inputs\":[\"" + "[MASK] ".repeat(200) + "\",\"" + "[MASK] ".repeat(57)
                + "\"],\"parameters\":{\"top_k\":1}}").then().statusCode(400).body("error.param", equalTo("inputs"))
                .body("error.message", containsString("at most 256 [MASK] tokens per request; this one has 257"));
        post("{\"model\":\"" + MODEL + "\",\"inputs\":\"" + "[MASK] ".repeat(65) + "\",\"parameters\":{\"top_k\":100}}")
                .then().statusCode(400).body("error.param", equalTo("top_k"))
                .body("error.message", containsString("65 × 100"));
        post("{\"model\":\"" + MODEL + "\",\"inputs\":[1,2]}").then().statusCode(400).body("error.param", equalTo("inputs"));
        post("{\"model\":\"demo-gpt2\",\"inputs\":\"x [MASK]\"}").then().statusCode(400)
                .body("error.type", equalTo("invalid_request_error")).body("error.message", containsString("gpt2 model"));
        post("{\"model\":\"all-minilm-l6-v2\",\"inputs\":\"x [MASK]\"}").then().statusCode(400)
                .body("error.message", containsString("bert model (embeddings)"));
        post("{\"model\":\"nope\",\"inputs\":\"x [MASK]\"}").then().statusCode(404);
        given().contentType(ContentType.JSON).body("{\"model\":\"" + MODEL + "\",\"input\":\"x\"}").post("/v1/embeddings")
                .then().statusCode(400).body("error.message", containsString("fill-mask"));
    }

    @Test
    void theModelListSaysItFillsMasks() {
        given().get("/v1/models/" + MODEL).then().statusCode(200)
                .body("spindle.family", equalTo("bert"))
                .body("spindle.tasks", hasItem("fill-mask"))
                .body("spindle.random_weights", equalTo(true));
    }
}
