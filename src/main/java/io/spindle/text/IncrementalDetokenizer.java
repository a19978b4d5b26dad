package io.spindle.text;

import java.util.Arrays;

/**
 * Turns a stream of token ids into text deltas that never split a UTF-8 character: byte-level BPE
 * can spread one character over several tokens, and a decode that ends mid-character shows U+FFFD.
 * A delta is released only once the decoded text stops ending in U+FFFD, by decoding a short window
 * (from the previous release point) rather than the whole sequence, so each step costs O(window).
 * The deltas concatenate exactly to the decode of all tokens. Not thread-safe; one per sequence.
 */
public final class IncrementalDetokenizer {
    private static final char REPLACEMENT = '\uFFFD';

    private final TextTokenizer tokenizer;
    private int[] ids = new int[32];
    private int size;
    private int prefixOffset;
    private int readOffset;

    public IncrementalDetokenizer(TextTokenizer tokenizer) {
        this.tokenizer = tokenizer;
    }

    /** Adds a token and returns the text it completes (possibly empty). */
    public String next(int tokenId) {
        if (size == ids.length) {
            ids = Arrays.copyOf(ids, size * 2);
        }
        ids[size++] = tokenId;
        String prefix = tokenizer.decode(ids, prefixOffset, readOffset, true);
        String text = tokenizer.decode(ids, prefixOffset, size, true);
        if (text.length() > prefix.length() && text.charAt(text.length() - 1) != REPLACEMENT) {
            prefixOffset = readOffset;
            readOffset = size;
            return text.substring(prefix.length());
        }
        return "";
    }

    /** The text still held back at the end of the stream (a genuinely incomplete byte sequence, if any). */
    public String flush() {
        String prefix = tokenizer.decode(ids, prefixOffset, readOffset, true);
        String text = tokenizer.decode(ids, prefixOffset, size, true);
        prefixOffset = size;
        readOffset = size;
        return text.length() > prefix.length() ? text.substring(prefix.length()) : "";
    }
}
