package io.spindle.text;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.spindle.sampling.constraint.TokenVocabulary;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.Map;

/**
 * The bytes each token adds to the text, read from a Hugging Face {@code tokenizer.json}, as
 * constrained decoding needs them ({@link TokenVocabulary}).
 *
 * <ul>
 *   <li>Byte-level BPE (GPT-2: a {@code ByteLevel} decoder): each character of a vocabulary entry stands for one
 *       byte through GPT-2's byte-to-unicode table; a token may hold part of a UTF-8 character.</li>
 *   <li>SentencePiece (T5, Llama: {@code Metaspace}): {@code ▁} is a space, {@code <0xNN>} byte-fallback pieces are
 *       that byte. The decoder drops the first token's leading space; a constraint sees it (a known limit).</li>
 * </ul>
 * Added tokens (special or not) are left out: constrained text never contains them, except the EOS ids.
 */
public final class TokenBytes {
    private static final ObjectMapper JSON = new ObjectMapper();

    private TokenBytes() {
    }

    public static TokenVocabulary read(Path tokenizerJson, int vocabSize, int[] eosIds) throws IOException {
        return fromJson(JSON.readTree(tokenizerJson.toFile()), vocabSize, eosIds);
    }

    public static TokenVocabulary fromJson(JsonNode root, int vocabSize, int[] eosIds) {
        JsonNode vocab = root.path("model").path("vocab");
        boolean byteLevel = mentions(root.path("decoder"), "ByteLevel") || mentions(root.path("pre_tokenizer"), "ByteLevel");
        int maxId = -1;
        java.util.List<Map.Entry<String, Integer>> entries = new java.util.ArrayList<>();
        if (vocab.isObject()) {
            for (Iterator<Map.Entry<String, JsonNode>> it = vocab.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                entries.add(Map.entry(e.getKey(), e.getValue().asInt()));
            }
        } else if (vocab.isArray()) { // Unigram: [[piece, score], …] by id
            for (int i = 0; i < vocab.size(); i++) {
                entries.add(Map.entry(vocab.get(i).get(0).asText(), i));
            }
        } else {
            throw new IllegalArgumentException("tokenizer.json has no model.vocab");
        }
        for (Map.Entry<String, Integer> e : entries) {
            maxId = Math.max(maxId, e.getValue());
        }
        byte[][] bytes = new byte[Math.min(vocabSize, maxId + 1)][];
        int[] byteOf = byteLevel ? unicodeToByte() : null;
        for (Map.Entry<String, Integer> e : entries) {
            int id = e.getValue();
            if (id < bytes.length) {
                bytes[id] = byteLevel ? byteLevelBytes(e.getKey(), byteOf) : sentencePieceBytes(e.getKey());
            }
        }
        for (JsonNode added : root.path("added_tokens")) {
            int id = added.path("id").asInt(-1);
            if (id >= 0 && id < bytes.length) {
                bytes[id] = null;
            }
        }
        return new TokenVocabulary(vocabSize, bytes, eosIds);
    }

    private static boolean mentions(JsonNode node, String type) {
        if (type.equals(node.path("type").asText())) {
            return true;
        }
        for (JsonNode child : node.path(node.has("decoders") ? "decoders" : "pretokenizers")) {
            if (mentions(child, type)) {
                return true;
            }
        }
        return false;
    }

    private static byte[] byteLevelBytes(String token, int[] byteOf) {
        byte[] out = new byte[token.length()];
        for (int i = 0; i < token.length(); i++) {
            char c = token.charAt(i);
            int b = c < byteOf.length ? byteOf[c] : -1;
            if (b < 0) {
                return null; // not a byte-level entry (e.g. a special token's text)
            }
            out[i] = (byte) b;
        }
        return out;
    }

    private static byte[] sentencePieceBytes(String piece) {
        if (piece.length() == 6 && piece.startsWith("<0x") && piece.endsWith(">")) {
            return new byte[] {(byte) Integer.parseInt(piece.substring(3, 5), 16)};
        }
        if (piece.startsWith("<") && piece.endsWith(">") && piece.length() > 2) {
            return null; // control pieces: <pad>, </s>, <unk>
        }
        return piece.replace('\u2581', ' ').getBytes(StandardCharsets.UTF_8);
    }

    /** The inverse of GPT-2's bytes_to_unicode: printable Latin-1 bytes map to themselves, the rest to U+0100 onwards. */
    static int[] unicodeToByte() {
        int[] byteOf = new int[0x200];
        java.util.Arrays.fill(byteOf, -1);
        int n = 0;
        for (int b = 0; b < 256; b++) {
            boolean printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            if (printable) {
                byteOf[b] = b;
            } else {
                byteOf[256 + n++] = b;
            }
        }
        return byteOf;
    }
}
