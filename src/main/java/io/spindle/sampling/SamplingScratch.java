package io.spindle.sampling;

/** Vocabulary-sized buffers reused across steps by every sampler on one thread. Not thread-safe. */
public final class SamplingScratch {
    private final float[] logits;
    private final int[] indices;

    public SamplingScratch(int vocabSize) {
        this.logits = new float[vocabSize];
        this.indices = new int[vocabSize];
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
