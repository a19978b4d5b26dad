package io.spindle.api;

import io.quarkus.test.junit.QuarkusTest;
import io.restassured.http.ContentType;
import io.restassured.path.json.JsonPath;
import io.restassured.response.Response;
import io.spindle.testing.Server;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static io.restassured.RestAssured.given;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Log-probabilities and the sampling knobs in each API's shape: legacy completions (top dicts, echo
 * scoring the prompt with max_tokens 0 and 1 as lm-evaluation-harness sends them), chat
 * (top_logprobs, streamed and not), TGI (decoder_input_details, top_n_tokens), min_tokens, top_k -1,
 * truncation. Their values are checked against a direct forward pass in LogprobsModelTest and LmEvalIT.
 */
@QuarkusTest
class LogprobsApiTest {
    @BeforeEach
    void ready() {
        Server.awaitReady();
    }

    private static Response post(String path, String body) {
        return given().contentType(ContentType.JSON).body(body).post(path);
    }

    @Test
    void completionsTopLogprobsAreDictsThatHoldTheChosenToken() {
        JsonPath j = post("/v1/completions", "{\"model\":\"demo-gpt2\",\"prompt\":\"Hello world\",\"max_tokens\":5,"
                + "\"temperature\":0,\"logprobs\":3}").then().statusCode(200).extract().jsonPath();
        List<String> tokens = j.getList("choices[0].logprobs.tokens");
        List<Float> lps = j.getList("choices[0].logprobs.token_logprobs", Float.class);
        List<Map<String, Float>> tops = j.getList("choices[0].logprobs.top_logprobs");
        assertEquals(5, tokens.size());
        for (int i = 0; i < 5; i++) {
            Map<String, Float> top = tops.get(i);
            assertTrue(top.size() >= 3 && top.size() <= 4, top.toString());
            // Greedy: the chosen token is the most likely one.
            float best = top.values().stream().map(Number::floatValue).max(Float::compare).orElseThrow();
            assertEquals(best, lps.get(i), 1e-6);
            assertEquals(lps.get(i), top.get(tokens.get(i)).floatValue(), 1e-6);
        }
    }

    @Test
    void echoWithLogprobsScoresThePromptWithZeroOrOneNewToken() {
        String prompt = "The quick brown fox jumps";
        JsonPath zero = post("/v1/completions", "{\"model\":\"demo-gpt2\",\"prompt\":\"" + prompt + "\",\"max_tokens\":0,"
                + "\"echo\":true,\"logprobs\":1,\"temperature\":0}").then().statusCode(200).extract().jsonPath();
        assertEquals(prompt, zero.getString("choices[0].text"));
        assertEquals(0, zero.getInt("usage.completion_tokens"));
        List<Object> lps0 = zero.getList("choices[0].logprobs.token_logprobs");
        assertEquals(zero.getInt("usage.prompt_tokens"), lps0.size());
        assertNull(lps0.getFirst());
        assertNull(zero.getList("choices[0].logprobs.top_logprobs").getFirst());

        JsonPath one = post("/v1/completions", "{\"model\":\"demo-gpt2\",\"prompt\":\"" + prompt + "\",\"max_tokens\":1,"
                + "\"echo\":true,\"logprobs\":1,\"temperature\":0}").then().statusCode(200).extract().jsonPath();
        List<Object> lps1 = one.getList("choices[0].logprobs.token_logprobs");
        assertEquals(lps0.size() + 1, lps1.size());
        assertEquals(lps0, lps1.subList(0, lps0.size()), "the prompt scores the same with or without a new token");

        // Streamed: the echoed prompt's frame carries the same scores.
        String sse = post("/v1/completions", "{\"model\":\"demo-gpt2\",\"prompt\":\"" + prompt + "\",\"max_tokens\":1,"
                + "\"echo\":true,\"logprobs\":1,\"temperature\":0,\"stream\":true}").then().statusCode(200).extract().asString();
        JsonPath head = JsonPath.from(Server.sseData(sse).getFirst());
        assertEquals(prompt, head.getString("choices[0].text"));
        assertEquals(lps0, head.getList("choices[0].logprobs.token_logprobs"));
    }

    @Test
    void chatTopLogprobsStreamedAndNot() {
        String body = "{\"model\":\"demo-gpt2\",\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}],\"max_tokens\":4,"
                + "\"temperature\":0,\"logprobs\":true,\"top_logprobs\":3";
        JsonPath whole = post("/v1/chat/completions", body + "}").then().statusCode(200).extract().jsonPath();
        List<Map<String, Object>> content = whole.getList("choices[0].logprobs.content");
        assertEquals(4, content.size());
        for (Map<String, Object> c : content) {
            List<Map<String, Object>> top = (List<Map<String, Object>>) c.get("top_logprobs");
            assertEquals(3, top.size());
            assertEquals(((Number) top.getFirst().get("logprob")).floatValue(), ((Number) c.get("logprob")).floatValue(), 1e-6);
            assertEquals(top.getFirst().get("token"), c.get("token"));
        }
        Server.conformsToOpenAi("CreateChatCompletionResponse", post("/v1/chat/completions", body + "}").asString(), false);
        String sse = post("/v1/chat/completions", body + ",\"stream\":true}").then().statusCode(200).extract().asString();
        List<String> data = Server.sseData(sse);
        assertEquals("assistant", JsonPath.from(data.getFirst()).getString("choices[0].delta.role"));
        int withTop = 0;
        for (String d : data.subList(1, data.size() - 1)) {
            List<Object> top = JsonPath.from(d).getList("choices[0].logprobs.content[0].top_logprobs");
            if (top != null) {
                assertEquals(3, top.size());
                withTop++;
            }
        }
        assertEquals(4, withTop, sse);
        Server.conformsToOpenAi("CreateChatCompletionStreamResponse", sse, true);
        post("/v1/chat/completions", "{\"model\":\"demo-gpt2\",\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}],"
                + "\"top_logprobs\":2}").then().statusCode(400);
    }

