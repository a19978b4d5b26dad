package io.spindle.app;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.langchain4j.model.embedding.onnx.allminilml6v2.AllMiniLmL6V2EmbeddingModel;
import io.spindle.runtime.demo.DemoLayout;
import io.spindle.runtime.demo.DemoModelWriter;
import io.spindle.runtime.demo.DemoPreset;
import io.spindle.runtime.onnx.RewriteCache;
import io.spindle.runtime.onnx.quant.QuantizeSettings;
import io.spindle.runtime.onnx.quant.WeightQuantizer;
import io.spindle.testing.DirectOrtLoop;
import io.spindle.testing.ServerProcess;
import org.junit.jupiter.api.Test;

import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * spindle.models.quantize on the packaged server: the demo GPT-2 served in int4 and the bundled
 * all-MiniLM-L6-v2 in int8 (a per-model override), said so in /v1/models and the log; the GPT-2
 * generates what a plain ONNX Runtime loop over the cached quantized graph generates, and the int8
 * embeddings stay within the cosine bound of LangChain4j's float32 model. A bad value is a
 * start-up error naming its key.
 */
class QuantizeIT {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final List<String> SENTENCES = List.of("The quick brown fox jumps over the lazy dog.",
            "Quantized weights make CPU decoding several times faster.", "SELECT id, name FROM users WHERE age > 30;",
            "Der Himmel über Berlin ist heute grau.", "🙂 short");

    @Test
    void modelsAreServedWithTheirQuantizedWeights() throws Exception {
        try (ServerProcess server = ServerProcess.start("quantize",
                "spindle.demo.layouts=optimum", "spindle.demo.t5-layouts=none", "spindle.demo.bert-heads=none",
                "spindle.models.quantize=int4",
                "spindle.models.quantize-for.\"all-minilm-l6-v2\"=int8",
                "spindle.models.quantize-for.\"no-such-model\"=int8")) {
            JsonNode models = JSON.readTree(server.get("/v1/models").body()).path("data");
            JsonNode gpt2 = model(models, "demo-gpt2").path("spindle").path("weights");
            assertEquals("int4", gpt2.path("format").asText(), gpt2.toString());
            assertTrue(gpt2.path("quantize").asText().startsWith("int4 (block 32"), gpt2.toString());
            assertTrue(gpt2.path("detail").asText().contains("MatMulNBits, block 32"), gpt2.toString());
            JsonNode minilm = model(models, "all-minilm-l6-v2").path("spindle").path("weights");
            assertEquals("int8", minilm.path("format").asText(), minilm.toString());
            String log = server.log();
            assertTrue(log.contains("weights quantized to int4"), "logged");
            assertTrue(log.contains("quantize-for.\"no-such-model\" names no model"), "a per-model key that matches nothing is a warning");

            // Greedy tokens equal a plain ONNX Runtime loop over the quantized graph the server cached.
            Path quantized = cached(QuantizeSettings.of(QuantizeSettings.Format.INT4));
            int[] prompt = {10, 20, 30, 40, 50};
            int[] expected;
            try (DirectOrtLoop direct = new DirectOrtLoop(quantized)) {
                expected = direct.greedy(prompt, 12);
            }
            HttpResponse<String> r = server.post("/v1/completions", "{\"model\":\"demo-gpt2\",\"prompt\":[10,20,30,40,50],"
                    + "\"max_tokens\":12,\"temperature\":0,\"ignore_eos\":true,\"return_token_ids\":true}");
            assertEquals(200, r.statusCode(), r.body());
            int[] got = JSON.readValue(JSON.readTree(r.body()).path("choices").get(0).path("token_ids").toString(), int[].class);
            assertArrayEquals(expected, got);

            // A stream ends with its explicit end.
            HttpResponse<String> s = server.post("/v1/chat/completions", "{\"model\":\"demo-gpt2\",\"stream\":true,"
                    + "\"max_tokens\":8,\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}]}");
            assertEquals(200, s.statusCode(), s.body());
            assertTrue(s.body().strip().endsWith("data: [DONE]"), s.body());

            // int8 embeddings against LangChain4j's float32 all-MiniLM-L6-v2.
            AllMiniLmL6V2EmbeddingModel reference = new AllMiniLmL6V2EmbeddingModel();
            StringBuilder input = new StringBuilder();
            for (String t : SENTENCES) {
                input.append(input.isEmpty() ? "" : ",").append(JSON.writeValueAsString(t));
            }
            HttpResponse<String> e = server.post("/v1/embeddings", "{\"model\":\"all-minilm-l6-v2\",\"input\":[" + input + "]}");
            assertEquals(200, e.statusCode(), e.body());
            JsonNode data = JSON.readTree(e.body()).path("data");
            for (int i = 0; i < SENTENCES.size(); i++) {
                float[] want = reference.embed(SENTENCES.get(i)).content().vector();
                double cos = cosine(want, JSON.readValue(data.get(i).path("embedding").toString(), float[].class));
                assertTrue(cos >= 0.99 && cos < 0.999999, SENTENCES.get(i) + ": cosine " + cos);
            }
        }
    }

    @Test
    void aBadValueIsAStartUpErrorNamingItsKey() throws Exception {
        try (ServerProcess server = ServerProcess.startSettled("quantize-bad", "spindle.demo.t5-layouts=none",
                "spindle.demo.bert-heads=none", "spindle.embeddings.bundled-model=false",
                "spindle.models.quantize-for.\"demo-gpt2\"=int4,block=7")) {
            HttpResponse<String> ready = server.get("/q/health/ready");
            assertEquals(503, ready.statusCode(), ready.body());
            JsonNode data = JSON.readTree(ready.body()).path("checks").get(0).path("data");
            assertEquals("failed", data.path("state").asText());
            assertTrue(data.path("detail").asText().contains("spindle.models.quantize-for.\"demo-gpt2\"=int4,block=7"),
                    data.toString());
            assertTrue(server.log().contains("spindle.models.quantize-for.\"demo-gpt2\""), "logged");
        }
    }

    private static JsonNode model(JsonNode models, String id) {
        for (JsonNode m : models) {
            if (m.path("id").asText().equals(id)) {
                return m;
            }
        }
        throw new AssertionError("no model " + id + " in " + models);
    }

    /** The demo GPT-2's quantized graph, where the server caches it (by the source's SHA-256 and the settings). */
    private static Path cached(QuantizeSettings s) throws Exception {
        Path source = Path.of("target", "test-models", DemoModelWriter.cacheName(DemoPreset.TINY, DemoLayout.OPTIMUM,
                DemoModelWriter.DEFAULT_SEED), "model.onnx");
        RewriteCache cache = new RewriteCache(Path.of("target", "test-models", "rewritten"));
        Path file = cache.file(source, WeightQuantizer.VERSION + "-" + s.cacheTag());
        assertTrue(cache.valid(file), "the server cached " + file);
        return file;
    }

    private static double cosine(float[] a, float[] b) {
        double dot = 0;
        double na = 0;
        double nb = 0;
        for (int i = 0; i < a.length; i++) {
            dot += a[i] * (double) b[i];
            na += a[i] * (double) a[i];
            nb += b[i] * (double) b[i];
        }
        return dot / Math.sqrt(na * nb);
    }
}
