package io.spindle.api;

import io.quarkus.test.junit.QuarkusTest;
import io.restassured.response.Response;
import io.restassured.specification.RequestSpecification;
import io.spindle.testing.Server;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

import static io.restassured.RestAssured.given;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Every endpoint × the Accept headers real clients send. The OpenAI Node and Python SDKs send
 * {@code application/json} on every call, streaming included; SSE clients {@code text/event-stream};
 * browsers and others lists with q-values, wildcards, or nothing. Each gets what its body asked for:
 * a stream when {@code stream} is set, JSON otherwise, never a 406.
 */
@QuarkusTest
class AcceptHeaderTest {
    /** null: no Accept header at all. */
    private static final List<String> ACCEPTS = java.util.Arrays.asList(null, "application/json", "text/event-stream",
            "*/*", "application/json, text/event-stream;q=0.9", "text/event-stream, application/json;q=0.5",
            "text/plain;q=0.8, */*;q=0.1", "application/xml");

    private record Call(String method, String path, String body, boolean sse) {
        @Override
        public String toString() {
            return method + " " + path + (sse ? " (stream)" : "");
        }
    }

    private static final String M = "\"model\":\"" + Server.MODEL + "\"";
    private static final List<Call> CALLS = List.of(
            new Call("POST", "/v1/completions", "{" + M + ",\"prompt\":\"Hi\",\"max_tokens\":2}", false),
            new Call("POST", "/v1/completions", "{" + M + ",\"prompt\":\"Hi\",\"max_tokens\":2,\"stream\":true}", true),
            new Call("POST", "/v1/chat/completions", "{" + M + ",\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}],\"max_tokens\":2}", false),
            new Call("POST", "/v1/chat/completions", "{" + M + ",\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}],\"max_tokens\":2,\"stream\":true}", true),
            new Call("POST", "/v1/embeddings", "{\"model\":\"all-minilm-l6-v2\",\"input\":\"Hi\"}", false),
            new Call("POST", "/v1/fill-mask", "{\"model\":\"demo-bert-mlm\",\"inputs\":\"Hi [MASK].\"}", false),
            new Call("POST", "/generate", "{\"inputs\":\"Hi\",\"parameters\":{\"max_new_tokens\":2}}", false),
            new Call("POST", "/generate_stream", "{\"inputs\":\"Hi\",\"parameters\":{\"max_new_tokens\":2}}", true),
            new Call("GET", "/v1/models", null, false),
            new Call("GET", "/v1/models/" + Server.MODEL, null, false));

    static Stream<Arguments> matrix() {
        List<Arguments> out = new ArrayList<>();
        for (Call c : CALLS) {
            for (String a : ACCEPTS) {
                out.add(Arguments.of(c, a == null ? "(none)" : a));
            }
        }
        return out.stream();
    }

    @BeforeEach
    void ready() {
        Server.awaitReady();
    }

    @ParameterizedTest(name = "{0} with Accept: {1}")
    @MethodSource("matrix")
    void everyEndpointAnswersWhateverAcceptTheClientSends(Call call, String accept) {
        RequestSpecification req = given();
        if (!accept.equals("(none)")) {
            req = req.header("Accept", accept);
        }
        if (call.body() != null) {
            req = req.contentType("application/json").body(call.body());
        }
        Response r = call.method().equals("GET") ? req.get(call.path()) : req.post(call.path());
        assertEquals(200, r.statusCode(), r.asString());
        String type = r.contentType();
        if (call.sse()) {
            assertTrue(type.startsWith("text/event-stream"), type);
            assertTrue(Server.sseData(r.asString()).size() >= 2, r.asString());
        } else {
            assertTrue(type.startsWith("application/json"), type);
            assertTrue(r.asString().startsWith("{") || r.asString().startsWith("["), r.asString());
        }
    }
}