    @Test
    void tgiPrefillDetailsAndTopTokens() {
        JsonPath j = post("/generate", "{\"inputs\":\"Hello world, how\",\"parameters\":{\"max_new_tokens\":3,"
                + "\"details\":true,\"decoder_input_details\":true,\"top_n_tokens\":2}}").then().statusCode(200)
                .extract().jsonPath();
        List<Map<String, Object>> prefill = j.getList("details.prefill");
        assertEquals(j.getInt("details.input_length"), prefill.size());
        assertNull(prefill.getFirst().get("logprob"));
        for (Map<String, Object> p : prefill.subList(1, prefill.size())) {
            assertTrue(((Number) p.get("logprob")).doubleValue() <= 0);
        }
        List<List<Object>> top = j.getList("details.top_tokens");
        assertEquals(3, top.size());
        assertEquals(2, top.getFirst().size());
        String sse = post("/generate_stream", "{\"inputs\":\"Hello\",\"parameters\":{\"max_new_tokens\":3,\"top_n_tokens\":2}}")
                .then().statusCode(200).extract().asString();
        for (String d : Server.sseData(sse)) {
            assertEquals(2, JsonPath.from(d).getList("top_tokens").size(), d);
        }
    }

    @Test
    void minTokensHoldsBackTheStopTokens() throws Exception {
        JsonPath greedy = post("/v1/completions", "{\"model\":\"demo-gpt2\",\"prompt\":\"Hello\",\"max_tokens\":1,"
                + "\"temperature\":0,\"return_token_ids\":true}").jsonPath();
        int first = greedy.getInt("choices[0].token_ids[0]");
        JsonPath stopped = post("/v1/completions", "{\"model\":\"demo-gpt2\",\"prompt\":\"Hello\",\"max_tokens\":6,"
                + "\"temperature\":0,\"stop_token_ids\":[" + first + "]}").jsonPath();
        assertEquals(1, stopped.getInt("usage.completion_tokens"));
        JsonPath held = post("/v1/completions", "{\"model\":\"demo-gpt2\",\"prompt\":\"Hello\",\"max_tokens\":6,"
                + "\"temperature\":0,\"stop_token_ids\":[" + first + "],\"min_tokens\":3,\"return_token_ids\":true}").jsonPath();
        assertTrue(held.getInt("usage.completion_tokens") >= 3, held.prettify());
        assertNotEquals(first, held.getInt("choices[0].token_ids[0]"));
        // Stop strings too wait for min_tokens: the first token's text would stop at once.
        String firstText = new com.fasterxml.jackson.databind.ObjectMapper()
                .writeValueAsString(greedy.getString("choices[0].text"));
        JsonPath stopString = post("/v1/completions", "{\"model\":\"demo-gpt2\",\"prompt\":\"Hello\",\"max_tokens\":5,"
                + "\"temperature\":0,\"stop\":[" + firstText + "],\"min_tokens\":2}").jsonPath();
        JsonPath stopsAtOnce = post("/v1/completions", "{\"model\":\"demo-gpt2\",\"prompt\":\"Hello\",\"max_tokens\":5,"
                + "\"temperature\":0,\"stop\":[" + firstText + "]}").jsonPath();
        assertEquals(1, stopsAtOnce.getInt("usage.completion_tokens"), stopsAtOnce.prettify());
        assertTrue(stopString.getInt("usage.completion_tokens") >= 2, stopString.prettify());
    }

    @Test
    void topKMinusOneIsOffAndTruncationKeepsTheLastTokens() {
        post("/v1/completions", "{\"model\":\"demo-gpt2\",\"prompt\":\"Hello\",\"max_tokens\":2,\"top_k\":-1,\"seed\":3}")
                .then().statusCode(200);
        JsonPath cut = post("/generate", "{\"inputs\":\"Something else entirely, then: three four five\",\"parameters\":"
                + "{\"max_new_tokens\":4,\"truncate\":3,\"details\":true}}").jsonPath();
        assertEquals(3, cut.getInt("details.input_length"));
        String same = post("/generate", "{\"inputs\":\" three four five\",\"parameters\":{\"max_new_tokens\":4}}")
                .jsonPath().getString("generated_text");
        assertEquals(same, cut.getString("generated_text"), "only the last three tokens were read");
    }
}
