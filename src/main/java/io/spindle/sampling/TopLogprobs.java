package io.spindle.sampling;

/** The most likely tokens at one position and their log-probabilities, most likely first. */
public record TopLogprobs(int[] tokenIds, float[] logprobs) {
    public int size() {
        return tokenIds.length;
    }
}
