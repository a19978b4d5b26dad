package io.spindle.api;

import io.spindle.testing.WsClient;

import io.quarkus.test.junit.QuarkusTest;
import io.restassured.RestAssured;
import io.restassured.path.json.JsonPath;
import io.spindle.app.ModelBootstrap;
import io.spindle.testing.Server;
import jakarta.inject.Inject;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

@QuarkusTest
class WebSocketApiTest {
    @Inject
    ModelBootstrap bootstrap;

    @BeforeEach
    void ready() {
        Server.awaitReady();
    }

    @Test
    void twoGenerationsShareASocketAndCancellingOneLeavesTheOtherToFinish() throws Exception {
        try (WsClient ws = new WsClient(RestAssured.port)) {
            ws.send("{\"type\":\"generate\",\"id\":\"long\",\"model\":\"demo-gpt2\",\"prompt\":\"Hello\",\"max_tokens\":400,\"ignore_eos\":true}");
            ws.send("{\"type\":\"generate\",\"id\":\"short\",\"model\":\"demo-gpt2\",\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}],"
                    + "\"max_tokens\":8,\"temperature\":0}");
            ws.await("a token of long", f -> "token".equals(f.getString("type")) && "long".equals(f.getString("id")));
            ws.send("{\"type\":\"cancel\",\"id\":\"long\"}");
            JsonPath longDone = ws.await("long done", f -> "done".equals(f.getString("type")) && "long".equals(f.getString("id")));
            JsonPath shortDone = ws.await("short done", f -> "done".equals(f.getString("type")) && "short".equals(f.getString("id")));
            assertEquals("cancelled", longDone.getString("finish_reason"));
            assertTrue(longDone.getInt("usage.completion_tokens") < 400);
            assertEquals("length", shortDone.getString("finish_reason"));
            assertEquals(8, shortDone.getInt("usage.completion_tokens"));
            List<JsonPath> shortTokens = ws.of("short").stream().filter(f -> "token".equals(f.getString("type"))).toList();
            assertEquals(8, shortTokens.size());
            for (int i = 0; i < 8; i++) {
                assertEquals(i, shortTokens.get(i).getInt("index"));
                assertTrue(shortTokens.get(i).getInt("token_id") >= 0);
            }
            assertTrue(shortDone.getDouble("timings.time_to_first_token_ms") > 0);
        }
        Server.awaitIdle(bootstrap, Server.MODEL);
    }

    @Test
    void theSocketTextEqualsTheHttpText() throws Exception {
        String http = RestAssured.given().contentType("application/json")
                .body("{\"model\":\"demo-gpt2\",\"prompt\":\"Hello\",\"max_tokens\":10,\"temperature\":0}")
                .post("/v1/completions").jsonPath().getString("choices[0].text");
        try (WsClient ws = new WsClient(RestAssured.port)) {
            ws.send("{\"type\":\"generate\",\"id\":\"g\",\"model\":\"demo-gpt2\",\"prompt\":\"Hello\",\"max_tokens\":10,\"temperature\":0}");
            ws.await("done", f -> "done".equals(f.getString("type")));
            String text = String.join("", ws.of("g").stream().filter(f -> "token".equals(f.getString("type")))
                    .map(f -> f.getString("text")).toList());
            assertEquals(http, text);
            // The id is free again as soon as its done frame has arrived.
            ws.send("{\"type\":\"generate\",\"id\":\"g\",\"model\":\"demo-gpt2\",\"prompt\":\"Hello\",\"max_tokens\":2}");
            Server.eventually("a second done for the same id", 10_000,
                    () -> ws.frames.stream().filter(f -> "done".equals(f.getString("type"))).count() == 2);
            assertTrue(ws.frames.stream().noneMatch(f -> "error".equals(f.getString("type"))));
        }
    }

    @Test
    void badFramesGetErrorMessagesAndTheSocketKeepsWorking() throws Exception {
        try (WsClient ws = new WsClient(RestAssured.port)) {
            ws.send("not json");
            JsonPath parseError = ws.await("parse error", f -> "error".equals(f.getString("type")));
            assertNull(parseError.get("id"), "a frame that cannot be parsed has no id to answer");
            ws.send("{\"type\":\"generate\",\"id\":\"m\",\"model\":\"nope\",\"prompt\":\"x\"}");
            JsonPath notFound = ws.await("unknown model", f -> "m".equals(f.getString("id")));
            assertEquals("error", notFound.getString("type"));
            assertEquals("not_found_error", notFound.getString("error.type"));
            ws.send("{\"type\":\"generate\",\"id\":\"t\",\"model\":\"demo-gpt2\",\"prompt\":\"x\",\"temperature\":-1}");
            JsonPath invalid = ws.await("invalid temperature", f -> "t".equals(f.getString("id")));
            assertEquals("invalid_request_error", invalid.getString("error.type"));
            ws.send("{\"type\":\"cancel\",\"id\":\"unknown\"}");
            ws.await("cancel of unknown id", f -> "unknown".equals(f.getString("id")) && "error".equals(f.getString("type")));
            ws.send("{\"type\":\"dance\",\"id\":\"d\"}");
            ws.await("unknown type", f -> "d".equals(f.getString("id")) && "error".equals(f.getString("type")));
            ws.send("{\"type\":\"generate\",\"id\":\"ok\",\"model\":\"demo-gpt2\",\"prompt\":\"x\",\"max_tokens\":3}");
            JsonPath done = ws.await("ok done", f -> "ok".equals(f.getString("id")) && "done".equals(f.getString("type")));
            assertEquals(3, done.getInt("usage.completion_tokens"));
        }
    }

