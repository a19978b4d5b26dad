package io.spindle.runtime.onnx.quant;

import io.spindle.engine.exec.ModelRunner;
import io.spindle.engine.exec.StepInput;

import java.util.List;

/**
 * How closely a quantized model follows its float32 original over a fixed token stream: both runners
 * are fed the same tokens (the first {@code prompt} as one prefill, then one token per step through
 * their KV caches), and at every position the next-token distributions are compared: top-1 agreement
 * and KL(float ‖ quantized) in nats. Works for any {@link ModelRunner} (GPT-2; T5 with the prompt as
 * its source).
 */
public record Agreement(int positions, double top1, double meanKl, double maxKl) {
    public static Agreement measure(ModelRunner reference, ModelRunner quantized, int[] tokens, int prompt, long id)
            throws Exception {
        int vocab = reference.vocabSize();
        float[] a = new float[vocab];
        float[] b = new float[vocab];
        int agree = 0;
        double sum = 0;
        double max = 0;
        int n = 0;
        try {
            for (int to = prompt; to <= tokens.length; to++) {
                int from = to == prompt ? 0 : to - 1;
                StepInput in = new StepInput(id, tokens, from, to, prompt);
                reference.execute(List.of(in)).copyLogits(0, a);
                quantized.execute(List.of(in)).copyLogits(0, b);
                if (argmax(a, vocab) == argmax(b, vocab)) {
                    agree++;
                }
                double kl = kl(a, b, vocab);
                sum += kl;
                max = Math.max(max, kl);
                n++;
            }
        } finally {
            reference.release(id);
            quantized.release(id);
        }
        return new Agreement(n, agree / (double) n, sum / n, max);
    }

    static int argmax(float[] l, int n) {
        int best = 0;
        for (int i = 1; i < n; i++) {
            if (l[i] > l[best]) {
                best = i;
            }
        }
        return best;
    }

    /** KL(softmax(p) ‖ softmax(q)) in nats, in double. */
    static double kl(float[] p, float[] q, int n) {
        double[] lp = logSoftmax(p, n);
        double[] lq = logSoftmax(q, n);
        double kl = 0;
        for (int i = 0; i < n; i++) {
            kl += Math.exp(lp[i]) * (lp[i] - lq[i]);
        }
        return Math.max(0, kl);
    }

    private static double[] logSoftmax(float[] x, int n) {
        double m = Double.NEGATIVE_INFINITY;
        for (int i = 0; i < n; i++) {
            m = Math.max(m, x[i]);
        }
        double s = 0;
        for (int i = 0; i < n; i++) {
            s += Math.exp(x[i] - m);
        }
        double log = m + Math.log(s);
        double[] out = new double[n];
        for (int i = 0; i < n; i++) {
            out[i] = x[i] - log;
        }
        return out;
    }

    /** A fixed pseudo-random token stream (seeded), ids in [1, vocab). */
    public static int[] stream(int length, int vocab, long seed) {
        java.util.Random r = new java.util.Random(seed);
        int[] t = new int[length];
        for (int i = 0; i < length; i++) {
            t[i] = 1 + r.nextInt(Math.min(vocab, 50000) - 1);
        }
        return t;
    }

    @Override
    public String toString() {
        return String.format(java.util.Locale.ROOT, "top-1 %.1f%%, mean KL %.2e, max KL %.2e over %d positions",
                100 * top1, meanKl, maxKl, positions);
    }
}
