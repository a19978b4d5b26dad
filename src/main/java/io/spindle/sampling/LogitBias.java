package io.spindle.sampling;

import java.util.Arrays;

/**
 * OpenAI's {@code logit_bias}: values added to chosen tokens' logits before sampling (-100 bans a
 * token, +100 all but forces it). At most {@link #MAX_ENTRIES} tokens, each bias in [-100, 100].
 */
public record LogitBias(int[] tokenIds, float[] bias) {
    public static final int MAX_ENTRIES = 300;
    public static final LogitBias NONE = new LogitBias(new int[0], new float[0]);

    public LogitBias {
        if (tokenIds.length != bias.length) {
            throw new IllegalArgumentException("one bias per token id");
        }
        if (tokenIds.length > MAX_ENTRIES) {
            throw new InvalidSamplingParameterException("logit_bias", "logit_bias may hold at most " + MAX_ENTRIES
                    + " tokens; it has " + tokenIds.length);
        }
        for (float b : bias) {
            if (!(b >= -100 && b <= 100)) {
                throw new InvalidSamplingParameterException("logit_bias", "logit_bias values must be in [-100, 100]");
            }
        }
    }

    public boolean isEmpty() {
        return tokenIds.length == 0;
    }

    void apply(float[] logits) {
        for (int i = 0; i < tokenIds.length; i++) {
            logits[tokenIds[i]] += bias[i];
        }
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof LogitBias b && Arrays.equals(tokenIds, b.tokenIds) && Arrays.equals(bias, b.bias);
    }

    @Override
    public int hashCode() {
        return 31 * Arrays.hashCode(tokenIds) + Arrays.hashCode(bias);
    }

    @Override
    public String toString() {
        return "LogitBias" + Arrays.toString(tokenIds) + "=" + Arrays.toString(bias);
    }
}