    @Test
    void aConstraintHoldsTheStreamedTokensAndABadOneIsAnError() throws Exception {
        try (WsClient ws = new WsClient(RestAssured.port)) {
            ws.send("{\"type\":\"generate\",\"id\":\"r\",\"model\":\"demo-gpt2\",\"prompt\":\"Code:\",\"max_tokens\":30,"
                    + "\"temperature\":1,\"seed\":4,\"constraint\":{\"type\":\"regex\",\"pattern\":\"[a-f]{4}-[0-9]{3}\"}}");
            ws.send("{\"type\":\"generate\",\"id\":\"c\",\"model\":\"demo-gpt2\",\"prompt\":\"Pick:\",\"max_tokens\":30,"
                    + "\"temperature\":1,\"seed\":4,\"constraint\":{\"type\":\"choice\",\"choices\":[\"red\",\"green\",\"blue\"]}}");
            ws.send("{\"type\":\"generate\",\"id\":\"bad\",\"model\":\"demo-gpt2\",\"prompt\":\"x\","
                    + "\"constraint\":{\"type\":\"regex\",\"pattern\":\"(?<=a)b\"}}");
            for (String id : List.of("r", "c")) {
                JsonPath done = ws.await(id + " done", f -> id.equals(f.getString("id")) && "done".equals(f.getString("type")));
                assertEquals("stop", done.getString("finish_reason"));
            }
            String code = String.join("", ws.of("r").stream().filter(f -> "token".equals(f.getString("type")))
                    .map(f -> f.getString("text")).toList());
            assertTrue(code.matches("[a-f]{4}-[0-9]{3}"), code);
            String colour = String.join("", ws.of("c").stream().filter(f -> "token".equals(f.getString("type")))
                    .map(f -> f.getString("text")).toList());
            assertTrue(List.of("red", "green", "blue").contains(colour), colour);
            JsonPath bad = ws.await("bad constraint", f -> "bad".equals(f.getString("id")));
            assertEquals("error", bad.getString("type"));
            assertTrue(bad.getString("error.message").contains("constraint"), bad.prettify());
        }
    }

    @Test
    void closingTheSocketCancelsItsGenerations() throws Exception {
        long stepsBefore;
        WsClient ws = new WsClient(RestAssured.port);
        ws.send("{\"type\":\"generate\",\"id\":\"a\",\"model\":\"demo-gpt2\",\"prompt\":\"Hello\",\"max_tokens\":450,\"ignore_eos\":true}");
        ws.send("{\"type\":\"generate\",\"id\":\"b\",\"model\":\"demo-gpt2\",\"prompt\":\"Bye\",\"max_tokens\":450,\"ignore_eos\":true}");
        ws.await("a token", f -> "token".equals(f.getString("type")));
        ws.close();
        Server.awaitIdle(bootstrap, Server.MODEL);
        stepsBefore = bootstrap.engineStats().get(Server.MODEL).numSteps();
        Thread.sleep(200);
        assertEquals(stepsBefore, bootstrap.engineStats().get(Server.MODEL).numSteps(), "the engine stopped stepping");
        assertFalse(ws.frames.stream().anyMatch(f -> "done".equals(f.getString("type")) && "length".equals(f.getString("finish_reason"))));
    }

    @Test
    void aBinaryFrameGetsAnErrorFrameAndAnOversizedFrameClosesTheSocketWith1009() throws Exception {
        try (WsClient ws = new WsClient(RestAssured.port)) {
            ws.sendBinary(new byte[] {1, 2, 3});
            JsonPath error = ws.await("binary refused", f -> "error".equals(f.getString("type")));
            org.junit.jupiter.api.Assertions.assertTrue(error.getString("error.message").contains("binary frames"));
            ws.send("{\"type\":\"generate\",\"id\":\"after\",\"model\":\"demo-gpt2\",\"prompt\":\"Hi\",\"max_tokens\":2}");
            ws.await("the socket still serves", f -> "done".equals(f.getString("type")));
        }
        WsClient big = new WsClient(RestAssured.port);
        try {
            big.send("x".repeat(2 * 1024 * 1024));
        } catch (java.util.concurrent.ExecutionException closedWhileSending) {
            // the server may close before the whole message is written
        }
        // The server closes the socket (1009, message too big; the JDK client may report it as a
        // protocol error since it was still sending), and goes on serving others.
        try {
            Integer status = big.closedWith.get(10, java.util.concurrent.TimeUnit.SECONDS);
            org.junit.jupiter.api.Assertions.assertEquals(1009, status);
        } catch (java.util.concurrent.ExecutionException closedUnderTheClient) {
            org.junit.jupiter.api.Assertions.assertInstanceOf(java.net.ProtocolException.class, closedUnderTheClient.getCause());
        }
        try (WsClient after = new WsClient(RestAssured.port)) {
            after.send("{\"type\":\"generate\",\"id\":\"g\",\"model\":\"demo-gpt2\",\"prompt\":\"Hi\",\"max_tokens\":2}");
            after.await("a new socket is served", f -> "done".equals(f.getString("type")));
        }
    }
}
