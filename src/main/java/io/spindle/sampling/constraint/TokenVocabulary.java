package io.spindle.sampling.constraint;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;
import java.util.HexFormat;

/**
 * A model's vocabulary as constrained decoding sees it: the bytes each token id adds to the output
 * (for GPT-2's byte-level BPE, the token's string mapped back through the byte-to-unicode table), or
 * none for tokens that never appear in constrained text (special and control tokens), and the end of
 * sequence ids. Also holds the tokens sorted by their bytes, with each one's common prefix with the
 * previous, which turns "which tokens can a DFA state take" into one pass with shared prefixes.
 * Immutable and thread-safe; build one per served model and share it.
 */
public final class TokenVocabulary {
    private final int size;
    private final byte[][] bytes;
    private final int[] eosIds;
    private final String fingerprint;
    /** Token ids with bytes, in lexicographic (unsigned) byte order. */
    final int[] sorted;
    /** {@code lcp[i]}: bytes {@code sorted[i]} shares with {@code sorted[i - 1]} (0 for i = 0). */
    final int[] lcp;

    /**
     * @param size      the logits' width (may exceed the tokenizer's vocabulary; ids past {@code bytes} are never allowed)
     * @param bytes     per token id, its UTF-8 bytes, or null for a token constrained text never uses
     * @param eosIds    the ids that end a sequence (allowed exactly when the constraint accepts)
     */
    public TokenVocabulary(int size, byte[][] bytes, int[] eosIds) {
        if (bytes.length > size) {
            throw new IllegalArgumentException("more token strings (" + bytes.length + ") than the vocabulary size " + size);
        }
        this.size = size;
        this.bytes = bytes.clone();
        this.eosIds = eosIds.clone();
        for (int eos : eosIds) {
            if (eos < 0 || eos >= size) {
                throw new IllegalArgumentException("end-of-sequence id " + eos + " is outside the vocabulary");
            }
            if (eos < this.bytes.length) {
                this.bytes[eos] = null;
            }
        }
        Integer[] order = java.util.stream.IntStream.range(0, this.bytes.length)
                .filter(i -> this.bytes[i] != null && this.bytes[i].length > 0).boxed().toArray(Integer[]::new);
        Arrays.sort(order, (a, b) -> Arrays.compareUnsigned(this.bytes[a], this.bytes[b]));
        this.sorted = new int[order.length];
        this.lcp = new int[order.length];
        for (int i = 0; i < order.length; i++) {
            sorted[i] = order[i];
            if (i > 0) {
                byte[] p = this.bytes[sorted[i - 1]];
                byte[] c = this.bytes[sorted[i]];
                int m = Arrays.mismatch(p, c);
                lcp[i] = m < 0 ? p.length : m;
            }
        }
        this.fingerprint = digest(size, this.bytes, this.eosIds);
    }

    public int size() {
        return size;
    }

    /** The token's bytes (do not modify), or null when constrained text never uses it. */
    public byte[] bytes(int tokenId) {
        return tokenId < bytes.length ? bytes[tokenId] : null;
    }

    public int[] eosIds() {
        return eosIds.clone();
    }

    public boolean isEos(int tokenId) {
        for (int e : eosIds) {
            if (e == tokenId) {
                return true;
            }
        }
        return false;
    }

    int[] eosIdsShared() {
        return eosIds;
    }

    /** A digest of every token's bytes and the EOS ids: two vocabularies with equal fingerprints compile alike. */
    public String fingerprint() {
        return fingerprint;
    }

    private static String digest(int size, byte[][] bytes, int[] eos) {
        try {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            md.update(("size=" + size + ";eos=" + Arrays.toString(eos) + ";").getBytes(StandardCharsets.UTF_8));
            for (byte[] b : bytes) {
                int len = b == null ? -1 : b.length;
                md.update(new byte[] {(byte) (len >>> 24), (byte) (len >>> 16), (byte) (len >>> 8), (byte) len});
                if (b != null) {
                    md.update(b);
                }
            }
            return HexFormat.of().formatHex(md.digest(), 0, 16);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
