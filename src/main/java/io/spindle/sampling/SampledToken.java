package io.spindle.sampling;

/**
 * The chosen token, its log-probability under the model's raw distribution (see {@link Logprobs};
 * NaN when not asked for), and the most likely alternatives when asked for (else null).
 */
public record SampledToken(int tokenId, float logprob, TopLogprobs top) {
    public SampledToken(int tokenId, float logprob) {
        this(tokenId, logprob, null);
    }
}
