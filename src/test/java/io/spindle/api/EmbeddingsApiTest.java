package io.spindle.api;

import io.quarkus.test.junit.QuarkusTest;
import io.restassured.http.ContentType;
import io.restassured.response.Response;
import io.spindle.testing.Server;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Base64;
import java.util.List;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.hasItem;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code POST /v1/embeddings} on the bundled all-MiniLM-L6-v2, and its error cases. */
@QuarkusTest
class EmbeddingsApiTest {
    private static final String MODEL = "all-minilm-l6-v2";

    @BeforeEach
    void ready() {
        Server.awaitReady();
    }

    private static Response post(String body) {
        return given().contentType(ContentType.JSON).body(body).post("/v1/embeddings");
    }

    @Test
    void aStringAndAListOfStringsGetOpenAiShapedVectors() {
        Response one = post("{\"model\":\"" + MODEL + "\",\"input\":\"The cat sits on the mat.\"}");
        one.then().statusCode(200).contentType(ContentType.JSON)
                .body("object", equalTo("list"))
                .body("model", equalTo(MODEL))
                .body("data[0].object", equalTo("embedding"))
                .body("data[0].index", equalTo(0))
                .body("data[0].embedding.size()", equalTo(384))
                .body("usage.prompt_tokens", equalTo(one.jsonPath().getInt("usage.total_tokens")));
        assertTrue(one.jsonPath().getInt("usage.prompt_tokens") >= 8, "[CLS] + words + [SEP]");
        Server.conformsToOpenAi("CreateEmbeddingResponse", one.asString(), false);

        Response many = post("{\"model\":\"" + MODEL + "\",\"input\":[\"The cat sits on the mat.\",\"A cat is sitting on a rug.\","
                + "\"Stock markets fell sharply.\"]}");
        many.then().statusCode(200).body("data.size()", equalTo(3)).body("data[2].index", equalTo(2));
        List<Float> first = one.jsonPath().getList("data[0].embedding", Float.class);
        List<Float> same = many.jsonPath().getList("data[0].embedding", Float.class);
        for (int i = 0; i < first.size(); i++) {
            assertEquals(first.get(i), same.get(i), 1e-5, "batched with others, the same vector");
        }
        double cats = dot(same, many.jsonPath().getList("data[1].embedding", Float.class));
        double other = dot(same, many.jsonPath().getList("data[2].embedding", Float.class));
        assertTrue(cats > other, "paraphrases are closer: " + cats + " vs " + other);
    }

    @Test
    void base64AndTokenIdInputsAgreeWithFloats() {
        Response floats = post("{\"model\":\"" + MODEL + "\",\"input\":[[101, 4937, 102]]}");
        floats.then().statusCode(200).body("usage.prompt_tokens", equalTo(3));
        Response b64 = post("{\"model\":\"" + MODEL + "\",\"input\":[101, 4937, 102],\"encoding_format\":\"base64\"}");
        b64.then().statusCode(200);
        ByteBuffer bytes = ByteBuffer.wrap(Base64.getDecoder().decode(b64.jsonPath().getString("data[0].embedding")))
                .order(ByteOrder.LITTLE_ENDIAN);
        List<Float> f = floats.jsonPath().getList("data[0].embedding", Float.class);
        assertEquals(384 * 4, bytes.remaining());
        for (Float x : f) {
            assertEquals(x, bytes.getFloat(), 1e-6);
        }
    }

    @Test
    void badInputsGetA400InOpenAisFormat() {
        String[][] cases = {
                {"{\"model\":\"" + MODEL + "\",\"input\":\"\"}", "empty"},
                {"{\"model\":\"" + MODEL + "\",\"input\":[]}", "at least one"},
                {"{\"model\":\"" + MODEL + "\"}", "required"},
                {"{\"model\":\"" + MODEL + "\",\"input\":{\"a\":1}}", "must be a string"},
                {"{\"model\":\"" + MODEL + "\",\"input\":\"hi\",\"encoding_format\":\"int8\"}", "encoding_format"},
                {"{\"model\":\"" + MODEL + "\",\"input\":\"hi\",\"dimensions\":128}", "384-dimensional"},
                {"{\"model\":\"" + MODEL + "\",\"input\":[[1, 99999999]]}", "outside the vocabulary"},
                {"{\"model\":\"" + MODEL + "\",\"input\":\"" + "word ".repeat(600) + "\"}", "accepts at most 512"},
                {"{\"model\":\"" + Server.MODEL + "\",\"input\":\"hi\"}", "is a gpt2 model"},
        };
        for (String[] c : cases) {
            post(c[0]).then().statusCode(400).contentType(ContentType.JSON)
                    .body("error.type", equalTo("invalid_request_error"))
                    .body("error.message", containsString(c[1]));
        }
        given().contentType(ContentType.JSON).body("{\"model\":\"" + MODEL + "\",\"prompt\":\"Hello\"}")
                .post("/v1/completions").then().statusCode(400)
                .body("error.message", containsString("is a bert model (embeddings)"));
        given().contentType(ContentType.JSON).body("{\"model\":\"" + MODEL + "\",\"input\":\"hi\",\"dimensions\":384}")
                .post("/v1/embeddings").then().statusCode(200);
    }

    @Test
    void theModelListShowsTheEncoderWithItsTasks() {
        given().get("/v1/models").then().statusCode(200)
                .body("data.id", hasItem(MODEL))
                .body("data.find { it.id == 'all-minilm-l6-v2' }.spindle.family", equalTo("bert"))
                .body("data.find { it.id == 'all-minilm-l6-v2' }.spindle.tasks", equalTo(List.of("embeddings")))
                .body("data.find { it.id == 'all-minilm-l6-v2' }.spindle.random_weights", equalTo(false))
                .body("data.find { it.id == 'all-minilm-l6-v2' }.max_model_len", equalTo(512));
    }

    private static double dot(List<Float> a, List<Float> b) {
        double d = 0;
        for (int i = 0; i < a.size(); i++) {
            d += a.get(i) * b.get(i);
        }
        return d;
    }
}
