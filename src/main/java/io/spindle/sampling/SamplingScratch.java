package io.spindle.sampling;

/** Vocabulary-sized buffers reused across steps by every sampler on one thread. Not thread-safe. */
public final class SamplingScratch {
    private final float[] logits;
    private final int[] indices;
    /** A copy of the raw logits, kept only while a sampler needs log-probabilities of them. */
    private final float[] raw;

    public SamplingScratch(int vocabSize) {
        this.logits = new float[vocabSize];
        this.indices = new int[vocabSize];
        this.raw = new float[vocabSize];
    }

    float[] raw() {
        return raw;
    }

    /** Sort keys for typical sampling, allocated on first use only. */
    private long[] sortKeys;

    long[] sortKeys() {
        if (sortKeys == null) {
            sortKeys = new long[logits.length];
        }
        return sortKeys;
    }

    public float[] logits() {
        return logits;
    }

    int[] indices() {
        return indices;
    }

    public int vocabSize() {
        return logits.length;
    }
}
