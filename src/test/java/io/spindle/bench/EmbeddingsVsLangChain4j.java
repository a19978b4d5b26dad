package io.spindle.bench;

import dev.langchain4j.data.segment.TextSegment;
import dev.langchain4j.model.embedding.onnx.allminilml6v2.AllMiniLmL6V2EmbeddingModel;

import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * Embeddings throughput of all-MiniLM-L6-v2: Spindle's server over HTTP (one input per request, and
 * 32 inputs per request) against LangChain4j's in-process model (one {@code embed} per input, and
 * {@code embedAll} of 32), alternating, medians over runs. The server is idle while LangChain4j runs.
 * {@code load-tests/lib/run-bench.sh io.spindle.bench.EmbeddingsVsLangChain4j [--inputs 256] [--runs 3]}
 */
public final class EmbeddingsVsLangChain4j {
    private static final String[] WORDS = ("the of and to in is that for it as was with be by on not he this are or "
            + "his from at which but have an had they you were their one all we can her has there").split(" ");

    public static void main(String[] args) throws Exception {
        Map<String, String> o = BenchServer.options(args);
        int inputs = Integer.parseInt(o.getOrDefault("inputs", "256"));
        int runs = Integer.parseInt(o.getOrDefault("runs", "3"));
        List<String> texts = new ArrayList<>();
        java.util.Random rnd = new java.util.Random(1);
        for (int i = 0; i < inputs; i++) {
            StringBuilder sb = new StringBuilder("Sentence");
            for (int w = 0; w < 12; w++) {
                sb.append(' ').append(WORDS[rnd.nextInt(WORDS.length)]);
            }
            texts.add(sb.append('.').toString());
        }
        AllMiniLmL6V2EmbeddingModel lc4j = new AllMiniLmL6V2EmbeddingModel();
        double[][] r = new double[4][runs];
        try (BenchServer server = new BenchServer("target/quarkus-app/quarkus-run.jar", 18093,
                List.of("-Dspindle.demo.enabled=false", "-Dspindle.models.dir=target/no-models"))) {
            // Warm both up.
            lc4j.embedAll(texts.subList(0, 32).stream().map(TextSegment::from).toList());
            serverRun(server, texts.subList(0, 64), 32);
            for (int k = 0; k < runs; k++) {
                r[0][k] = serverRun(server, texts, 1);
                r[1][k] = lc4jRun(lc4j, texts, 1);
                r[2][k] = serverRun(server, texts, 32);
                r[3][k] = lc4jRun(lc4j, texts, 32);
                System.out.printf("run %d: server b1 %.1f, LangChain4j b1 %.1f, server b32 %.1f, LangChain4j b32 %.1f inputs/s%n",
                        k + 1, r[0][k], r[1][k], r[2][k], r[3][k]);
            }
        }
        System.out.printf("median inputs/s (%d inputs of 14 words, %d runs):%n", inputs, runs);
        System.out.printf("  batch 1 : server %.1f, LangChain4j in-process %.1f, ratio %.2f%n", median(r[0]), median(r[1]),
                median(r[0]) / median(r[1]));
        System.out.printf("  batch 32: server %.1f, LangChain4j in-process %.1f, ratio %.2f%n", median(r[2]), median(r[3]),
                median(r[2]) / median(r[3]));
    }

    private static double serverRun(BenchServer server, List<String> texts, int batch) throws Exception {
        long t0 = System.nanoTime();
        for (int i = 0; i < texts.size(); i += batch) {
            StringBuilder body = new StringBuilder("{\"model\":\"all-minilm-l6-v2\",\"input\":[");
            for (int j = i; j < Math.min(texts.size(), i + batch); j++) {
                body.append(j > i ? "," : "").append('"').append(texts.get(j)).append('"');
            }
            body.append("]}");
            HttpResponse<String> resp = BenchServer.HTTP.send(HttpRequest.newBuilder(
                            URI.create("http://127.0.0.1:" + server.port + "/v1/embeddings"))
                    .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body.toString()))
                    .build(), HttpResponse.BodyHandlers.ofString());
            if (resp.statusCode() != 200) {
                throw new IllegalStateException("HTTP " + resp.statusCode() + ": " + resp.body());
            }
        }
        return texts.size() / ((System.nanoTime() - t0) / 1e9);
    }

    private static double lc4jRun(AllMiniLmL6V2EmbeddingModel model, List<String> texts, int batch) {
        long t0 = System.nanoTime();
        for (int i = 0; i < texts.size(); i += batch) {
            if (batch == 1) {
                model.embed(texts.get(i));
            } else {
                model.embedAll(texts.subList(i, Math.min(texts.size(), i + batch)).stream().map(TextSegment::from).toList());
            }
        }
        return texts.size() / ((System.nanoTime() - t0) / 1e9);
    }

    private static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }
}
