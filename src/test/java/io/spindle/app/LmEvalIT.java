package io.spindle.app;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.spindle.runtime.demo.DemoLayout;
import io.spindle.testing.DirectOrtLoop;
import io.spindle.testing.ServerProcess;
import io.spindle.testing.TestModels;
import org.junit.jupiter.api.Test;

import java.net.http.HttpResponse;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * lm-evaluation-harness's {@code local-completions} loglikelihood request, as it sends it
 * ({@code prompt}: a list holding one token-id list, {@code echo: true}, {@code logprobs: 1},
 * {@code max_tokens} 1, and 0 as older harnesses send), against the packaged server: the prompt
 * tokens' log-probabilities equal a reference computed from a plain ONNX Runtime forward pass over
 * the same graph, and the harness's own arithmetic (sum over the continuation, is-greedy from
 * {@code top_logprobs}) works on the answer. Prints the largest difference seen.
 */
class LmEvalIT {
    private static final ObjectMapper JSON = new ObjectMapper();
    /** Context then continuation, as the harness tokenizes them (GPT-2 ids). */
    private static final int[] CONTEXT = {464, 2068, 7586, 21831, 18045, 625, 262};
    private static final int[] CONTINUATION = {16931, 3290, 13};

    @Test
    void loglikelihoodRequestsMatchADirectForwardPass() throws Exception {
        int[] all = new int[CONTEXT.length + CONTINUATION.length];
        System.arraycopy(CONTEXT, 0, all, 0, CONTEXT.length);
        System.arraycopy(CONTINUATION, 0, all, CONTEXT.length, CONTINUATION.length);
        float[][] logits;
        try (DirectOrtLoop direct = new DirectOrtLoop(TestModels.tiny(DemoLayout.OPTIMUM).resolve("model.onnx"))) {
            logits = direct.logits(all);
        }
        StringBuilder ids = new StringBuilder();
        for (int t : all) {
            ids.append(ids.isEmpty() ? "" : ",").append(t);
        }
        double maxDiff = 0;
        try (ServerProcess server = ServerProcess.start("lm-eval")) {
            for (int maxTokens : new int[] {1, 0}) {
                HttpResponse<String> r = server.post("/v1/completions", "{\"model\":\"demo-gpt2\",\"prompt\":[[" + ids
                        + "]],\"temperature\":0,\"max_tokens\":" + maxTokens + ",\"logprobs\":1,\"seed\":1234,\"echo\":true}");
                assertEquals(200, r.statusCode(), r.body());
                JsonNode lp = JSON.readTree(r.body()).path("choices").get(0).path("logprobs");
                JsonNode tokenLogprobs = lp.path("token_logprobs");
                assertEquals(all.length + maxTokens, tokenLogprobs.size(), r.body());
                assertTrue(tokenLogprobs.get(0).isNull(), "the first token has no context");
                for (int p = 1; p < all.length; p++) {
                    double ref = DirectOrtLoop.logSoftmax(logits[p - 1])[all[p]];
                    maxDiff = Math.max(maxDiff, Math.abs(ref - tokenLogprobs.get(p).asDouble()));
                    assertEquals(ref, tokenLogprobs.get(p).asDouble(), 2e-4, "token " + p);
                }
                // The harness's arithmetic: the continuation's sum, and greedy when every token is the top one.
                double sum = 0;
                boolean greedy = true;
                for (int p = CONTEXT.length; p < all.length; p++) {
                    double tok = tokenLogprobs.get(p).asDouble();
                    sum += tok;
                    double best = Double.NEGATIVE_INFINITY;
                    for (var it = lp.path("top_logprobs").get(p).elements(); it.hasNext(); ) {
                        best = Math.max(best, it.next().asDouble());
                    }
                    greedy &= tok == best;
                }
                double refSum = 0;
                boolean refGreedy = true;
                for (int p = CONTEXT.length; p < all.length; p++) {
                    double[] ref = DirectOrtLoop.logSoftmax(logits[p - 1]);
                    refSum += ref[all[p]];
                    int arg = 0;
                    for (int v = 1; v < ref.length; v++) {
                        arg = ref[v] > ref[arg] ? v : arg;
                    }
                    refGreedy &= arg == all[p];
                }
                assertEquals(refSum, sum, 1e-3);
                assertEquals(refGreedy, greedy);
            }
        }
        System.out.printf("LmEvalIT: prompt logprobs vs a direct ONNX Runtime forward pass, max abs difference %.3g%n", maxDiff);
    }

}
