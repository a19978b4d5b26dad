package io.spindle.sampling;

/** The chosen token and its log-probability under the distribution it was drawn from. */
public record SampledToken(int tokenId, float logprob) {
}
