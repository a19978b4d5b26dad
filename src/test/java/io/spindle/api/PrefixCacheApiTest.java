package io.spindle.api;

import io.quarkus.test.junit.QuarkusTest;
import io.restassured.RestAssured;
import io.restassured.http.ContentType;
import io.restassured.path.json.JsonPath;
import io.spindle.testing.Scrape;
import io.spindle.testing.Server;
import io.spindle.testing.WsClient;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.util.List;

import static io.restassured.RestAssured.given;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The prefix cache as clients and operators see it: the next chat turn reports the history it reused
 * as OpenAI's {@code usage.prompt_tokens_details.cached_tokens} (whole, streamed, over WebSocket), the
 * answer equals the one computed without the cache, and the metrics count queried and hit tokens.
 */
@QuarkusTest
class PrefixCacheApiTest {
    private static final String SYSTEM = "You are a careful assistant. Answer briefly and precisely, cite nothing, "
            + "and never repeat the question back to the user. Keep every answer under fifty words.";

    @BeforeEach
    void ready() {
        Server.awaitReady();
    }

    private static String chat(String user, boolean stream) {
        return "{\"model\":\"demo-gpt2\",\"messages\":[{\"role\":\"system\",\"content\":\"" + SYSTEM + "\"},"
                + "{\"role\":\"user\",\"content\":\"" + user + "\"}],\"max_tokens\":6,\"temperature\":0"
                + (stream ? ",\"stream\":true,\"stream_options\":{\"include_usage\":true}" : "") + "}";
    }

    private static JsonPath post(String body) {
        return given().contentType(ContentType.JSON).body(body).post("/v1/chat/completions").then().statusCode(200)
                .extract().jsonPath();
    }

    private static double metric(String name) {
        Scrape s = new Scrape(given().accept("text/plain; version=0.0.4").get("/q/metrics").then().statusCode(200)
                .extract().asString());
        return s.find(name, "model", "demo-gpt2").stream().mapToDouble(Scrape.Series::value).sum();
    }

    @Test
    void aSharedSystemPromptIsReusedAndReportedAsCachedTokens() throws Exception {
        double queriesBefore = metric("spindle_prefix_cache_queries_total");
        double hitsBefore = metric("spindle_prefix_cache_hits_total");
        JsonPath first = post(chat("What is a tensor?", false));
        int prompt = first.getInt("usage.prompt_tokens");
        assertTrue(prompt > 40, "long enough to hold whole blocks: " + prompt);

        JsonPath second = post(chat("What is a matrix?", false));
        int cached = second.getInt("usage.prompt_tokens_details.cached_tokens");
        assertTrue(cached >= 32 && cached % 16 == 0 && cached < second.getInt("usage.prompt_tokens"),
                "the shared system prompt's whole blocks: " + cached);
        assertEquals(cached, second.getInt("timings.cached_prompt_tokens"));

        // Streamed: the usage chunk says the same; the answer equals the uncached one's.
        List<String> data = Server.sseData(given().contentType(ContentType.JSON).body(chat("What is a tensor?", true))
                .post("/v1/chat/completions").then().statusCode(200).extract().asString());
        JsonPath usage = JsonPath.from(data.get(data.size() - 2));
        assertTrue(usage.getInt("usage.prompt_tokens_details.cached_tokens") >= cached, usage.prettify());
        String streamed = String.join("", data.subList(0, data.size() - 2).stream()
                .map(d -> JsonPath.from(d).getString("choices[0].delta.content")).filter(c -> c != null).toList());
        assertEquals(first.getString("choices[0].message.content"), streamed);

        try (WsClient ws = new WsClient(RestAssured.port)) {
            ws.send("{\"type\":\"generate\",\"id\":\"w\",\"model\":\"demo-gpt2\",\"messages\":[{\"role\":\"system\",\"content\":\""
                    + SYSTEM + "\"},{\"role\":\"user\",\"content\":\"What is a vector?\"}],\"max_tokens\":3,\"temperature\":0}");
            JsonPath done = ws.await("done", f -> "done".equals(f.getString("type")));
            assertTrue(done.getInt("usage.prompt_tokens_details.cached_tokens") >= 32, done.prettify());
        }
        assertTrue(metric("spindle_prefix_cache_queries_total") - queriesBefore >= 4 * prompt - 16,
                "every admitted prompt's tokens are queried");
        assertTrue(metric("spindle_prefix_cache_hits_total") - hitsBefore >= 3 * 32, "hits counted in tokens");
        assertTrue(metric("spindle_prefix_cache_bytes") > 0);
        Scrape s = new Scrape(given().accept("text/plain; version=0.0.4").get("/q/metrics").asString());
        Scrape.Series info = s.find("spindle_cache_config_info", "model", "demo-gpt2").getFirst();
        assertEquals("16", info.labels().get("block_size"));
        assertTrue(Integer.parseInt(info.labels().get("num_gpu_blocks")) > 0);
        assertEquals("host", info.labels().get("kv_cache_location"), "the CPU provider keeps the cache in host memory");
        assertEquals("float32", info.labels().get("cache_dtype"), "the demo GPT-2's cache is float32");
    }
}
