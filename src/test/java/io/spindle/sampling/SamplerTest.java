package io.spindle.sampling;

import org.junit.jupiter.api.Test;

import java.util.HashSet;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SamplerTest {
    /** Probabilities 0.5, 0.3, 0.15, 0.05 (as log-probabilities), then near-impossible tokens. */
    private static final float[] LOGITS = {
            (float) Math.log(0.5), (float) Math.log(0.3), (float) Math.log(0.15), (float) Math.log(0.05), -50, -50};

    private static SamplingParams params(double t, int k, double p, double rep, double pres, double freq, long seed) {
        return new SamplingParams(t, k, p, rep, pres, freq, seed);
    }

    private static SampledToken draw(Sampler s, SamplingScratch scratch, float[] logits) {
        System.arraycopy(logits, 0, scratch.logits(), 0, logits.length);
        return s.sample(scratch, true);
    }

    private static Set<Integer> support(SamplingParams p, int draws) {
        Sampler s = new Sampler(p, new int[0]);
        SamplingScratch scratch = new SamplingScratch(LOGITS.length);
        Set<Integer> seen = new HashSet<>();
        for (int i = 0; i < draws; i++) {
            seen.add(draw(s, scratch, LOGITS).tokenId());
        }
        return seen;
    }

    @Test
    void greedyTakesTheArgmaxWithItsLogSoftmax() {
        Sampler s = new Sampler(SamplingParams.greedy(), new int[0]);
        SampledToken t = draw(s, new SamplingScratch(LOGITS.length), LOGITS);
        assertEquals(0, t.tokenId());
        assertEquals(Math.log(0.5), t.logprob(), 1e-4);
        SamplingScratch scratch = new SamplingScratch(LOGITS.length);
        System.arraycopy(LOGITS, 0, scratch.logits(), 0, LOGITS.length);
        SampledToken cheap = s.sample(scratch, false);
        assertEquals(0, cheap.tokenId());
        assertTrue(Float.isNaN(cheap.logprob()), "no log-probability unless asked for");
    }

    @Test
    void temperatureSamplingReachesEveryLikelyTokenAndFollowsTheProbabilities() {
        Sampler s = new Sampler(params(1, 0, 1, 1, 0, 0, 7), new int[0]);
        SamplingScratch scratch = new SamplingScratch(LOGITS.length);
        int[] counts = new int[LOGITS.length];
        int n = 20_000;
        for (int i = 0; i < n; i++) {
            counts[draw(s, scratch, LOGITS).tokenId()]++;
        }
        assertEquals(0.5, counts[0] / (double) n, 0.02);
        assertEquals(0.3, counts[1] / (double) n, 0.02);
        assertEquals(0.15, counts[2] / (double) n, 0.02);
    }

    @Test
    void lowTemperatureConcentratesOnTheArgmax() {
        assertEquals(Set.of(0), support(params(0.05, 0, 1, 1, 0, 0, 3), 500));
    }

    @Test
    void topKKeepsOnlyTheKBestTokens() {
        assertEquals(Set.of(0), support(params(5, 1, 1, 1, 0, 0, 3), 300));
        assertEquals(Set.of(0, 1), support(params(5, 2, 1, 1, 0, 0, 3), 2000));
    }

    @Test
    void topPKeepsTheSmallestPrefixReachingP() {
        // 0.5 < 0.7 ≤ 0.5 + 0.3: the nucleus is {0, 1}.
        assertEquals(Set.of(0, 1), support(params(1, 0, 0.7, 1, 0, 0, 3), 3000));
        assertEquals(Set.of(0), support(params(1, 0, 0.4, 1, 0, 0, 3), 500));
    }

    @Test
    void topPWidensPastItsFirstWindowOnALargeFlatVocabulary() {
        int v = 1000;
        float[] flat = new float[v];
        Sampler s = new Sampler(params(1, 0, 0.9, 1, 0, 0, 11), new int[0]);
        SamplingScratch scratch = new SamplingScratch(v);
        Set<Integer> seen = new HashSet<>();
        for (int i = 0; i < 5000; i++) {
            seen.add(draw(s, scratch, flat).tokenId());
        }
        assertTrue(seen.size() > 800, "nucleus of a flat distribution at p=0.9 covers ~900 tokens, saw " + seen.size());
    }

    @Test
    void repetitionPenaltyDiscouragesPromptAndGeneratedTokens() {
        float[] tie = {1f, 1f, 0f};
        Sampler penalised = new Sampler(params(0, 0, 1, 2.0, 0, 0, 1), new int[] {0});
        assertEquals(1, draw(penalised, new SamplingScratch(3), tie).tokenId());
        penalised.accept(1);
        float[] negative = {-1f, -1f, -1.5f};
        // Negative logits are multiplied: -1·2 = -2 for both seen tokens, so the unseen one wins.
        assertEquals(2, draw(penalised, new SamplingScratch(3), negative).tokenId());
    }

    @Test
    void presenceAndFrequencyPenaltiesSubtractPerGeneratedToken() {
        float[] l = {2f, 1.5f, 0f};
        Sampler presence = new Sampler(params(0, 0, 1, 1, 1.0, 0, 1), new int[0]);
        presence.accept(0);
        assertEquals(1, draw(presence, new SamplingScratch(3), l).tokenId(), "2 - 1 < 1.5");

        Sampler frequency = new Sampler(params(0, 0, 1, 1, 0, 0.2, 1), new int[0]);
        frequency.accept(0);
        assertEquals(0, draw(frequency, new SamplingScratch(3), l).tokenId(), "2 - 0.2 > 1.5");
        frequency.accept(0);
        frequency.accept(0);
        assertEquals(1, draw(frequency, new SamplingScratch(3), l).tokenId(), "2 - 0.6 < 1.5");
    }

    @Test
    void theSameSeedGivesTheSameDrawsAndAnotherSeedDiffers() {
        int[] a = run(42);
        assertEquals(java.util.Arrays.toString(a), java.util.Arrays.toString(run(42)));
        assertNotEquals(java.util.Arrays.toString(a), java.util.Arrays.toString(run(43)));
    }

    private static int[] run(long seed) {
        Sampler s = new Sampler(params(1, 0, 1, 1, 0, 0, seed), new int[0]);
        SamplingScratch scratch = new SamplingScratch(LOGITS.length);
        int[] out = new int[40];
        for (int i = 0; i < out.length; i++) {
            out[i] = draw(s, scratch, LOGITS).tokenId();
        }
        return out;
    }

    @Test
    void invalidParametersNameTheParameter() {
        assertEquals("temperature", assertThrows(InvalidSamplingParameterException.class,
                () -> params(-0.1, 0, 1, 1, 0, 0, 1)).param());
        assertEquals("top_p", assertThrows(InvalidSamplingParameterException.class,
                () -> params(1, 0, 0, 1, 0, 0, 1)).param());
        assertEquals("top_p", assertThrows(InvalidSamplingParameterException.class,
                () -> params(1, 0, 1.01, 1, 0, 0, 1)).param());
        assertEquals("top_k", assertThrows(InvalidSamplingParameterException.class,
                () -> params(1, -1, 1, 1, 0, 0, 1)).param());
        assertEquals("repetition_penalty", assertThrows(InvalidSamplingParameterException.class,
                () -> params(1, 0, 1, 0, 0, 0, 1)).param());
        assertEquals("presence_penalty", assertThrows(InvalidSamplingParameterException.class,
                () -> params(1, 0, 1, 1, 3, 0, 1)).param());
        assertEquals("frequency_penalty", assertThrows(InvalidSamplingParameterException.class,
                () -> params(1, 0, 1, 1, 0, -3, 1)).param());
    }

    @Test
    void topIndicesReturnsTheLargestInDescendingOrderWithLowerIndexOnTies() {
        float[] v = {3, 9, 1, 9, 7, 0, 5};
        int[] out = new int[v.length];
        assertEquals(4, TopIndices.select(v, v.length, 4, out));
        assertEquals("[1, 3, 4, 6]", java.util.Arrays.toString(java.util.Arrays.copyOf(out, 4)));
    }

    @org.junit.jupiter.api.Test
    void logitBiasBansAndForcesTokensAndIsBounded() {
        float[] base = new float[50];
        for (int i = 0; i < base.length; i++) {
            base[i] = i * 0.1f;
        }
        // Greedy picks 49; a -100 bias bans it, and +100 on 3 forces 3.
        SamplingParams banned = new SamplingParams(0, 0, 1, 1, 0, 0, 1, new LogitBias(new int[] {49}, new float[] {-100}));
        SamplingScratch scratch = new SamplingScratch(50);
        System.arraycopy(base, 0, scratch.logits(), 0, 50);
        org.junit.jupiter.api.Assertions.assertEquals(48, new Sampler(banned, new int[0]).sample(scratch, false).tokenId());
        SamplingParams forced = new SamplingParams(1.0, 0, 1, 1, 0, 0, 7, new LogitBias(new int[] {3}, new float[] {100}));
        for (int k = 0; k < 20; k++) {
            System.arraycopy(base, 0, scratch.logits(), 0, 50);
            org.junit.jupiter.api.Assertions.assertEquals(3, new Sampler(forced, new int[0]).sample(scratch, false).tokenId());
        }
        org.junit.jupiter.api.Assertions.assertThrows(InvalidSamplingParameterException.class,
                () -> new LogitBias(new int[] {1}, new float[] {101}));
        org.junit.jupiter.api.Assertions.assertThrows(InvalidSamplingParameterException.class,
                () -> new LogitBias(new int[LogitBias.MAX_ENTRIES + 1], new float[LogitBias.MAX_ENTRIES + 1]));
    }

    private static SamplingParams knobs(double t, double minP, double typicalP, long seed) {
        return new SamplingParams(t, 0, 1, 1, 0, 0, seed, LogitBias.NONE, minP, typicalP);
    }

    @Test
    void minPCutsTokensLessLikelyThanItsShareOfTheBest() {
        // p = 0.5, 0.3, 0.15, 0.05: min_p 0.35 keeps p ≥ 0.175 (tokens 0 and 1), 0.2 keeps ≥ 0.1 (0, 1, 2).
        assertEquals(Set.of(0, 1), support(knobs(1, 0.35, 1, 3), 4000));
        assertEquals(Set.of(0, 1, 2), support(knobs(1, 0.2, 1, 3), 4000));
        assertEquals(Set.of(0), support(knobs(1, 1.0, 1, 3), 500));
    }

    @Test
    void typicalPKeepsTheTokensNearestTheEntropyUpToItsMass() {
        // Entropy H = 1.1429 nats; surprise −ln p = 0.693, 1.204, 1.897, 2.996: ordered by |surprise − H|
        // the tokens are 1 (0.061), 0 (0.450), 2 (0.754), 3. typical_p 0.25 keeps token 1 alone,
        // 0.7 keeps 1 and 0 (mass 0.8), 0.9 adds 2.
        assertEquals(Set.of(1), support(knobs(1, 0, 0.25, 5), 2000));
        assertEquals(Set.of(0, 1), support(knobs(1, 0, 0.7, 5), 4000));
        assertEquals(Set.of(0, 1, 2), support(knobs(1, 0, 0.9, 5), 4000));
        assertThrows(InvalidSamplingParameterException.class, () -> knobs(1, 0, 0, 5));
        assertThrows(InvalidSamplingParameterException.class, () -> knobs(1, 1.5, 1, 5));
    }

    @Test
    void logprobsAreOfTheRawDistributionWhateverTheSamplingSettings() {
        // Temperature, a repetition penalty and a bias change what is drawn, not what is reported.
        SamplingParams p = new SamplingParams(0.3, 0, 1, 2.0, 0, 0, 11, new LogitBias(new int[] {3}, new float[] {5}), 0, 1);
        Sampler s = new Sampler(p, new int[] {0});
        SamplingScratch scratch = new SamplingScratch(LOGITS.length);
        for (int i = 0; i < 50; i++) {
            System.arraycopy(LOGITS, 0, scratch.logits(), 0, LOGITS.length);
            SampledToken t = s.sample(scratch, 3, null);
            assertEquals(LOGITS[t.tokenId()], t.logprob(), 1e-5, "raw log-probability of " + t.tokenId());
            assertEquals(java.util.List.of(0, 1, 2), java.util.Arrays.stream(t.top().tokenIds()).boxed().toList());
            assertEquals(Math.log(0.3), t.top().logprobs()[1], 1e-5);
        }
    }

    @Test
    void suppressedTokensAreNeverChosenButStillScored() {
        Sampler s = new Sampler(SamplingParams.greedy(), new int[0]);
        SamplingScratch scratch = new SamplingScratch(LOGITS.length);
        System.arraycopy(LOGITS, 0, scratch.logits(), 0, LOGITS.length);
        SampledToken t = s.sample(scratch, 2, new int[] {0});
        assertEquals(1, t.tokenId());
        assertEquals(Math.log(0.3), t.logprob(), 1e-5);
        assertEquals(0, t.top().tokenIds()[0], "the suppressed token is still the model's most likely");
    }
}
