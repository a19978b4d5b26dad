package io.spindle.api;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.networknt.schema.InputFormat;
import com.networknt.schema.Schema;
import com.networknt.schema.SchemaRegistry;
import com.networknt.schema.SpecificationVersion;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.http.ContentType;
import io.restassured.path.json.JsonPath;
import io.restassured.response.Response;
import io.spindle.testing.Server;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Tool calling through OpenAI's chat API on the random-weight demo GPT-2, where only the constraint
 * can make a call: a named or required tool_choice answers {@code tool_calls} whose arguments
 * validate against the function's parameters (networknt), streamed as OpenAI streams calls and
 * checked against OpenAI's published schemas; auto answers as none and says so; tool turns reach
 * the chat template; bad tool requests are 400s naming the problem.
 */
@QuarkusTest
class ToolCallsApiTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    static final String WEATHER = "{\"type\":\"object\",\"properties\":{"
            + "\"city\":{\"type\":\"string\",\"maxLength\":16},"
            + "\"unit\":{\"type\":\"string\",\"enum\":[\"celsius\",\"fahrenheit\"]},"
            + "\"days\":{\"type\":\"integer\",\"enum\":[1,2,3,7]}},"
            + "\"required\":[\"city\",\"unit\"],\"additionalProperties\":false}";
    static final String TOOLS = "[{\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"description\":\"Weather\","
            + "\"parameters\":" + WEATHER + "}},{\"type\":\"function\",\"function\":{\"name\":\"now\"}}]";
    private static final Schema WEATHER_SCHEMA = SchemaRegistry.withDefaultDialect(SpecificationVersion.DRAFT_2020_12)
            .getSchema(WEATHER, InputFormat.JSON);

    @BeforeEach
    void ready() {
        Server.awaitReady();
    }

    private static Response post(String path, String body) {
        return given().contentType(ContentType.JSON).body(body).post(path);
    }

    private static String chat(String extra) {
        return "{\"model\":\"demo-gpt2\",\"messages\":[{\"role\":\"user\",\"content\":\"Weather in Paris?\"}],"
                + "\"max_tokens\":120,\"temperature\":1,\"tools\":" + TOOLS + extra + "}";
    }

    private static void assertValidCall(String name, String arguments) throws Exception {
        JsonNode args = JSON.readTree(arguments);
        if (name.equals("get_weather")) {
            assertTrue(WEATHER_SCHEMA.validate(arguments, InputFormat.JSON).isEmpty(), arguments);
        } else {
            assertEquals("now", name);
            assertEquals(0, args.size(), arguments);
        }
    }

    @Test
    void aNamedChoiceAnswersOneCallWhoseArgumentsValidate() throws Exception {
        for (int seed = 0; seed < 4; seed++) {
            Response r = post("/v1/chat/completions", chat(",\"seed\":" + seed
                    + ",\"tool_choice\":{\"type\":\"function\",\"function\":{\"name\":\"get_weather\"}}"));
            JsonPath j = r.then().statusCode(200).extract().jsonPath();
            assertEquals("tool_calls", j.getString("choices[0].finish_reason"), j.prettify());
            assertNull(j.get("choices[0].message.content"), "a call has no content");
            assertEquals(1, j.getList("choices[0].message.tool_calls").size(), j.prettify());
            assertTrue(j.getString("choices[0].message.tool_calls[0].id").matches("call_[0-9a-f]{24}"), j.prettify());
            assertEquals("function", j.getString("choices[0].message.tool_calls[0].type"));
            assertEquals("get_weather", j.getString("choices[0].message.tool_calls[0].function.name"));
            assertValidCall("get_weather", j.getString("choices[0].message.tool_calls[0].function.arguments"));
            if (seed == 0) {
                Server.conformsToOpenAi("CreateChatCompletionResponse", r.asString(), false);
            }
        }
    }

    /**
     * A random model may keep adding calls until max_tokens: such an answer ends "length" with its
     * last call cut short (as OpenAI's would); most seeds end as the format does.
     */
    @Test
    void requiredCallsStreamAsOpenAiStreamsThemAndEqualTheWholeAnswer() throws Exception {
        int parallel = 0;
        int complete = 0;
        for (int seed = 0; seed < 6; seed++) {
            String body = chat(",\"seed\":" + seed + ",\"max_tokens\":250,\"tool_choice\":\"required\"");
            JsonPath whole = post("/v1/chat/completions", body).then().statusCode(200).extract().jsonPath();
            List<Map<String, Object>> calls = whole.getList("choices[0].message.tool_calls");
            assertTrue(calls.size() >= 1, whole.prettify());
            parallel += calls.size() > 1 ? 1 : 0;
            String wholeFinish = whole.getString("choices[0].finish_reason");
            assertTrue(wholeFinish.equals("tool_calls") || wholeFinish.equals("length"), wholeFinish);
            complete += wholeFinish.equals("tool_calls") ? 1 : 0;

            String sse = post("/v1/chat/completions", body.substring(0, body.length() - 1) + ",\"stream\":true}")
                    .then().statusCode(200).extract().asString();
            List<String> data = Server.sseData(sse);
            assertEquals("[DONE]", data.getLast());
            JsonPath first = JsonPath.from(data.getFirst());
            assertEquals("assistant", first.getString("choices[0].delta.role"));
            Map<Integer, String> names = new HashMap<>();
            Map<Integer, String> ids = new HashMap<>();
            Map<Integer, StringBuilder> args = new HashMap<>();
            String finish = null;
            for (String d : data.subList(0, data.size() - 1)) {
                JsonPath c = JsonPath.from(d);
                assertNull(c.get("choices[0].delta.content"), d);
                List<Map<String, Object>> deltas = c.getList("choices[0].delta.tool_calls");
                for (Map<String, Object> delta : deltas == null ? List.<Map<String, Object>>of() : deltas) {
                    int index = (Integer) delta.get("index");
                    @SuppressWarnings("unchecked")
                    Map<String, Object> fn = (Map<String, Object>) delta.get("function");
                    if (delta.get("id") != null) {
                        assertNull(ids.put(index, (String) delta.get("id")), "one id per call");
                        assertEquals("function", delta.get("type"));
                        names.put(index, (String) fn.get("name"));
                    } else {
                        assertNotNull(names.get(index), "arguments come after the call's name: " + d);
                        assertNull(fn.get("name"));
                    }
                    args.computeIfAbsent(index, k -> new StringBuilder()).append((String) fn.get("arguments"));
                }
                if (c.getString("choices[0].finish_reason") != null) {
                    finish = c.getString("choices[0].finish_reason");
                }
            }
            assertEquals(wholeFinish, finish, "the same seed streams the same answer");
            assertEquals(calls.size(), names.size(), sse);
            for (int i = 0; i < calls.size(); i++) {
                @SuppressWarnings("unchecked")
                Map<String, Object> fn = (Map<String, Object>) calls.get(i).get("function");
                assertEquals(fn.get("name"), names.get(i), "the same seed streams the same calls");
                assertEquals(fn.get("arguments"), args.get(i).toString());
                if (finish.equals("tool_calls") || i < calls.size() - 1) {
                    assertValidCall(names.get(i), args.get(i).toString());
                }
            }
            if (seed == 0) {
                Server.conformsToOpenAi("CreateChatCompletionStreamResponse", sse, true);
            }
        }
        assertTrue(parallel > 0, "some answers make parallel calls");
        assertTrue(complete >= 3, complete + " of 6 answers ended as the format does");
    }

    @Test
    void parallelToolCallsFalseGivesExactlyOneCall() {
        for (int seed = 0; seed < 5; seed++) {
            JsonPath j = post("/v1/chat/completions", chat(",\"seed\":" + seed
                    + ",\"tool_choice\":\"required\",\"parallel_tool_calls\":false")).then().statusCode(200).extract().jsonPath();
            assertEquals(1, j.getList("choices[0].message.tool_calls").size(), j.prettify());
        }
    }

    @Test
    void autoAnswersAsNoneAndSaysSo() {
        Response r = post("/v1/chat/completions", chat(",\"seed\":1,\"max_tokens\":5,\"tool_choice\":\"auto\""));
        r.then().statusCode(200).header("X-Spindle-Tool-Choice", "none");
        assertTrue(r.jsonPath().getString("choices[0].message.content") != null);
        assertNull(r.jsonPath().get("choices[0].message.tool_calls"));
        assertEquals(null, post("/v1/chat/completions", chat(",\"seed\":1,\"max_tokens\":5,\"tool_choice\":\"none\""))
                .then().statusCode(200).extract().header("X-Spindle-Tool-Choice"));
    }

    @Test
    void toolsCallsAndResultsReachTheChatTemplate() {
        String messages = "[{\"role\":\"user\",\"content\":\"Weather?\"},"
                + "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":\"call_1\",\"type\":\"function\","
                + "\"function\":{\"name\":\"get_weather\",\"arguments\":\"{\\\"city\\\":\\\"Paris\\\",\\\"unit\\\":\\\"celsius\\\"}\"}}]},"
                + "{\"role\":\"tool\",\"tool_call_id\":\"call_1\",\"content\":\"11 C\"}]";
        List<Integer> ids = post("/tokenize", "{\"model\":\"demo-gpt2\",\"messages\":" + messages
                + ",\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"now\"}}]}")
                .then().statusCode(200).extract().jsonPath().getList("tokens");
        String prompt = post("/detokenize", "{\"model\":\"demo-gpt2\",\"tokens\":" + ids + "}")
                .then().statusCode(200).extract().jsonPath().getString("prompt");
        assertEquals("<|tools|>\n{\"type\": \"function\", \"function\": {\"name\": \"now\"}}\n<|user|>\nWeather?\n<|assistant|>\n"
                + "<tool_call>{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\", \"unit\": \"celsius\"}}</tool_call>\n"
                + "<|tool|>\n11 C\n<|assistant|>\n", prompt);
    }

    @Test
    void badToolRequestsAre400sNamingTheProblem() {
        Map<String, String[]> cases = new java.util.LinkedHashMap<>();
        cases.put(",\"tools\":{}", new String[] {"tools", "list"});
        cases.put(",\"tools\":[{\"type\":\"retrieval\"}]", new String[] {"tools", "tools[0].type"});
        cases.put(",\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"get weather\"}}]", new String[] {"tools", "tools[0].function.name"});
        cases.put(",\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"a\"}},{\"type\":\"function\",\"function\":{\"name\":\"a\"}}]",
                new String[] {"tools", "offered twice"});
        cases.put(",\"tools\":" + TOOLS + ",\"tool_choice\":{\"type\":\"function\",\"function\":{\"name\":\"nope\"}}",
                new String[] {"tool_choice", "not among the tools"});
        cases.put(",\"tool_choice\":\"required\"", new String[] {"tool_choice", "needs tools"});
        cases.put(",\"tools\":" + TOOLS + ",\"tool_choice\":\"sometimes\"", new String[] {"tool_choice", "sometimes"});
        cases.put(",\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\",\"parameters\":{\"type\":\"object\","
                + "\"properties\":{\"x\":{\"oneOf\":[{\"type\":\"string\"}]}}}}}],\"tool_choice\":\"required\"",
                new String[] {"tools", "tools[0].function.parameters"});
        cases.put(",\"tools\":" + TOOLS + ",\"tool_choice\":\"required\",\"response_format\":{\"type\":\"json_object\"}",
                new String[] {"tool_choice", "response_format"});
        cases.put(",\"functions\":[{\"name\":\"f\"}]", new String[] {"functions", "functions"});
        for (Map.Entry<String, String[]> c : cases.entrySet()) {
            post("/v1/chat/completions", "{\"model\":\"demo-gpt2\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]" + c.getKey() + "}")
                    .then().statusCode(400).body("error.param", equalTo(c.getValue()[0]))
                    .body("error.message", containsString(c.getValue()[1]));
        }
    }
}
