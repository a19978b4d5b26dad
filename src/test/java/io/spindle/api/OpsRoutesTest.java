package io.spindle.api;

import io.quarkus.test.junit.QuarkusTest;
import io.restassured.http.ContentType;
import io.restassured.response.Response;
import io.spindle.testing.Server;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.util.List;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.greaterThan;
import static org.hamcrest.Matchers.startsWith;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The routes clients and platforms probe besides the generation APIs: vLLM's /tokenize, /detokenize,
 * /version and /health, the /metrics alias, TGI's /info and its POST / route, and /v1/models'
 * order and endpoints.
 */
@QuarkusTest
class OpsRoutesTest {
    @BeforeEach
    void ready() {
        Server.awaitReady();
    }

    @Test
    void tokenizeAndDetokenizeRoundTripAsVllmShapesThem() {
        Response r = given().contentType(ContentType.JSON).body("{\"model\":\"" + Server.MODEL + "\",\"prompt\":\"Hello world\"}")
                .post("/tokenize");
        r.then().statusCode(200).body("count", equalTo(2)).body("max_model_len", equalTo(512))
                .body("tokens", equalTo(List.of(15496, 995)));
        given().contentType(ContentType.JSON).body("{\"model\":\"" + Server.MODEL + "\",\"tokens\":[15496,995]}")
                .post("/detokenize").then().statusCode(200).body("prompt", equalTo("Hello world"));
        // Chat messages are tokenized through the chat template, as generation does: more than the text alone.
        given().contentType(ContentType.JSON).body("{\"model\":\"" + Server.MODEL
                        + "\",\"messages\":[{\"role\":\"user\",\"content\":\"Hello world\"}],\"return_token_strs\":true}")
                .post("/tokenize").then().statusCode(200).body("count", greaterThan(2))
                .body("token_strs.size()", greaterThan(2));
        // No model: the first text-generation model, as a single-model server would.
        given().contentType(ContentType.JSON).body("{\"prompt\":\"Hello world\"}").post("/tokenize").then()
                .statusCode(200).body("count", equalTo(2));
        given().contentType(ContentType.JSON).body("{\"model\":\"" + Server.MODEL + "\",\"tokens\":[99999999]}")
                .post("/detokenize").then().statusCode(400).body("error.param", equalTo("prompt"));
        given().contentType(ContentType.JSON).body("{\"model\":\"" + Server.MODEL + "\"}")
                .post("/tokenize").then().statusCode(400);
    }

    @Test
    void healthVersionAndMetricsAliases() {
        given().get("/health").then().statusCode(200).body("status", equalTo("UP"));
        given().get("/version").then().statusCode(200).body("version", startsWith("0."));
        String metrics = given().get("/metrics").then().statusCode(200).extract().asString();
        assertTrue(metrics.contains("spindle_kv_cache_usage_ratio") || metrics.contains("spindle_"), metrics.substring(0, 200));
        given().get("/").then().statusCode(200).contentType(containsString("text/html"));
    }

    @Test
    void tgiInfoAndTheRootRouteThatPicksStreamingFromTheBody() {
        given().get("/info").then().statusCode(200).body("model_id", equalTo(Server.MODEL))
                .body("max_input_tokens", equalTo(511)).body("max_total_tokens", equalTo(512))
                .body("model_pipeline_tag", equalTo("text-generation"));
        Response whole = given().contentType(ContentType.JSON)
                .body("{\"inputs\":\"Hello\",\"parameters\":{\"max_new_tokens\":3}}").post("/");
        whole.then().statusCode(200).contentType(ContentType.JSON).body("generated_text", org.hamcrest.Matchers.notNullValue());
        Response stream = given().contentType(ContentType.JSON)
                .body("{\"inputs\":\"Hello\",\"parameters\":{\"max_new_tokens\":3},\"stream\":true}").post("/");
        stream.then().statusCode(200).contentType(startsWith("text/event-stream"));
        List<String> events = Server.sseData(stream.asString());
        assertEquals(3, events.size(), stream.asString());
        given().contentType(ContentType.JSON).body("{\"inputs\":42}").post("/").then().statusCode(422)
                .body("error_type", equalTo("validation"));
    }

    @Test
    void modelsListGenerativeModelsFirst() {
        List<String> ids = given().get("/v1/models").then().statusCode(200).extract().jsonPath().getList("data.id");
        List<String> families = given().get("/v1/models").then().extract().jsonPath().getList("data.spindle.family");
        int firstEncoder = families.indexOf("bert");
        assertTrue(firstEncoder > 0, ids.toString());
        for (int i = firstEncoder; i < families.size(); i++) {
            assertEquals("bert", families.get(i), "encoders come after every generator: " + ids);
        }
        given().get("/v1/models").then()
                .body("data.find { it.id == 'demo-gpt2' }.spindle.endpoints", org.hamcrest.Matchers.hasItems(
                        "/v1/completions", "/v1/chat/completions", "/generate_stream"))
                .body("data.find { it.id == 'demo-t5' }.spindle.endpoints", org.hamcrest.Matchers.not(
                        org.hamcrest.Matchers.hasItem("/v1/chat/completions")))
                .body("data.find { it.id == 'all-minilm-l6-v2' }.spindle.endpoints", equalTo(List.of("/v1/embeddings")))
                .body("data.find { it.id == 'demo-bert-mlm' }.spindle.endpoints", equalTo(List.of("/v1/fill-mask")));
    }
}
