package io.spindle.api;

import io.quarkus.test.junit.QuarkusTest;
import io.restassured.RestAssured;
import io.restassured.http.ContentType;
import io.spindle.app.ModelBootstrap;
import io.spindle.testing.Server;
import jakarta.inject.Inject;
import org.junit.jupiter.api.Test;

import java.net.Socket;
import java.util.ArrayList;
import java.util.List;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.notNullValue;

/** Past the bounded queue (test profile: 8 running + 56 waiting) requests are refused at once with 429. */
@QuarkusTest
class BackpressureTest {
    @Inject
    ModelBootstrap bootstrap;

    @Test
    void aFullQueueIsRefusedWith429AndRetryAfterInEachApisFormat() throws Exception {
        Server.awaitReady();
        List<Socket> held = new ArrayList<>();
        try {
            for (int i = 0; i < 64; i++) {
                held.add(Server.rawPost(RestAssured.port, "/v1/completions", "{\"model\":\"demo-gpt2\",\"prompt\":\"Hello\","
                        + "\"max_tokens\":480,\"ignore_eos\":true,\"stream\":true}"));
            }
            Server.eventually("8 running and 56 waiting", 10_000, () -> {
                var s = bootstrap.engineStats().get(Server.MODEL);
                return s.numRunning() == 8 && s.numWaiting() == 56;
            });
            given().contentType(ContentType.JSON).body("{\"model\":\"demo-gpt2\",\"prompt\":\"x\",\"max_tokens\":2}")
                    .post("/v1/completions").then().statusCode(429).header("Retry-After", notNullValue())
                    .body("error.type", equalTo("overloaded_error"));
            // The estimate: the first of 8 sequences with ~480 tokens left, at the measured rate shared by 8.
            int retryAfter = Integer.parseInt(given().contentType(ContentType.JSON)
                    .body("{\"model\":\"demo-gpt2\",\"prompt\":\"x\"}").post("/v1/completions").header("Retry-After"));
            org.junit.jupiter.api.Assertions.assertTrue(retryAfter >= 1 && retryAfter <= 60, "Retry-After " + retryAfter);
            given().contentType(ContentType.JSON).body("{\"inputs\":\"x\"}").post("/generate_stream")
                    .then().statusCode(429).header("Retry-After", notNullValue()).body("error_type", equalTo("overloaded"));
            // Another model has its own queue.
            given().contentType(ContentType.JSON).body("{\"model\":\"demo-gpt2-ort-gpt2\",\"prompt\":\"x\",\"max_tokens\":2}")
                    .post("/v1/completions").then().statusCode(200);
        } finally {
            for (Socket s : held) {
                s.close();
            }
        }
        Server.awaitIdle(bootstrap, Server.MODEL);
    }
}
