package io.spindle.api;

import io.quarkus.test.junit.QuarkusTest;
import io.restassured.http.ContentType;
import io.restassured.path.json.JsonPath;
import io.restassured.response.Response;
import io.spindle.testing.Server;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

import static io.restassured.RestAssured.given;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * OpenAI's {@code n}, {@code best_of} and prompt arrays: choices carry their index, usage counts each
 * prompt once, sample i reproduces as one request seeded seed + i, the prompt is computed once
 * (Prometheus's prompt-token counter), streams interleave choices and end with one usage and [DONE].
 */
@QuarkusTest
class ParallelSamplesApiTest {
    private static final String PROMPT = "The quick brown fox jumps over the lazy dog";

    @BeforeEach
    void ready() {
        Server.awaitReady();
    }

    private static Response post(String path, String body) {
        return given().contentType(ContentType.JSON).body(body).post(path);
    }

    private static double promptTokensCounter() {
        String scrape = given().header("Accept", "text/plain").get("/q/metrics").asString();
        double sum = 0;
        for (String line : scrape.split("\n")) {
            if (line.startsWith("spindle_prompt_tokens_total{") && line.contains("model=\"demo-gpt2\"")) {
                sum += Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
            }
        }
        return sum;
    }

    @Test
    void nSamplesEachReproduceAsOneSeededRequestAndThePromptIsComputedOnce() {
        String common = "\"model\":\"demo-gpt2\",\"prompt\":\"" + PROMPT + "\",\"max_tokens\":6,\"temperature\":0.9,\"top_k\":50";
        double before = promptTokensCounter();
        JsonPath many = post("/v1/completions", "{" + common + ",\"n\":4,\"seed\":77}").then().statusCode(200)
                .extract().jsonPath();
        int promptTokens = many.getInt("usage.prompt_tokens");
        Server.eventually("the prompt counter moved", 5000, () -> promptTokensCounter() - before >= promptTokens);
        assertEquals(promptTokens, promptTokensCounter() - before, 0.0, "one prefill for four samples");
        assertEquals(List.of(0, 1, 2, 3), many.getList("choices.index"));
        assertEquals(24, many.getInt("usage.completion_tokens"));
        Set<String> distinct = new HashSet<>();
        for (int i = 0; i < 4; i++) {
            String alone = post("/v1/completions", "{" + common + ",\"seed\":" + (77 + i) + "}").jsonPath()
                    .getString("choices[0].text");
            assertEquals(alone, many.getString("choices[" + i + "].text"), "sample " + i);
            distinct.add(alone);
        }
        assertTrue(distinct.size() > 1, "different seeds, different samples: " + distinct);
        Server.conformsToOpenAi("CreateCompletionResponse", post("/v1/completions", "{" + common + ",\"n\":2}").asString(), false);
    }

    @Test
    void streamedSamplesInterleaveAndEndOnce() {
        String sse = post("/v1/completions", "{\"model\":\"demo-gpt2\",\"prompt\":\"" + PROMPT + "\",\"max_tokens\":5,"
                + "\"n\":3,\"seed\":5,\"stream\":true,\"stream_options\":{\"include_usage\":true}}").then().statusCode(200)
                .extract().asString();
        List<String> data = Server.sseData(sse);
        assertEquals("[DONE]", data.getLast());
        assertEquals(1, data.stream().filter("[DONE]"::equals).count());
        JsonPath usage = JsonPath.from(data.get(data.size() - 2));
        assertEquals(15, usage.getInt("usage.completion_tokens"));
        List<Integer> finished = new ArrayList<>();
        for (String d : data.subList(0, data.size() - 2)) {
            JsonPath j = JsonPath.from(d);
            if (j.getString("choices[0].finish_reason") != null) {
                finished.add(j.getInt("choices[0].index"));
            }
        }
        finished.sort(null);
        assertEquals(List.of(0, 1, 2), finished);
        String chat = post("/v1/chat/completions", "{\"model\":\"demo-gpt2\",\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}],"
                + "\"max_tokens\":4,\"n\":2,\"seed\":9,\"stream\":true}").then().statusCode(200).extract().asString();
        Set<Integer> indices = new HashSet<>();
        for (String d : Server.sseData(chat)) {
            if (!d.equals("[DONE]")) {
                indices.add(JsonPath.from(d).getInt("choices[0].index"));
            }
        }
        assertEquals(Set.of(0, 1), indices);
        Server.conformsToOpenAi("CreateChatCompletionStreamResponse", chat, true);
    }

    @Test
    void chatNAndBestOfAndPromptArrays() {
        JsonPath chat = post("/v1/chat/completions", "{\"model\":\"demo-gpt2\",\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}],"
                + "\"max_tokens\":4,\"n\":3,\"temperature\":0}").then().statusCode(200).extract().jsonPath();
        assertEquals(List.of(0, 1, 2), chat.getList("choices.index"));
        assertEquals(chat.getString("choices[0].message.content"), chat.getString("choices[2].message.content"),
                "greedy samples are the same");
        assertEquals(12, chat.getInt("usage.completion_tokens"));

        JsonPath best = post("/v1/completions", "{\"model\":\"demo-gpt2\",\"prompt\":\"" + PROMPT + "\",\"max_tokens\":5,"
                + "\"best_of\":4,\"n\":2,\"seed\":3,\"logprobs\":0}").then().statusCode(200).extract().jsonPath();
        assertEquals(2, best.getList("choices").size());
        assertEquals(20, best.getInt("usage.completion_tokens"), "every candidate's tokens count");
        double first = sum(best.getList("choices[0].logprobs.token_logprobs", Float.class));
        double second = sum(best.getList("choices[1].logprobs.token_logprobs", Float.class));
        assertTrue(first >= second, first + " < " + second);
        post("/v1/completions", "{\"model\":\"demo-gpt2\",\"prompt\":\"x\",\"best_of\":2,\"stream\":true}").then().statusCode(400);

        JsonPath arrays = post("/v1/completions", "{\"model\":\"demo-gpt2\",\"prompt\":[\"Hello\",\"The quick brown\"],"
                + "\"max_tokens\":3,\"n\":2,\"temperature\":0,\"echo\":true}").then().statusCode(200).extract().jsonPath();
        assertEquals(List.of(0, 1, 2, 3), arrays.getList("choices.index"));
        assertTrue(arrays.getString("choices[1].text").startsWith("Hello"));
        assertTrue(arrays.getString("choices[2].text").startsWith("The quick brown"));
        assertEquals(1 + 3, arrays.getInt("usage.prompt_tokens"), "each prompt once");
        JsonPath ids = post("/v1/completions", "{\"model\":\"demo-gpt2\",\"prompt\":[[15496],[464,2068]],\"max_tokens\":2,"
                + "\"temperature\":0}").then().statusCode(200).extract().jsonPath();
        assertEquals(2, ids.getList("choices").size());
        JsonPath t5 = post("/v1/completions", "{\"model\":\"demo-t5\",\"prompt\":\"translate: the house\",\"max_tokens\":4,"
                + "\"n\":2,\"seed\":4,\"temperature\":0.9,\"ignore_eos\":true}").then().statusCode(200).extract().jsonPath();
        assertEquals(List.of(0, 1), t5.getList("choices.index"));
        assertEquals(8, t5.getInt("usage.completion_tokens"));
        post("/v1/completions", "{\"model\":\"demo-gpt2\",\"prompt\":\"x\",\"n\":99}").then().statusCode(400)
                .body("error.param", org.hamcrest.Matchers.equalTo("n"));
    }

    private static double sum(List<Float> values) {
        double s = 0;
        for (Float v : values) {
            s += v;
        }
        return s;
    }
}
