package io.spindle.bench;

import io.spindle.bench.AttentionKernelBenchmark.CacheData;
import io.spindle.bench.AttentionKernelBenchmark.Case;
import io.spindle.bench.AttentionKernelBenchmark.Form;
import io.spindle.runtime.onnx.OrtRuntime;
import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Every decode-attention form the benchmark times computes the attention it claims: each row of a
 * batch over its own first n cached positions plus its new token, against a double-precision
 * reference, with rows of different lengths (mask and seqlens_k), several layers per graph and more
 * than one cache copy (the second run reads the second copy).
 */
class AttentionKernelBenchmarkTest {
    private static final OrtRuntime ORT = new OrtRuntime("cpu", 2);

    @Test
    void everyFormMatchesTheReferenceForRowsOfDifferentLengths() throws Exception {
        int[][] cases = {{1, 1}, {7, 3}, {40, 64}};
        for (int[] lp : cases) {
            int L = lp[0];
            int capacity = L + lp[1];
            CacheData data = new CacheData(capacity, new SplittableRandom(L));
            int[] mixed = AttentionKernelBenchmark.mixedLengths(L);
            int[] shorter = mixed.clone();
            for (int b = 0; b < shorter.length; b++) {
                shorter[b] = Math.max(1, shorter[b] / 2);
            }
            double[] reference = AttentionKernelBenchmark.reference(data, mixed);
            double[] referenceShorter = AttentionKernelBenchmark.reference(data, shorter);
            for (Form f : Form.values()) {
                try (Case c = new Case(ORT, f, L, capacity, 2, 2, data)) {
                    double first = AttentionKernelBenchmark.check(c, mixed, reference, null)[0];
                    double second = AttentionKernelBenchmark.check(c, shorter, referenceShorter, null)[0];
                    assertTrue(first < 1e-5 && second < 1e-5, f.label + " at L " + L + ": max |diff| " + first + ", " + second);
                }
            }
        }
    }
}
