package io.spindle.sampling;

import java.util.SplittableRandom;

/**
 * Chooses one sequence's next tokens. Holds that sequence's random stream and token counts; the
 * vocabulary-sized work buffers live in a {@link SamplingScratch} shared by every sampler on one
 * thread, so a decode step allocates nothing large.
 */
public final class Sampler {
    /** Top-p looks at this many best candidates first and widens by 4× only while their mass is short of p. */
    private static final int FIRST_NUCLEUS_WINDOW = 64;

    private final SamplingParams params;
    private final SplittableRandom random;
    private final TokenCounts seen = new TokenCounts();
    private final TokenCounts generated = new TokenCounts();

    public Sampler(SamplingParams params, int[] promptTokens) {
        this.params = params;
        this.random = new SplittableRandom(params.seed());
        if (params.repetitionPenalty() != 1) {
            for (int t : promptTokens) {
                seen.add(t);
            }
        }
    }

    /** Records a generated token, for the penalties of later steps. */
    public void accept(int tokenId) {
        if (params.repetitionPenalty() != 1) {
            seen.add(tokenId);
        }
        if (params.presencePenalty() != 0 || params.frequencyPenalty() != 0) {
            generated.add(tokenId);
        }
    }

    /**
     * Picks a token from {@code scratch.logits()} (filled by the caller; overwritten here). A greedy
     * pick's log-probability costs a pass of exp() over the vocabulary, as long as the argmax itself,
     * so it is computed only when {@code wantLogprob}; otherwise it is NaN.
     */
    public SampledToken sample(SamplingScratch scratch, boolean wantLogprob) {
        float[] l = scratch.logits();
        int n = scratch.vocabSize();
        applyPenalties(l);
        if (!params.logitBias().isEmpty()) {
            params.logitBias().apply(l);
        }
        if (params.isGreedy()) {
            int best = argmax(l, n);
            return new SampledToken(best, wantLogprob ? (float) (l[best] - logSumExp(l, n)) : Float.NaN);
        }
        float invT = (float) (1.0 / params.temperature());
        float max = Float.NEGATIVE_INFINITY;
        for (int i = 0; i < n; i++) {
            l[i] *= invT;
            max = Math.max(max, l[i]);
        }
        double total = 0;
        for (int i = 0; i < n; i++) {
            total += Math.exp(l[i] - max);
        }
        boolean topK = params.topK() > 0 && params.topK() < n;
        if (!topK && params.topP() >= 1) {
            return sampleAll(l, n, max, total);
        }
        return sampleCandidates(scratch, l, n, max, total, topK);
    }

    private SampledToken sampleAll(float[] l, int n, float max, double total) {
        double u = random.nextDouble() * total;
        double acc = 0;
        int chosen = n - 1;
        for (int i = 0; i < n; i++) {
            acc += Math.exp(l[i] - max);
            if (acc >= u) {
                chosen = i;
                break;
            }
        }
        return new SampledToken(chosen, (float) (l[chosen] - max - Math.log(total)));
    }

    /** Top-k and/or top-p: candidates in descending order, cut, renormalised, then drawn from. */
    private SampledToken sampleCandidates(SamplingScratch scratch, float[] l, int n, float max, double total, boolean topK) {
        int[] idx = scratch.indices();
        int limit = topK ? params.topK() : n;
        int window = topK ? limit : Math.min(FIRST_NUCLEUS_WINDOW, n);
        int kept;
        double keptMass;
        while (true) {
            int got = TopIndices.select(l, n, window, idx);
            double mass = 0;
            double denom = topK ? 0 : total;
            if (topK) {
                for (int i = 0; i < got; i++) {
                    denom += Math.exp(l[idx[i]] - max);
                }
            }
            kept = got;
            boolean reached = false;
            for (int i = 0; i < got; i++) {
                mass += Math.exp(l[idx[i]] - max);
                if (mass / denom >= params.topP()) {
                    kept = i + 1;
                    reached = true;
                    break;
                }
            }
            keptMass = mass;
            if (reached || got == limit || window >= n) {
                break;
            }
            window = Math.min(n, window * 4);
        }
        double u = random.nextDouble() * keptMass;
        double acc = 0;
        int chosen = idx[kept - 1];
        for (int i = 0; i < kept; i++) {
            acc += Math.exp(l[idx[i]] - max);
            if (acc >= u) {
                chosen = idx[i];
                break;
            }
        }
        return new SampledToken(chosen, (float) (l[chosen] - max - Math.log(keptMass)));
    }

    private void applyPenalties(float[] l) {
        double rp = params.repetitionPenalty();
        if (rp != 1) {
            for (int i = 0; i < seen.size(); i++) {
                int id = seen.idAt(i);
                l[id] = (float) (l[id] > 0 ? l[id] / rp : l[id] * rp);
            }
        }
        double presence = params.presencePenalty();
        double frequency = params.frequencyPenalty();
        if (presence != 0 || frequency != 0) {
            for (int i = 0; i < generated.size(); i++) {
                int id = generated.idAt(i);
                l[id] -= (float) (presence + frequency * generated.countAt(i));
            }
        }
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

    static double logSumExp(float[] l, int n) {
        float max = l[argmax(l, n)];
        double s = 0;
        for (int i = 0; i < n; i++) {
            s += Math.exp(l[i] - max);
        }
        return max + Math.log(s);
    }
}
