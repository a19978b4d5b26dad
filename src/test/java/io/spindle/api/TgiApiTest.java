package io.spindle.api;

import io.quarkus.test.junit.QuarkusTest;
import io.restassured.http.ContentType;
import io.restassured.path.json.JsonPath;
import io.restassured.response.Response;
import io.spindle.testing.Server;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.util.List;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.equalTo;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

@QuarkusTest
class TgiApiTest {
    @BeforeEach
    void ready() {
        Server.awaitReady();
    }

    private static Response post(String path, String body) {
        return given().contentType(ContentType.JSON).body(body).post(path);
    }

    @Test
    void generateReturnsTextAndDetails() {
        Response r = post("/generate", "{\"inputs\":\"Hello\",\"parameters\":{\"max_new_tokens\":6,\"details\":true,\"seed\":3}}");
        r.then().statusCode(200)
                .body("details.finish_reason", equalTo("length"))
                .body("details.generated_tokens", equalTo(6))
                .body("details.seed", org.hamcrest.Matchers.nullValue())
                .body("details.tokens.size()", equalTo(6))
                .body("details.input_length", equalTo(1));
        JsonPath j = r.jsonPath();
        String joined = String.join("", j.getList("details.tokens.text", String.class));
        assertEquals(j.getString("generated_text"), joined);
        String full = post("/generate", "{\"inputs\":\"Hello\",\"parameters\":{\"max_new_tokens\":6,\"return_full_text\":true}}")
                .jsonPath().getString("generated_text");
        assertEquals("Hello" + j.getString("generated_text"), full, "greedy by default, so the same text");
        assertNull(post("/generate", "{\"inputs\":\"Hello\",\"parameters\":{\"max_new_tokens\":2}}").jsonPath().get("details"));
        // As TGI: a seed is reported only when sampling (a greedy answer depends on none).
        post("/generate", "{\"inputs\":\"Hello\",\"parameters\":{\"max_new_tokens\":2,\"details\":true,\"do_sample\":true,"
                + "\"seed\":3}}").then().statusCode(200).body("details.seed", equalTo(3));
    }

    @Test
    void generateStreamSendsOneEventPerTokenAndTheTextWithTheLast() {
        Response r = post("/generate_stream", "{\"inputs\":\"Hello\",\"parameters\":{\"max_new_tokens\":4,\"details\":true}}");
        r.then().statusCode(200).header("Content-Type", "text/event-stream").header("X-Accel-Buffering", "no");
        List<String> data = Server.sseData(r.asString());
        assertEquals(4, data.size(), r.asString());
        StringBuilder text = new StringBuilder();
        for (int i = 0; i < 4; i++) {
            JsonPath e = JsonPath.from(data.get(i));
            assertEquals(i, e.getInt("index"));
            assertTrue(e.getInt("token.id") >= 0);
            text.append(e.getString("token.text"));
            if (i < 3) {
                assertNull(e.get("generated_text"));
                assertNull(e.get("details"));
            }
        }
        JsonPath last = JsonPath.from(data.get(3));
        assertEquals(text.toString(), last.getString("generated_text"));
        assertEquals("length", last.getString("details.finish_reason"));
        assertEquals(4, last.getInt("details.generated_tokens"));
    }

    @Test
    void aStopSequenceIsReportedAsSuch() {
        String greedy = post("/generate", "{\"inputs\":\"Hello\",\"parameters\":{\"max_new_tokens\":12}}").jsonPath().getString("generated_text");
        String stop = greedy.substring(2, 5);
        Response r = post("/generate", "{\"inputs\":\"Hello\",\"parameters\":{\"max_new_tokens\":12,\"details\":true,\"stop\":["
                + io.spindle.api.rest.Json.write(stop) + "]}}");
        r.then().statusCode(200).body("details.finish_reason", equalTo("stop_sequence"));
        assertEquals(greedy.substring(0, greedy.indexOf(stop)), r.jsonPath().getString("generated_text"));
    }

    @Test
    void anEosTokenIsReportedAsSuch() {
        // A request's own stop token id behaves as EOS: make the first greedy token the stop token.
        int first = post("/generate", "{\"inputs\":\"Hello\",\"parameters\":{\"max_new_tokens\":1,\"details\":true}}")
                .jsonPath().getInt("details.tokens[0].id");
        Response r = post("/v1/completions", "{\"model\":\"demo-gpt2\",\"prompt\":\"Hello\",\"max_tokens\":10,\"temperature\":0,"
                + "\"stop_token_ids\":[" + first + "]}");
        r.then().statusCode(200).body("choices[0].finish_reason", equalTo("stop")).body("usage.completion_tokens", equalTo(1));
    }
}
