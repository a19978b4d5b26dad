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
 * constrained decoding needs them ({@link TokenVocabulary}): the text the client receives, so the
 * rules follow the tokenizer's decoder.
 *
 * <ul>
 *   <li>Byte-level BPE (GPT-2: a {@code ByteLevel} decoder): each character of a vocabulary entry stands for one
 *       byte through GPT-2's byte-to-unicode table; a token may hold part of a UTF-8 character.</li>
 *   <li>SentencePiece (T5's Unigram, Llama's BPE: {@code Metaspace} or a {@code Replace} of {@code ▁}): a piece is its
 *       text with {@code ▁} as a space, in UTF-8; with a {@code ByteFallback} decoder, {@code <0xNN>} pieces are that
 *       one byte. The output's first token is decoded differently, and the vocabulary carries that as its first-token
 *       view: a {@code Metaspace} decoder that prepends (prepend_scheme {@code always}/{@code first}, legacy
 *       {@code add_prefix_space: true}, the default) drops every {@code ▁} of the first piece (byte pieces are kept:
 *       a {@code <0x20>} first stays a space); a {@code Strip} of leading spaces after {@code Fuse} (Llama) drops that
 *       many leading spaces of the first token, whatever piece they come from.</li>
 * </ul>
 * Added tokens (special or not: {@code <pad>}, {@code </s>}, {@code <unk>}, T5's {@code <extra_id_N>} sentinels) and
 * the Unigram model's unknown piece have no bytes: constrained text never contains them; the EOS ids come from the
 * model's config.
 */
public final class TokenBytes {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final char METASPACE = '\u2581';

    private TokenBytes() {
    }

    public static TokenVocabulary read(Path tokenizerJson, int vocabSize, int[] eosIds) throws IOException {
        return fromJson(JSON.readTree(tokenizerJson.toFile()), vocabSize, eosIds);
    }

    /**
     * @throws IllegalArgumentException when the file has no vocabulary this class can read
     */
    public static TokenVocabulary fromJson(JsonNode root, int vocabSize, int[] eosIds) {
        JsonNode model = root.path("model");
        JsonNode vocab = model.path("vocab");
        JsonNode decoder = root.path("decoder");
        boolean byteLevel = mentions(decoder, "ByteLevel") || mentions(root.path("pre_tokenizer"), "ByteLevel");
        boolean byteFallback = mentions(decoder, "ByteFallback");
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
        int maxId = -1;
        for (Map.Entry<String, Integer> e : entries) {
            maxId = Math.max(maxId, e.getValue());
        }
        byte[][] bytes = new byte[Math.min(vocabSize, maxId + 1)][];
        byte[][] first = null;
        int[] byteOf = byteLevel ? unicodeToByte() : null;
        FirstToken rule = byteLevel ? FirstToken.NONE : FirstToken.of(decoder);
        if (rule != FirstToken.NONE) {
            first = new byte[bytes.length][];
        }
        for (Map.Entry<String, Integer> e : entries) {
            int id = e.getValue();
            if (id < 0 || id >= bytes.length) {
                continue;
            }
            if (byteLevel) {
                bytes[id] = byteLevelBytes(e.getKey(), byteOf);
                continue;
            }
            byte[] fallback = byteFallback ? fallbackByte(e.getKey()) : null;
            bytes[id] = fallback != null ? fallback : e.getKey().replace(METASPACE, ' ').getBytes(StandardCharsets.UTF_8);
            if (first != null) {
                first[id] = rule.first(e.getKey(), bytes[id], fallback != null);
            }
        }
        int unk = model.path("unk_id").asInt(-1);
        if ("Unigram".equals(model.path("type").asText()) && unk >= 0 && unk < bytes.length) {
            bytes[unk] = null;
            if (first != null) {
                first[unk] = null;
            }
        }
        for (JsonNode added : root.path("added_tokens")) {
            int id = added.path("id").asInt(-1);
            if (id >= 0 && id < bytes.length) {
                bytes[id] = null;
                if (first != null) {
                    first[id] = null;
                }
            }
        }
        return new TokenVocabulary(vocabSize, bytes, first, eosIds);
    }

    /** What a SentencePiece decoder does to the output's first token. */
    private record FirstToken(boolean dropMetaspace, int stripSpaces) {
        static final FirstToken NONE = new FirstToken(false, 0);

        static FirstToken of(JsonNode decoder) {
            JsonNode metaspace = find(decoder, "Metaspace");
            boolean drop = metaspace != null && prepends(metaspace);
            int strip = 0;
            boolean fused = false;
            for (JsonNode d : decoder.has("decoders") ? decoder.path("decoders") : java.util.List.of(decoder)) {
                fused |= "Fuse".equals(d.path("type").asText());
                if (fused && "Strip".equals(d.path("type").asText()) && " ".equals(d.path("content").asText())) {
                    strip = Math.max(0, d.path("start").asInt(0));
                }
            }
            return drop || strip > 0 ? new FirstToken(drop, strip) : NONE;
        }

        /** Whether a Metaspace decoder drops the first token's ▁ (it does unless told never to prepend one). */
        private static boolean prepends(JsonNode metaspace) {
            if (metaspace.has("prepend_scheme")) {
                return !"never".equals(metaspace.path("prepend_scheme").asText());
            }
            return metaspace.path("add_prefix_space").asBoolean(true);
        }

        byte[] first(String piece, byte[] bytes, boolean bytePiece) {
            byte[] b = bytes;
            if (dropMetaspace && !bytePiece && piece.indexOf(METASPACE) >= 0) {
                b = piece.replace(String.valueOf(METASPACE), "").getBytes(StandardCharsets.UTF_8);
            }
            int cut = 0;
            while (cut < stripSpaces && cut < b.length && b[cut] == ' ') {
                cut++;
            }
            return cut == 0 ? b : java.util.Arrays.copyOfRange(b, cut, b.length);
        }
    }

    private static JsonNode find(JsonNode node, String type) {
        if (type.equals(node.path("type").asText())) {
            return node;
        }
        for (JsonNode child : node.path(node.has("decoders") ? "decoders" : "pretokenizers")) {
            JsonNode found = find(child, type);
            if (found != null) {
                return found;
            }
        }
        return null;
    }

    /** The byte of a {@code <0xNN>} byte-fallback piece, or null for any other piece. */
    private static byte[] fallbackByte(String piece) {
        if (piece.length() == 6 && piece.startsWith("<0x") && piece.endsWith(">")) {
            try {
                return new byte[] {(byte) Integer.parseInt(piece.substring(3, 5), 16)};
            } catch (NumberFormatException e) {
                return null;
            }
        }
        return null;
    }

    private static boolean mentions(JsonNode node, String type) {
        return find(node, type) != null;
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
