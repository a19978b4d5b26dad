package io.spindle.app;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.spindle.testing.DirectOrtLoop;
import io.spindle.testing.ModelFolders;
import io.spindle.testing.ServerProcess;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * One broken model folder beside good ones, on a real process: the broken one is reported (health,
 * log, 404 naming why) and the others serve; readiness follows {@code spindle.models.required}.
 * The good external folder is onnxruntime-genai's tiny GPT-2, loaded as a user places it, and it
 * generates what a plain ONNX Runtime loop over its graph generates.
 */
class ModelFailureIT {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Path MODELS = Path.of("target", "model-failure-models");
    private static final String GENAI = "genai-tiny-gpt2";
    private static final String BROKEN = "fails-warm-up";
    private static final String NOT_JSON = "bad-config";

    @BeforeAll
    static void folders() throws Exception {
        ModelFolders.copyGenaiGpt2(MODELS.resolve(GENAI));
        ModelFolders.failsWarmUp(MODELS.resolve(BROKEN));
        Files.createDirectories(MODELS.resolve(NOT_JSON));
        Files.writeString(MODELS.resolve(NOT_JSON).resolve("config.json"), "{\"model_type\": \"gpt2\", oops");
    }

    private static String[] props(String... more) {
        List<String> p = new ArrayList<>(List.of("spindle.models.dir=" + MODELS, "spindle.demo.t5-layouts=none",
                "spindle.demo.bert-heads=none", "spindle.embeddings.bundled-model=false"));
        p.addAll(List.of(more));
        return p.toArray(String[]::new);
    }

    @Test
    void aModelThatFailsItsWarmUpIsReportedAndTheOthersServe() throws Exception {
        try (ServerProcess server = ServerProcess.startSettled("model-failure-default", props())) {
            HttpResponse<String> ready = server.get("/q/health/ready");
            assertEquals(200, ready.statusCode(), ready.body());
            JsonNode data = JSON.readTree(ready.body()).path("checks").get(0).path("data");
            assertEquals("ready", data.path("state").asText());
            assertEquals("serving", data.path("model." + GENAI).asText());
            assertEquals("serving", data.path("model.demo-gpt2").asText());
            assertTrue(data.path("model." + BROKEN).asText().startsWith("failed: warm-up failed"), data.toString());
            assertTrue(data.path("model." + BROKEN).asText().contains(BROKEN), "names the folder: " + data);
            assertTrue(data.path("model." + NOT_JSON).asText().contains("config.json"), data.toString());
            assertTrue(server.log().contains("model " + BROKEN + " not served"), "logged");

            String models = server.get("/v1/models").body();
            assertTrue(models.contains("\"" + GENAI + "\""), models);
            assertFalse(models.contains("\"" + BROKEN + "\""), models);
            HttpResponse<String> gone = server.post("/v1/completions", "{\"model\":\"" + BROKEN + "\",\"prompt\":\"x\"}");
            assertEquals(404, gone.statusCode());
            assertTrue(gone.body().contains("failed to load"), gone.body());

            // The external export generates, token for token, what a direct ONNX Runtime loop does.
            int[] prompt = {10, 20, 30, 40};
            int[] expected;
            try (DirectOrtLoop direct = new DirectOrtLoop(MODELS.resolve(GENAI).resolve("past.onnx"))) {
                expected = direct.greedy(prompt, 12);
            }
            HttpResponse<String> r = server.post("/v1/completions", "{\"model\":\"" + GENAI
                    + "\",\"prompt\":[10,20,30,40],\"max_tokens\":12,\"temperature\":0,\"ignore_eos\":true,"
                    + "\"return_token_ids\":true}");
            assertEquals(200, r.statusCode(), r.body());
            int[] got = JSON.readValue(JSON.readTree(r.body()).path("choices").get(0).path("token_ids").toString(), int[].class);
            assertArrayEquals(expected, got);

            // Its tokenizer knows 50,257 tokens, its graph 1,000: text outside them is the client's to fix.
            HttpResponse<String> hello = server.post("/v1/completions", "{\"model\":\"" + GENAI + "\",\"prompt\":\"Hello\"}");
            assertEquals(400, hello.statusCode(), hello.body());
            assertTrue(hello.body().contains("outside the vocabulary"), hello.body());
        }
    }

    @Test
    void aRequiredModelThatFailsKeepsTheServerUnreadyWhileTheOthersServe() throws Exception {
        try (ServerProcess server = ServerProcess.startSettled("model-failure-required",
                props("spindle.models.required=" + GENAI + "," + BROKEN))) {
            HttpResponse<String> ready = server.get("/q/health/ready");
            assertEquals(503, ready.statusCode(), ready.body());
            JsonNode data = JSON.readTree(ready.body()).path("checks").get(0).path("data");
            assertEquals("failed", data.path("state").asText());
            assertTrue(data.path("detail").asText().contains(BROKEN), data.toString());
            assertFalse(data.path("detail").asText().contains(GENAI + " ("), "the required model that serves is not blamed");
            assertEquals("serving", data.path("model." + GENAI).asText());
            assertEquals(200, server.post("/v1/completions", "{\"model\":\"demo-gpt2\",\"prompt\":\"Hi\",\"max_tokens\":2}")
                    .statusCode(), "the models that loaded still answer");
        }
        try (ServerProcess server = ServerProcess.startSettled("model-failure-required-ok",
                props("spindle.models.required=" + GENAI))) {
            assertEquals(200, server.get("/q/health/ready").statusCode());
        }
    }
}
