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

    /** As {@link #sample(SamplingScratch, int, int[])}: the chosen token's log-probability or none. */
    public SampledToken sample(SamplingScratch scratch, boolean wantLogprob) {
        return sample(scratch, wantLogprob ? 0 : -1, null);
    }

    /**
     * Picks a token from {@code scratch.logits()} (filled by the caller with the raw logits;
     * overwritten here). With {@code numLogprobs} ≥ 0 the chosen token's log-probability under the
     * raw distribution comes back (see {@link Logprobs}: a pass of exp() over the vocabulary), and
     * with {@code numLogprobs} > 0 the most likely tokens too; -1 asks for neither (NaN, null).
     * {@code suppressed} token ids (may be null) cannot be chosen this step (min_tokens holds back
     * the stop tokens); they still count in the log-probabilities, which are the model's own.
     */
    public SampledToken sample(SamplingScratch scratch, int numLogprobs, int[] suppressed) {
        float[] l = scratch.logits();
        int n = scratch.vocabSize();
        double lse = Double.NaN;
        TopLogprobs top = null;
        float[] raw = l;
        if (numLogprobs >= 0) {
            lse = Logprobs.logSumExp(l, n);
            if (numLogprobs > 0) {
                top = Logprobs.top(l, n, numLogprobs, lse, scratch.indices());
            }
            boolean changes = !params.isGreedy() || params.hasPenalties() || !params.logitBias().isEmpty()
                    || (suppressed != null && suppressed.length > 0);
            if (changes) {
                raw = scratch.raw();
                System.arraycopy(l, 0, raw, 0, n);
            }
        }
        applyPenalties(l);
        if (!params.logitBias().isEmpty()) {
            params.logitBias().apply(l);
        }
        if (suppressed != null) {
            for (int id : suppressed) {
                l[id] = Float.NEGATIVE_INFINITY;
            }
        }
        int chosen = choose(scratch, l, n);
        return new SampledToken(chosen, numLogprobs >= 0 ? (float) (raw[chosen] - lse) : Float.NaN, top);
    }

    private int choose(SamplingScratch scratch, float[] l, int n) {
        if (params.isGreedy()) {
            return argmax(l, n);
        }
        float invT = (float) (1.0 / params.temperature());
        float max = Float.NEGATIVE_INFINITY;
        for (int i = 0; i < n; i++) {
            l[i] *= invT;
            max = Math.max(max, l[i]);
        }
        if (params.minP() > 0) {
            // p_i < min_p · p_max  ⇔  l_i − l_max < ln(min_p); the most likely token always stays.
            float cut = max + (float) Math.log(params.minP());
            for (int i = 0; i < n; i++) {
                if (l[i] < cut) {
                    l[i] = Float.NEGATIVE_INFINITY;
                }
            }
        }
        if (params.typicalP() < 1) {
            typical(scratch, l, n, max);
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

    /**
     * Locally typical sampling (Meister et al., as Hugging Face's TypicalLogitsWarper): keep the
     * tokens whose surprise −log p is closest to the entropy, in that order, until their mass reaches
     * typical_p (the token that reaches it included). A full sort of the vocabulary: only when asked.
     */
    private void typical(SamplingScratch scratch, float[] l, int n, float max) {
        double z = 0;
        for (int i = 0; i < n; i++) {
            z += Math.exp(l[i] - max);
        }
        double logZ = Math.log(z);
        double entropy = 0;
        for (int i = 0; i < n; i++) {
            double lp = l[i] - max - logZ;
            if (lp > Double.NEGATIVE_INFINITY) {
                entropy -= Math.exp(lp) * lp;
            }
        }
        long[] keys = scratch.sortKeys();
        for (int i = 0; i < n; i++) {
            double deviation = Math.abs(-(l[i] - max - logZ) - entropy);
            // Non-negative floats order as their bits do; the index rides in the low half.
            keys[i] = ((long) Float.floatToIntBits((float) deviation) << 32) | i;
        }
        java.util.Arrays.sort(keys, 0, n);
        double mass = 0;
        int keep = 0;
        while (keep < n && mass < params.typicalP()) {
            mass += Math.exp(l[(int) keys[keep]] - max - logZ);
            keep++;
        }
        for (int k = keep; k < n; k++) {
            l[(int) keys[k]] = Float.NEGATIVE_INFINITY;
        }
    }

    private int sampleAll(float[] l, int n, float max, double total) {
        double u = random.nextDouble() * total;
        double acc = 0;
        int chosen = argmax(l, n);
        for (int i = 0; i < n; i++) {
            acc += Math.exp(l[i] - max);
            if (acc >= u) {
                chosen = i;
                break;
            }
        }
        return chosen;
    }

    /** Top-k and/or top-p: candidates in descending order, cut, renormalised, then drawn from. */
    private int sampleCandidates(SamplingScratch scratch, float[] l, int n, float max, double total, boolean topK) {
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
        int chosen = idx[0];
        for (int i = 0; i < kept; i++) {
            acc += Math.exp(l[idx[i]] - max);
            if (acc >= u) {
                chosen = idx[i];
                break;
            }
        }
        return chosen;
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
}
