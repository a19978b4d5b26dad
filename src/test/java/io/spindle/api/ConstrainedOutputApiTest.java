package io.spindle.api;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.http.ContentType;
import io.restassured.path.json.JsonPath;
import io.restassured.response.Response;
import io.spindle.testing.Server;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Set;
import java.util.regex.Pattern;

import static io.restassured.RestAssured.given;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Structured outputs through the APIs, on the random-weight demo GPT-2 (a constraint guarantees the
 * shape whatever the weights): OpenAI response_format json_schema (whole and streamed) and
 * json_object, vLLM guided_regex and guided_choice, TGI grammar; bad constraints are 400s (TGI 422)
 * that name the problem, before anything is queued.
 */
@QuarkusTest
class ConstrainedOutputApiTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String SCHEMA = "{\"type\":\"object\",\"properties\":{"
            + "\"name\":{\"type\":\"string\",\"maxLength\":12},"
            + "\"mood\":{\"type\":\"string\",\"enum\":[\"calm\",\"happy\",\"tired\"]},"
            + "\"ok\":{\"type\":\"boolean\"}},"
            + "\"required\":[\"name\",\"mood\",\"ok\"],\"additionalProperties\":false}";

    @BeforeEach
    void ready() {
        Server.awaitReady();
    }

    private static Response post(String path, String body) {
        return given().contentType(ContentType.JSON).body(body).post(path);
    }

    private static void assertMatchesSchema(String text) throws Exception {
        JsonNode o = JSON.readTree(text);
        assertTrue(o.isObject() && o.size() == 3, text);
        assertTrue(o.get("name").isTextual() && o.get("name").asText().length() <= 12, text);
        assertTrue(Set.of("calm", "happy", "tired").contains(o.get("mood").asText()), text);
        assertTrue(o.get("ok").isBoolean(), text);
    }

    @Test
    void chatResponseFormatJsonSchemaGivesJsonThatValidatesWholeAndStreamed() throws Exception {
        String body = "{\"model\":\"demo-gpt2\",\"messages\":[{\"role\":\"user\",\"content\":\"Describe someone.\"}],"
                + "\"max_tokens\":80,\"temperature\":0.9,\"seed\":3,\"response_format\":{\"type\":\"json_schema\","
                + "\"json_schema\":{\"name\":\"person\",\"strict\":true,\"schema\":" + SCHEMA + "}}";
        for (int seed = 3; seed < 6; seed++) {
            JsonPath j = post("/v1/chat/completions", body.replace("\"seed\":3", "\"seed\":" + seed) + "}")
                    .then().statusCode(200).extract().jsonPath();
            assertEquals("stop", j.getString("choices[0].finish_reason"), j.prettify());
            assertMatchesSchema(j.getString("choices[0].message.content"));
        }
        List<String> data = Server.sseData(post("/v1/chat/completions", body + ",\"stream\":true}").then().statusCode(200)
                .extract().asString());
        StringBuilder text = new StringBuilder();
        for (String d : data.subList(0, data.size() - 1)) {
            String c = JsonPath.from(d).getString("choices[0].delta.content");
            text.append(c == null ? "" : c);
        }
        assertMatchesSchema(text.toString());
    }

    @Test
    void guidedRegexAndChoiceHoldOnCompletions() {
        Pattern code = Pattern.compile("[0-9]{3}-[a-z]{2}");
        for (int seed = 0; seed < 3; seed++) {
            JsonPath j = post("/v1/completions", "{\"model\":\"demo-gpt2\",\"prompt\":\"Code:\",\"max_tokens\":20,"
                    + "\"temperature\":1,\"seed\":" + seed + ",\"guided_regex\":\"[0-9]{3}-[a-z]{2}\"}")
                    .then().statusCode(200).extract().jsonPath();
            assertTrue(code.matcher(j.getString("choices[0].text")).matches(), j.getString("choices[0].text"));
            assertEquals("stop", j.getString("choices[0].finish_reason"));
            JsonPath c = post("/v1/completions", "{\"model\":\"demo-gpt2\",\"prompt\":\"Answer:\",\"max_tokens\":20,"
                    + "\"temperature\":1,\"seed\":" + seed + ",\"guided_choice\":[\"yes\",\"no\",\"maybe later\"]}")
                    .then().statusCode(200).extract().jsonPath();
            assertTrue(Set.of("yes", "no", "maybe later").contains(c.getString("choices[0].text")), c.prettify());
        }
    }

    @Test
    void jsonObjectModeOnlyEverProducesAJsonObjectPrefix() throws Exception {
        JsonPath j = post("/v1/chat/completions", "{\"model\":\"demo-gpt2\",\"messages\":[{\"role\":\"user\","
                + "\"content\":\"JSON please\"}],\"max_tokens\":200,\"temperature\":0,"
                + "\"response_format\":{\"type\":\"json_object\"}}").then().statusCode(200).extract().jsonPath();
        String text = j.getString("choices[0].message.content");
        assertTrue(text.startsWith("{"), text);
        if ("stop".equals(j.getString("choices[0].finish_reason"))) {
            assertTrue(JSON.readTree(text).isObject(), text);
        }
    }

    @Test
    void tgiGrammarRegexHolds() {
        JsonPath j = post("/generate", "{\"inputs\":\"Date:\",\"parameters\":{\"max_new_tokens\":20,\"do_sample\":true,"
                + "\"seed\":5,\"grammar\":{\"type\":\"regex\",\"value\":\"20[0-9]{2}-(0[1-9]|1[0-2])\"}}}")
                .then().statusCode(200).extract().jsonPath();
        assertTrue(Pattern.compile("20[0-9]{2}-(0[1-9]|1[0-2])").matcher(j.getString("generated_text")).matches(),
                j.getString("generated_text"));
    }

    /**
     * vLLM's structured_outputs object, the TGI grammar that Hugging Face's client carries into
     * OpenAI bodies, and TGI's chat response_format with a value hold like the other forms.
     */
    @Test
    void structuredOutputsAndTgiFormsInOpenAiBodiesHold() throws Exception {
        JsonPath choice = post("/v1/completions", "{\"model\":\"demo-gpt2\",\"prompt\":\"Mood:\",\"max_tokens\":10,"
                + "\"temperature\":1,\"seed\":2,\"structured_outputs\":{\"choice\":[\"calm\",\"happy\",\"tired\"]}}")
                .then().statusCode(200).extract().jsonPath();
        assertTrue(Set.of("calm", "happy", "tired").contains(choice.getString("choices[0].text")), choice.prettify());
        JsonPath json = post("/v1/chat/completions", "{\"model\":\"demo-gpt2\",\"messages\":[{\"role\":\"user\","
                + "\"content\":\"x\"}],\"max_tokens\":80,\"temperature\":0.9,\"seed\":4,\"structured_outputs\":{\"json\":"
                + SCHEMA + ",\"disable_any_whitespace\":true}}").then().statusCode(200).extract().jsonPath();
        assertMatchesSchema(json.getString("choices[0].message.content"));
        JsonPath grammar = post("/v1/completions", "{\"model\":\"demo-gpt2\",\"prompt\":\"Code:\",\"max_tokens\":20,"
                + "\"temperature\":1,\"seed\":1,\"grammar\":{\"type\":\"regex\",\"value\":\"[0-9]{3}-[a-z]{2}\"}}")
                .then().statusCode(200).extract().jsonPath();
        assertTrue(grammar.getString("choices[0].text").matches("[0-9]{3}-[a-z]{2}"), grammar.prettify());
        JsonPath tgiChat = post("/v1/chat/completions", "{\"model\":\"demo-gpt2\",\"messages\":[{\"role\":\"user\","
                + "\"content\":\"x\"}],\"max_tokens\":80,\"temperature\":0.9,\"seed\":5,\"response_format\":"
                + "{\"type\":\"json\",\"value\":" + SCHEMA + "}}").then().statusCode(200).extract().jsonPath();
        assertMatchesSchema(tgiChat.getString("choices[0].message.content"));
    }

    @Test
    void badConstraintsAreClientErrorsNamingTheProblem() {
        post("/v1/chat/completions", "{\"model\":\"demo-gpt2\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
                + "\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{\"name\":\"s\",\"schema\":"
                + "{\"oneOf\":[{\"type\":\"string\"},{\"type\":\"null\"}]}}}}")
                .then().statusCode(400).body("error.param", org.hamcrest.Matchers.equalTo("response_format"))
                .body("error.message", org.hamcrest.Matchers.containsString("oneOf"));
        post("/v1/completions", "{\"model\":\"demo-gpt2\",\"prompt\":\"x\",\"guided_choice\":[]}")
                .then().statusCode(400).body("error.param", org.hamcrest.Matchers.equalTo("guided_choice"));
        post("/v1/completions", "{\"model\":\"demo-gpt2\",\"prompt\":\"x\",\"guided_regex\":\"a\",\"guided_choice\":[\"b\"]}")
                .then().statusCode(400).body("error.message", org.hamcrest.Matchers.containsString("send one of"));
        post("/v1/completions", "{\"model\":\"demo-gpt2\",\"prompt\":\"x\",\"response_format\":{\"type\":\"xml\"}}")
                .then().statusCode(400).body("error.param", org.hamcrest.Matchers.equalTo("response_format"));
        post("/v1/completions", "{\"model\":\"demo-t5\",\"prompt\":\"x\",\"guided_regex\":\"a+\"}")
                .then().statusCode(400).body("error.message", org.hamcrest.Matchers.containsString("GPT-2"));
        post("/generate", "{\"inputs\":\"x\",\"parameters\":{\"grammar\":{\"type\":\"xml\",\"value\":\"<a/>\"}}}")
                .then().statusCode(422).body("error", org.hamcrest.Matchers.containsString("grammar"));
        post("/generate", "{\"inputs\":\"x\",\"parameters\":{\"grammar\":{\"type\":\"regex\",\"value\":\"(?=a)b\"}}}")
                .then().statusCode(422);
    }
}
