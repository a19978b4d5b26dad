package io.spindle.text;

import ai.djl.huggingface.tokenizers.Encoding;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.BitSet;
import java.util.Map;

/**
 * A Hugging Face {@code tokenizer.json}, through DJL's binding of the Rust tokenizers library.
 * Thread-safe: the native tokenizer is immutable after loading.
 */
public final class TextTokenizer implements AutoCloseable {
    private static final ObjectMapper JSON = new ObjectMapper();

    private final HuggingFaceTokenizer tokenizer;
    private final BitSet special;
    /** Added tokens (special or not) by their text, e.g. [MASK] → 103. */
    private final Map<String, Integer> added;

    private TextTokenizer(HuggingFaceTokenizer tokenizer, BitSet special, Map<String, Integer> added) {
        this.tokenizer = tokenizer;
        this.special = special;
        this.added = added;
    }

    public static TextTokenizer load(Path tokenizerJson) throws IOException {
        if (!Files.isRegularFile(tokenizerJson)) {
            throw new IOException(tokenizerJson + ": file not found");
        }
        BitSet special = new BitSet();
        Map<String, Integer> added = new java.util.HashMap<>();
        JsonNode root;
        try {
            root = JSON.readTree(tokenizerJson.toFile());
        } catch (IOException e) {
            throw new IOException(tokenizerJson + ": malformed JSON: " + e.getMessage(), e);
        }
        for (JsonNode token : root.path("added_tokens")) {
            added.put(token.path("content").asText(), token.path("id").asInt());
            if (token.path("special").asBoolean(false)) {
                special.set(token.path("id").asInt());
            }
        }
        try {
            // No truncation or padding: the server validates lengths itself and reports them.
            HuggingFaceTokenizer t = HuggingFaceTokenizer.newInstance(tokenizerJson,
                    Map.of("addSpecialTokens", "false", "truncation", "false", "padding", "false",
                            "modelMaxLength", String.valueOf(Integer.MAX_VALUE)));
            return new TextTokenizer(t, special, Map.copyOf(added));
        } catch (IOException | RuntimeException e) {
            throw new IOException(tokenizerJson + ": the tokenizer library cannot load it: " + e.getMessage(), e);
        }
    }

    public int[] encode(String text) {
        return encode(text, false);
    }

    /**
     * Token ids of {@code text}; with {@code addSpecialTokens}, wrapped as the tokenizer's
     * post-processor says (for BERT: [CLS] … [SEP]), as encoders expect their input.
     */
    public int[] encode(String text, boolean addSpecialTokens) {
        Encoding enc = tokenizer.encode(text, addSpecialTokens, false);
        long[] ids = enc.getIds();
        int[] out = new int[ids.length];
        for (int i = 0; i < ids.length; i++) {
            out[i] = Math.toIntExact(ids[i]);
        }
        return out;
    }

    /** Decodes {@code ids[from, to)}; special tokens are left out when {@code skipSpecial}. */
    public String decode(int[] ids, int from, int to, boolean skipSpecial) {
        long[] l = new long[to - from];
        for (int i = from; i < to; i++) {
            l[i - from] = ids[i];
        }
        return tokenizer.decode(l, skipSpecial);
    }

    public String decode(int[] ids) {
        return decode(ids, 0, ids.length, true);
    }

    /** The id of an added token (e.g. {@code [MASK]}), if the tokenizer has it. */
    public java.util.OptionalInt addedTokenId(String content) {
        Integer id = content == null ? null : added.get(content);
        return id == null ? java.util.OptionalInt.empty() : java.util.OptionalInt.of(id);
    }

    public boolean isSpecial(int tokenId) {
        return special.get(tokenId);
    }

    @Override
    public void close() {
        tokenizer.close();
    }
}
