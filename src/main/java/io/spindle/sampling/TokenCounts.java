package io.spindle.sampling;

import java.util.Arrays;

/**
 * Occurrence counts of token ids, kept as a small open list because a sequence holds few distinct
 * tokens compared with the vocabulary; iteration is over distinct ids only.
 */
public final class TokenCounts {
    private int[] ids = new int[16];
    private int[] counts = new int[16];
    private int size;

    public void add(int tokenId) {
        for (int i = 0; i < size; i++) {
            if (ids[i] == tokenId) {
                counts[i]++;
                return;
            }
        }
        if (size == ids.length) {
            ids = Arrays.copyOf(ids, size * 2);
            counts = Arrays.copyOf(counts, size * 2);
        }
        ids[size] = tokenId;
        counts[size++] = 1;
    }

    public int size() {
        return size;
    }

    public int idAt(int i) {
        return ids[i];
    }

    public int countAt(int i) {
        return counts[i];
    }
}
