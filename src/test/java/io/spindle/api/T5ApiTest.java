package io.spindle.api;

import io.quarkus.test.junit.QuarkusTest;
import io.restassured.RestAssured;
import io.restassured.http.ContentType;
import io.restassured.path.json.JsonPath;
import io.restassured.response.Response;
import io.spindle.testing.Server;
import io.spindle.testing.WsClient;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.util.List;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.hasItem;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The demo T5 (encoder-decoder) over every text-generation transport, and its error cases. */
@QuarkusTest
class T5ApiTest {
    private static final String MODEL = "demo-t5";

    @BeforeEach
    void ready() {
        Server.awaitReady();
    }

    private static Response post(String path, String body) {
        return given().contentType(ContentType.JSON).body(body).post(path);
    }

    @Test
    void completionsGenerateFromTheSourceAndCountItsTokens() {
        Response r = post("/v1/completions", "{\"model\":\"" + MODEL + "\",\"prompt\":\"translate English to German: Hello\","
                + "\"max_tokens\":8,\"temperature\":0,\"ignore_eos\":true}");
        r.then().statusCode(200).body("model", equalTo(MODEL)).body("choices[0].finish_reason", equalTo("length"))
                .body("usage.completion_tokens", equalTo(8));
        int promptTokens = r.jsonPath().getInt("usage.prompt_tokens");
        assertTrue(promptTokens >= 6, "the source's pieces and </s>: " + promptTokens);
        Server.conformsToOpenAi("CreateCompletionResponse", r.asString(), false);
        String text = r.jsonPath().getString("choices[0].text");
        String again = post("/v1/completions", "{\"model\":\"" + MODEL + "\",\"prompt\":\"translate English to German: Hello\","
                + "\"max_tokens\":8,\"temperature\":0,\"ignore_eos\":true}").jsonPath().getString("choices[0].text");
        assertEquals(text, again, "greedy is deterministic");
        String other = post("/v1/completions", "{\"model\":\"" + MODEL + "\",\"prompt\":\"summarize: the weather is fine today\","
                + "\"max_tokens\":8,\"temperature\":0,\"ignore_eos\":true}").jsonPath().getString("choices[0].text");
        assertTrue(!text.equals(other), "the output depends on the source: '" + text + "' vs '" + other + "'");
    }

    @Test
    void streamsOverSseTgiAndWebSocket() throws Exception {
        String sse = post("/v1/completions", "{\"model\":\"" + MODEL + "\",\"prompt\":\"Hello there\",\"max_tokens\":5,"
                + "\"stream\":true,\"ignore_eos\":true}").then().statusCode(200).extract().asString();
        List<String> data = Server.sseData(sse);
        assertEquals("[DONE]", data.getLast());
        assertEquals("length", JsonPath.from(data.get(data.size() - 2)).getString("choices[0].finish_reason"));

        given().contentType(ContentType.JSON).header("X-Model", MODEL)
                .body("{\"inputs\":\"Hello there\",\"parameters\":{\"max_new_tokens\":4,\"details\":true}}")
                .post("/generate").then().statusCode(200).body("details.generated_tokens", equalTo(4));
        String tgi = given().contentType(ContentType.JSON).header("X-Model", MODEL)
                .body("{\"inputs\":\"Hello there\",\"parameters\":{\"max_new_tokens\":3}}")
                .post("/generate_stream").then().statusCode(200).extract().asString();
        List<String> events = Server.sseData(tgi);
        assertTrue(JsonPath.from(events.getLast()).getString("generated_text") != null, "final TGI event: " + events.getLast());

        try (WsClient ws = new WsClient(RestAssured.port)) {
            ws.send("{\"type\":\"generate\",\"id\":\"t5\",\"model\":\"" + MODEL + "\",\"prompt\":\"Hello\",\"max_tokens\":6,"
                    + "\"ignore_eos\":true}");
            JsonPath end = ws.await("done frame of t5", f -> "t5".equals(f.getString("id")) && "done".equals(f.getString("type")));
            assertEquals("length", end.getString("finish_reason"));
            assertEquals(6, ws.of("t5").stream().filter(f -> "token".equals(f.getString("type"))).count());
        }
    }

    @Test
    void chatAndEmbeddingsNameTheFamily() {
        post("/v1/chat/completions", "{\"model\":\"" + MODEL + "\",\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}]}")
                .then().statusCode(400).body("error.type", equalTo("invalid_request_error"))
                .body("error.message", containsString("t5")).body("error.message", containsString("chat template"));
        post("/v1/embeddings", "{\"model\":\"" + MODEL + "\",\"input\":\"Hi\"}")
                .then().statusCode(400).body("error.message", containsString("t5 model"));
    }

    @Test
    void limitsAreTheModelsInputAndOutputLengths() {
        post("/v1/completions", "{\"model\":\"" + MODEL + "\",\"prompt\":\"\"}").then().statusCode(400)
                .body("error.param", equalTo("prompt"));
        String longSource = "word ".repeat(600);
        post("/v1/completions", "{\"model\":\"" + MODEL + "\",\"prompt\":\"" + longSource + "\",\"max_tokens\":4}")
                .then().statusCode(400).body("error.param", equalTo("prompt")).body("error.message", containsString("512"));
        post("/v1/completions", "{\"model\":\"" + MODEL + "\",\"prompt\":\"Hello\",\"max_tokens\":513}")
                .then().statusCode(400).body("error.param", equalTo("max_tokens"));
        // The output is a sequence of its own: a 500-token source may still ask for 500 new tokens.
        Response both = post("/v1/completions", "{\"model\":\"" + MODEL + "\",\"prompt\":\"" + "a ".repeat(300)
                + "\",\"max_tokens\":500,\"ignore_eos\":true}");
        both.then().statusCode(200).body("usage.completion_tokens", equalTo(500));
        assertTrue(both.jsonPath().getInt("usage.prompt_tokens") > 300);
    }

    @Test
    void theModelListSaysWhatItIs() {
        given().get("/v1/models/" + MODEL).then().statusCode(200)
                .body("max_model_len", equalTo(512))
                .body("spindle.family", equalTo("t5"))
                .body("spindle.tasks", hasItem("text2text-generation"))
                .body("spindle.layout", equalTo("optimum-split"))
                .body("spindle.random_weights", equalTo(true));
    }
}
