package io.spindle.runtime.family.bert;

/** How token vectors become one sentence vector, and whether it is scaled to unit length. */
public record Pooling(Mode mode, boolean normalize) {
    public enum Mode { MEAN, CLS, MAX }

    /** sentence-transformers' default for models like all-MiniLM: mean of real tokens, unit length. */
    public static final Pooling DEFAULT = new Pooling(Mode.MEAN, true);

    /**
     * Pools row {@code row} of a [rows, seq, hidden] tensor (flattened) over its real positions.
     *
     * @param mask 1 for real tokens, per position of this row
     */
    float[] pool(float[] tokens, int row, int seq, int hidden, long[] mask, int maskOffset) {
        float[] out = new float[hidden];
        int base = row * seq * hidden;
        switch (mode) {
            case CLS -> System.arraycopy(tokens, base, out, 0, hidden);
            case MEAN -> {
                int n = 0;
                for (int t = 0; t < seq; t++) {
                    if (mask[maskOffset + t] != 0) {
                        n++;
                        for (int h = 0; h < hidden; h++) {
                            out[h] += tokens[base + t * hidden + h];
                        }
                    }
                }
                for (int h = 0; h < hidden; h++) {
                    out[h] /= Math.max(n, 1);
                }
            }
            case MAX -> {
                java.util.Arrays.fill(out, Float.NEGATIVE_INFINITY);
                for (int t = 0; t < seq; t++) {
                    if (mask[maskOffset + t] != 0) {
                        for (int h = 0; h < hidden; h++) {
                            out[h] = Math.max(out[h], tokens[base + t * hidden + h]);
                        }
                    }
                }
            }
        }
        if (normalize) {
            double sum = 0;
            for (float v : out) {
                sum += (double) v * v;
            }
            float inv = (float) (1 / Math.max(Math.sqrt(sum), 1e-12));
            for (int h = 0; h < hidden; h++) {
                out[h] *= inv;
            }
        }
        return out;
    }
}
