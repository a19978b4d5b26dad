package io.spindle.sampling;

/**
 * Log-probabilities of the model's own distribution: log-softmax of the raw logits, before
 * temperature, penalties, bias and truncation (vLLM's default), so that they mean the same whatever
 * sampling settings a request uses, and prompt and generated tokens are scored alike.
 */
public final class Logprobs {
    /** The most alternatives a request may ask for per position (OpenAI's limit). */
    public static final int MAX_TOP = 20;

    private Logprobs() {
    }

    /** log Σ exp(l[i]) over {@code l[0..n)}, computed stably. */
    public static double logSumExp(float[] l, int n) {
        float max = Float.NEGATIVE_INFINITY;
        for (int i = 0; i < n; i++) {
            max = Math.max(max, l[i]);
        }
        double s = 0;
        for (int i = 0; i < n; i++) {
            s += Math.exp(l[i] - max);
        }
        return max + Math.log(s);
    }

    /** The {@code k} most likely tokens of raw logits {@code l[0..n)} whose log-sum-exp is {@code lse}. */
    public static TopLogprobs top(float[] l, int n, int k, double lse, int[] scratch) {
        int got = TopIndices.select(l, n, k, scratch);
        int[] ids = new int[got];
        float[] lps = new float[got];
        for (int i = 0; i < got; i++) {
            ids[i] = scratch[i];
            lps[i] = (float) (l[scratch[i]] - lse);
        }
        return new TopLogprobs(ids, lps);
    }
}
