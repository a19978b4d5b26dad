package io.spindle.api;

import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.http.ContentType;
import io.restassured.response.Response;
import io.spindle.testing.Server;
import io.spindle.testing.TestModelsDir;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.List;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.not;
import static org.hamcrest.Matchers.nullValue;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Bad input gets a 4xx in the API's own format; failures mid-stream end the stream in-band; the server keeps serving. */
@QuarkusTest
@QuarkusTestResource(TestModelsDir.class)
class ErrorsTest {
    private static final String LONG_PROMPT = "[" + "464,".repeat(600) + "464]";

    @BeforeEach
    void ready() {
        Server.awaitReady();
    }

    @AfterEach
    void stillServing() {
        given().contentType(ContentType.JSON).body("{\"model\":\"demo-gpt2\",\"prompt\":\"ok\",\"max_tokens\":2}")
                .post("/v1/completions").then().statusCode(200).body("usage.completion_tokens", equalTo(2));
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', value = {
            "malformed JSON           | {\"model\":\"demo-gpt2\",\"prompt\": | 400 | ",
            "empty body               |                                  | 400 | ",
            "JSON that is not object  | [1,2]                            | 400 | ",
            "wrong type               | {\"model\":\"demo-gpt2\",\"prompt\":\"x\",\"max_tokens\":\"ten\"} | 400 | max_tokens",
            "unknown model            | {\"model\":\"nope\",\"prompt\":\"x\"} | 404 | model",
            "missing model            | {\"prompt\":\"x\"}              | 400 | model",
            "max_tokens zero          | {\"model\":\"demo-gpt2\",\"prompt\":\"x\",\"max_tokens\":0} | 400 | max_tokens",
            "negative temperature     | {\"model\":\"demo-gpt2\",\"prompt\":\"x\",\"temperature\":-0.5} | 400 | temperature",
            "top_p zero               | {\"model\":\"demo-gpt2\",\"prompt\":\"x\",\"top_p\":0} | 400 | top_p",
            "top_p above one          | {\"model\":\"demo-gpt2\",\"prompt\":\"x\",\"top_p\":1.5} | 400 | top_p",
            "empty prompt             | {\"model\":\"demo-gpt2\",\"prompt\":\"\"} | 400 | prompt",
            "token id out of range    | {\"model\":\"demo-gpt2\",\"prompt\":[1,99999999]} | 400 | prompt",
            "number prompt            | {\"model\":\"demo-gpt2\",\"prompt\":42} | 400 | prompt",
            "number model             | {\"model\":42,\"prompt\":\"x\"} | 400 | model",
            "number in stop           | {\"model\":\"demo-gpt2\",\"prompt\":\"x\",\"stop\":[7]} | 400 | stop",
            "n zero                   | {\"model\":\"demo-gpt2\",\"prompt\":\"x\",\"n\":0} | 400 | n",
            "best_of below n          | {\"model\":\"demo-gpt2\",\"prompt\":\"x\",\"n\":3,\"best_of\":2} | 400 | best_of",
            "too many prompts         | {\"model\":\"demo-gpt2\",\"prompt\":[\"a\",\"b\",\"c\",\"d\",\"e\",\"f\",\"g\",\"h\",\"i\",\"j\",\"k\",\"l\",\"m\",\"n\",\"o\",\"p\",\"q\",\"r\",\"s\",\"t\",\"u\",\"v\",\"w\",\"x\",\"y\",\"z\",\"a\",\"b\",\"c\",\"d\",\"e\",\"f\",\"g\",\"h\",\"i\",\"j\",\"k\",\"l\",\"m\",\"n\",\"o\",\"p\",\"q\",\"r\",\"s\",\"t\",\"u\",\"v\",\"w\",\"x\",\"y\",\"z\",\"a\",\"b\",\"c\",\"d\",\"e\",\"f\",\"g\",\"h\",\"i\",\"j\",\"k\",\"l\",\"m\"]} | 400 | prompt",
            "logprobs above 20        | {\"model\":\"demo-gpt2\",\"prompt\":\"x\",\"logprobs\":21} | 400 | logprobs",
            "max_tokens 0 w/o echo    | {\"model\":\"demo-gpt2\",\"prompt\":\"x\",\"max_tokens\":0} | 400 | max_tokens",
            "response_format xml      | {\"model\":\"demo-gpt2\",\"prompt\":\"x\",\"response_format\":{\"type\":\"xml\"}} | 400 | response_format",
            "guided_json not JSON     | {\"model\":\"demo-gpt2\",\"prompt\":\"x\",\"guided_json\":\"{not json\"} | 400 | guided_json",
            "guided_choice empty      | {\"model\":\"demo-gpt2\",\"prompt\":\"x\",\"guided_choice\":[]} | 400 | guided_choice",
            "beam search              | {\"model\":\"demo-gpt2\",\"prompt\":\"x\",\"use_beam_search\":true} | 400 | use_beam_search",
            "bad TGI grammar, OpenAI  | {\"model\":\"demo-gpt2\",\"prompt\":\"x\",\"grammar\":{\"type\":\"xml\",\"value\":\"a\"}} | 400 | grammar",
            "two structured outputs   | {\"model\":\"demo-gpt2\",\"prompt\":\"x\",\"structured_outputs\":{\"regex\":\"a\",\"choice\":[\"b\"]}} | 400 | structured_outputs",
            "structured_outputs CFG   | {\"model\":\"demo-gpt2\",\"prompt\":\"x\",\"structured_outputs\":{\"grammar\":\"root ::= \\\"a\\\"\"}} | 400 | structured_outputs",
            "guided_grammar           | {\"model\":\"demo-gpt2\",\"prompt\":\"x\",\"guided_grammar\":\"root ::= \\\"a\\\"\"} | 400 | guided_grammar",
            "two truncations          | {\"model\":\"demo-gpt2\",\"prompt\":\"x\",\"truncate\":2,\"truncate_prompt_tokens\":2} | 400 | truncate",
            "min_p above one          | {\"model\":\"demo-gpt2\",\"prompt\":\"x\",\"min_p\":1.5} | 400 | min_p",
            "min_tokens above max     | {\"model\":\"demo-gpt2\",\"prompt\":\"x\",\"max_tokens\":2,\"min_tokens\":3} | 400 | min_tokens",
            "top_k below -1           | {\"model\":\"demo-gpt2\",\"prompt\":\"x\",\"top_k\":-2} | 400 | top_k",
            "prompt + max beyond ctx  | {\"model\":\"demo-gpt2\",\"prompt\":\"x\",\"max_tokens\":600} | 400 | max_tokens",
            "max_tokens at int max    | {\"model\":\"demo-gpt2\",\"prompt\":\"x\",\"max_tokens\":2147483647} | 400 | max_tokens",
            "max_tokens beyond int    | {\"model\":\"demo-gpt2\",\"prompt\":\"x\",\"max_tokens\":2147483648} | 400 | max_tokens",
            "NaN temperature          | {\"model\":\"demo-gpt2\",\"prompt\":\"x\",\"temperature\":NaN} | 400 | ",
            "huge exponent            | {\"model\":\"demo-gpt2\",\"prompt\":\"x\",\"temperature\":1e400} | 400 | temperature",
            "logit_bias out of range  | {\"model\":\"demo-gpt2\",\"prompt\":\"x\",\"logit_bias\":{\"5\":101}} | 400 | logit_bias",
            "logit_bias bad key       | {\"model\":\"demo-gpt2\",\"prompt\":\"x\",\"logit_bias\":{\"abc\":1}} | 400 | logit_bias",
            "logit_bias beyond vocab  | {\"model\":\"demo-gpt2\",\"prompt\":\"x\",\"logit_bias\":{\"99999999\":1}} | 400 | logit_bias",
    })
    void completionsRejectBadInputInOpenAiFormat(String name, String body, int status, String param) {
        Response r = given().contentType(ContentType.JSON).body(body == null ? "" : body).post("/v1/completions");
        r.then().statusCode(status).contentType(ContentType.JSON)
                .body("error.message", not(containsString("Exception")))
                .body("error.type", equalTo(status == 404 ? "not_found_error" : "invalid_request_error"));
        if (param != null) {
            r.then().body("error.param", equalTo(param));
        }
        Server.conformsToOpenAi("ErrorResponse", r.asString(), false);
    }

    @Test
    void aPromptLongerThanTheContextIsRejectedForCompletionsChatAndTgi() {
        given().contentType(ContentType.JSON).body("{\"model\":\"demo-gpt2\",\"prompt\":" + LONG_PROMPT + "}")
                .post("/v1/completions").then().statusCode(400).body("error.param", equalTo("prompt"))
                .body("error.message", containsString("context length"));
        String longText = "word ".repeat(700);
        given().contentType(ContentType.JSON).body("{\"model\":\"demo-gpt2\",\"messages\":[{\"role\":\"user\",\"content\":\"" + longText + "\"}]}")
                .post("/v1/chat/completions").then().statusCode(400).body("error.param", equalTo("prompt"));
        given().contentType(ContentType.JSON).body("{\"inputs\":\"" + longText + "\"}")
                .post("/generate").then().statusCode(422).body("error_type", equalTo("validation"))
                .body("error", containsString("context length"));
    }

    @Test
    void streamingRequestsAreRejectedBeforeTheStreamStarts() {
        given().contentType(ContentType.JSON).body("{\"model\":\"demo-gpt2\",\"prompt\":\"x\",\"stream\":true,\"temperature\":-1}")
                .post("/v1/completions").then().statusCode(400).contentType(ContentType.JSON)
                .body("error.param", equalTo("temperature"));
        given().contentType(ContentType.JSON).body("{\"inputs\":\"x\",\"parameters\":{\"top_k\":-3}}")
                .post("/generate_stream").then().statusCode(422).body("error_type", equalTo("validation"));
    }

    @Test
    void chatRejectsEmptyMessagesAndMissingRoles() {
        given().contentType(ContentType.JSON).body("{\"model\":\"demo-gpt2\",\"messages\":[]}")
                .post("/v1/chat/completions").then().statusCode(400).body("error.param", equalTo("messages"));
        given().contentType(ContentType.JSON).body("{\"model\":\"demo-gpt2\",\"messages\":[{\"content\":\"hi\"}]}")
                .post("/v1/chat/completions").then().statusCode(400).body("error.message", containsString("role"));
        given().contentType(ContentType.JSON).body("{\"model\":\"demo-gpt2\",\"messages\":[{\"role\":\"wizard\",\"content\":\"hi\"}]}")
                .post("/v1/chat/completions").then().statusCode(400).body("error.param", equalTo("messages"))
                .body("error.message", containsString("'wizard' is not one of"));
        given().contentType(ContentType.JSON).body("{\"model\":\"demo-gpt2\",\"messages\":\"hi\"}")
                .post("/v1/chat/completions").then().statusCode(400).body("error.param", equalTo("messages"));
    }

    /** As TGI: 400 for a body that is not JSON, 422 for JSON with missing, mistyped or invalid values. */
    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', value = {
            "malformed JSON    | {\"inputs\":                                    | 400",
            "missing inputs    | {\"parameters\":{}}                              | 422",
            "empty inputs      | {\"inputs\":\"\"}                                | 422",
            "number inputs     | {\"inputs\":42}                                  | 422",
            "boolean inputs    | {\"inputs\":true}                                | 422",
            "top_p above one   | {\"inputs\":\"x\",\"parameters\":{\"top_p\":1.5}} | 422",
            "max_new_tokens 0  | {\"inputs\":\"x\",\"parameters\":{\"max_new_tokens\":0}} | 422",
            "negative temp     | {\"inputs\":\"x\",\"parameters\":{\"temperature\":-2}} | 422",
            "wrong type        | {\"inputs\":\"x\",\"parameters\":{\"seed\":\"abc\"}} | 422",
            "number in stop    | {\"inputs\":\"x\",\"parameters\":{\"stop\":[1]}} | 422",
            "grammar xml       | {\"inputs\":\"x\",\"parameters\":{\"grammar\":{\"type\":\"xml\",\"value\":\"a\"}}} | 422",
            "typical_p zero    | {\"inputs\":\"x\",\"parameters\":{\"typical_p\":0}} | 422",
            "truncate zero     | {\"inputs\":\"x\",\"parameters\":{\"truncate\":0}} | 422",
            "top_n_tokens 21   | {\"inputs\":\"x\",\"parameters\":{\"top_n_tokens\":21}} | 422",
    })
    void tgiRejectsBadInputInTgiFormat(String name, String body, int status) {
        given().contentType(ContentType.JSON).body(body).post("/generate").then().statusCode(status)
                .contentType(ContentType.JSON).body("error_type", equalTo("validation"))
                .body("error", not(containsString("Exception")));
    }

    @Test
    void aModelThatFailedToLoadIsNamedWithTheFileAtFault() {
        given().get("/q/health/ready").then().statusCode(200)
                .body("checks[0].data.'model.bad-json'", containsString("config.json"))
                .body("checks[0].data.'model.no-graph'", containsString("no decoder graph"));
        given().contentType(ContentType.JSON).body("{\"model\":\"bad-json\",\"prompt\":\"x\"}").post("/v1/completions")
                .then().statusCode(404).body("error.message", containsString("config.json"));
        List<String> ids = given().get("/v1/models").jsonPath().getList("data.id");
        assertFalse(ids.contains(TestModelsDir.BAD_JSON));
        assertTrue(ids.contains(TestModelsDir.SHORT_POSITIONS));
    }

    @Test
    void aFailureAfterTheStreamStartedIsSentInBandAndTheStreamEnds() {
        Response r = given().contentType(ContentType.JSON).body("{\"model\":\"short-positions\",\"prompt\":\"Hello\",\"max_tokens\":100,"
                + "\"ignore_eos\":true,\"stream\":true}").post("/v1/completions");
        r.then().statusCode(200);
        List<String> data = Server.sseData(r.asString());
        assertEquals("[DONE]", data.getLast(), r.asString());
        String error = data.get(data.size() - 2);
        assertTrue(error.startsWith("{\"error\":"), error);
        assertTrue(data.size() > 3, "some tokens streamed before the failure: " + r.asString());
        Server.conformsToOpenAi("ErrorResponse", error, false);

        Response tgi = given().contentType(ContentType.JSON).header("X-Model", "short-positions")
                .body("{\"inputs\":\"Hello\",\"parameters\":{\"max_new_tokens\":100}}").post("/generate_stream");
        List<String> events = Server.sseData(tgi.asString());
        assertTrue(events.getLast().contains("\"error_type\":\"generation\""), tgi.asString());
    }

    @Test
    void aFailureInANonStreamingRequestIsAServerError() {
        given().contentType(ContentType.JSON).body("{\"model\":\"short-positions\",\"prompt\":\"Hello\",\"max_tokens\":100,\"ignore_eos\":true}")
                .post("/v1/completions").then().statusCode(500).body("error.type", equalTo("server_error"))
                .body("error.param", nullValue());
    }

    @Test
    void unknownRoutesAnswerInTheirApisFormat() {
        given().get("/v1/nothing").then().statusCode(404).body("error.type", equalTo("not_found_error"));
    }

    @Test
    void anOversizedBodyGets413AndAWrongMethod405InTheApisFormat() {
        String big = "{\"model\":\"demo-gpt2\",\"prompt\":\"" + "a".repeat(9 * 1024 * 1024) + "\"}";
        given().contentType(ContentType.JSON).body(big).post("/v1/completions").then().statusCode(413)
                .contentType(ContentType.JSON).body("error.type", equalTo("invalid_request_error"))
                .body("error.message", containsString("at most 8388608"));
        given().contentType(ContentType.JSON).body(big).post("/generate").then().statusCode(413)
                .body("error_type", equalTo("validation"));
        given().get("/v1/completions").then().statusCode(405).contentType(ContentType.JSON)
                .body("error.type", equalTo("invalid_request_error"));
    }

    @Test
    void thousandsOfLogitBiasEntriesAreRefusedAndABiasIsApplied() {
        StringBuilder many = new StringBuilder("{");
        for (int i = 0; i < 5000; i++) {
            many.append(i == 0 ? "" : ",").append('"').append(i).append("\":1");
        }
        given().contentType(ContentType.JSON).body("{\"model\":\"demo-gpt2\",\"prompt\":\"x\",\"logit_bias\":" + many + "}}")
                .post("/v1/completions").then().statusCode(400).body("error.param", equalTo("logit_bias"))
                .body("error.message", containsString("at most 300"));
        // +100 on one token makes greedy decoding choose it every time.
        given().contentType(ContentType.JSON)
                .body("{\"model\":\"demo-gpt2\",\"prompt\":\"Hello\",\"max_tokens\":4,\"temperature\":0,"
                        + "\"ignore_eos\":true,\"logit_bias\":{\"995\":100},\"return_token_ids\":true}")
                .post("/v1/completions").then().statusCode(200)
                .body("choices[0].token_ids", equalTo(java.util.List.of(995, 995, 995, 995)));
    }

    /** CORS is off unless configured (AuthIT runs it enabled): a cross-origin preflight is granted nothing. */
    @Test
    void corsIsOffByDefault() {
        Response preflight = given().header("Origin", "http://app.example").header("Access-Control-Request-Method", "POST")
                .options("/v1/completions");
        assertTrue(preflight.getHeader("Access-Control-Allow-Origin") == null, "no CORS grant: " + preflight.getHeaders());
        Response get = given().header("Origin", "http://app.example").get("/v1/models");
        assertEquals(200, get.statusCode());
        assertTrue(get.getHeader("Access-Control-Allow-Origin") == null, "no CORS grant: " + get.getHeaders());
    }
}
