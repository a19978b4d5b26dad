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
 *
 * <p>Some decoders treat the output's first token differently: SentencePiece's {@code Metaspace}
 * decoder drops the {@code ▁} of the first piece (T5 decodes {@code ▁Hello ▁world} to "Hello world",
 * not " Hello world"), Llama's {@code Strip} drops the text's leading space. The client receives that
 * text, so a vocabulary may carry a <em>first-token view</em>: the bytes each token adds when it is
 * the first of the output ({@link #firstBytes}); constraints walk it for the first step only.
 * Immutable and thread-safe; build one per served model and share it.
 */
public final class TokenVocabulary {
    private final int size;
    private final byte[][] bytes;
    /** The bytes each token adds as the output's first token; the same array as {@code bytes} when no decoder rule applies. */
    private final byte[][] firstBytes;
    private final int[] eosIds;
    private final boolean spellsEveryByte;
    private final String fingerprint;
    /** Token ids with bytes, in lexicographic (unsigned) byte order. */
    final int[] sorted;
    /** {@code lcp[i]}: bytes {@code sorted[i]} shares with {@code sorted[i - 1]} (0 for i = 0). */
    final int[] lcp;

    /** A vocabulary whose decoder treats the first token like any other (no first-token view). */
    public TokenVocabulary(int size, byte[][] bytes, int[] eosIds) {
        this(size, bytes, null, eosIds);
    }

    /**
     * @param size       the logits' width (may exceed the tokenizer's vocabulary; ids past {@code bytes} are never allowed)
     * @param bytes      per token id, its UTF-8 bytes, or null for a token constrained text never uses
     * @param firstBytes per token id, the bytes it adds when it is the first token of the output (e.g. without
     *                   the leading space a SentencePiece decoder drops), or null for a token that is never first;
     *                   null as a whole when the decoder treats the first token like any other
     * @param eosIds     the ids that end a sequence (allowed exactly when the constraint accepts)
     */
    public TokenVocabulary(int size, byte[][] bytes, byte[][] firstBytes, int[] eosIds) {
        if (bytes.length > size) {
            throw new IllegalArgumentException("more token strings (" + bytes.length + ") than the vocabulary size " + size);
        }
        if (firstBytes != null && firstBytes.length != bytes.length) {
            throw new IllegalArgumentException("first-token bytes for " + firstBytes.length + " tokens, bytes for " + bytes.length);
        }
        this.size = size;
        this.bytes = bytes.clone();
        this.firstBytes = firstBytes == null ? this.bytes : firstBytes.clone();
        this.eosIds = eosIds.clone();
        for (int eos : eosIds) {
            if (eos < 0 || eos >= size) {
                throw new IllegalArgumentException("end-of-sequence id " + eos + " is outside the vocabulary");
            }
            if (eos < this.bytes.length) {
                this.bytes[eos] = null;
                this.firstBytes[eos] = null;
            }
        }
        this.spellsEveryByte = spellsEveryByte(this.bytes);
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
        this.fingerprint = digest(size, this.bytes, this.firstBytes, this.eosIds);
    }

    private static boolean spellsEveryByte(byte[][] bytes) {
        boolean[] seen = new boolean[256];
        int n = 0;
        for (byte[] b : bytes) {
            if (b != null && b.length == 1 && !seen[b[0] & 0xFF]) {
                seen[b[0] & 0xFF] = true;
                n++;
            }
        }
        return n == 256;
    }

    public int size() {
        return size;
    }

    /** The token's bytes (do not modify), or null when constrained text never uses it. */
    public byte[] bytes(int tokenId) {
        return tokenId < bytes.length ? bytes[tokenId] : null;
    }

    /**
     * The bytes the token adds when it is the output's first token (do not modify): {@link #bytes} unless the
     * decoder drops something from the first token; null or empty when it cannot start constrained text.
     */
    public byte[] firstBytes(int tokenId) {
        return tokenId < firstBytes.length ? firstBytes[tokenId] : null;
    }

    /** Whether the decoder treats the first token differently ({@link #firstBytes} differs from {@link #bytes}). */
    public boolean hasFirstTokenView() {
        return firstBytes != bytes;
    }

    /**
     * Whether each of the 256 byte values is some token's whole text (GPT-2's byte-level BPE, SentencePiece with
     * byte fallback): then any byte string is spelled by some tokens, and every live DFA state can be finished.
     */
    public boolean spellsEveryByte() {
        return spellsEveryByte;
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

    private static String digest(int size, byte[][] bytes, byte[][] firstBytes, int[] eos) {
        try {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            md.update(("size=" + size + ";eos=" + Arrays.toString(eos) + ";").getBytes(StandardCharsets.UTF_8));
            update(md, bytes);
            if (firstBytes != bytes) {
                md.update("first;".getBytes(StandardCharsets.UTF_8));
                update(md, firstBytes);
            }
            return HexFormat.of().formatHex(md.digest(), 0, 16);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static void update(MessageDigest md, byte[][] bytes) {
        for (byte[] b : bytes) {
            int len = b == null ? -1 : b.length;
            md.update(new byte[] {(byte) (len >>> 24), (byte) (len >>> 16), (byte) (len >>> 8), (byte) len});
            if (b != null) {
                md.update(b);
            }
        }
    }
}
