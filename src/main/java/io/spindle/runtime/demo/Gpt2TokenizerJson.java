package io.spindle.runtime.demo;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Builds a Hugging Face {@code tokenizer.json} for GPT-2's byte-level BPE from the {@code r50k_base}
 * ranks that JTokkit ships, the same derivation transformers uses to convert tiktoken files: every
 * token is a vocabulary entry at its rank, and each split of a token into two vocabulary tokens is a
 * merge ranked by the merged token.
 */
public final class Gpt2TokenizerJson {
    public static final String END_OF_TEXT = "<|endoftext|>";
    public static final int END_OF_TEXT_ID = 50256;
    private static final String RANKS_RESOURCE = "/com/knuddels/jtokkit/r50k_base.tiktoken";

    private Gpt2TokenizerJson() {
    }

    public static ObjectNode build(ObjectMapper json) throws IOException {
        Map<ByteKey, Integer> ranks = loadRanks();
        List<Map.Entry<ByteKey, Integer>> byRank = new ArrayList<>(ranks.entrySet());
        byRank.sort(Map.Entry.comparingByValue());
        String[] byteToChar = byteLevelAlphabet();

        ObjectNode vocab = json.createObjectNode();
        List<String[]> merges = new ArrayList<>();
        for (Map.Entry<ByteKey, Integer> e : byRank) {
            byte[] token = e.getKey().bytes;
            vocab.put(toUnicode(token, byteToChar), e.getValue());
            List<byte[][]> splits = new ArrayList<>();
            for (int cut = 1; cut < token.length; cut++) {
                byte[] left = java.util.Arrays.copyOfRange(token, 0, cut);
                byte[] right = java.util.Arrays.copyOfRange(token, cut, token.length);
                if (ranks.containsKey(new ByteKey(left)) && ranks.containsKey(new ByteKey(right))) {
                    splits.add(new byte[][] {left, right});
                }
            }
            splits.sort(Comparator.<byte[][]>comparingInt(s -> ranks.get(new ByteKey(s[0])))
                    .thenComparingInt(s -> ranks.get(new ByteKey(s[1]))));
            for (byte[][] s : splits) {
                merges.add(new String[] {toUnicode(s[0], byteToChar), toUnicode(s[1], byteToChar)});
            }
        }
        vocab.put(END_OF_TEXT, END_OF_TEXT_ID);

        ObjectNode root = json.createObjectNode();
        root.put("version", "1.0");
        root.putNull("truncation");
        root.putNull("padding");
        ArrayNode added = root.putArray("added_tokens");
        added.addObject().put("id", END_OF_TEXT_ID).put("content", END_OF_TEXT).put("single_word", false)
                .put("lstrip", false).put("rstrip", false).put("normalized", true).put("special", true);
        root.putNull("normalizer");
        root.set("pre_tokenizer", byteLevel(json, false));
        root.set("post_processor", byteLevel(json, true).put("trim_offsets", false));
        root.set("decoder", byteLevel(json, true));
        ObjectNode model = root.putObject("model");
        model.put("type", "BPE");
        model.putNull("dropout");
        model.putNull("unk_token");
        model.put("continuing_subword_prefix", "");
        model.put("end_of_word_suffix", "");
        model.put("fuse_unk", false);
        model.put("byte_fallback", false);
        model.set("vocab", vocab);
        ArrayNode mergeArray = model.putArray("merges");
        for (String[] m : merges) {
            mergeArray.add(m[0] + " " + m[1]);
        }
        return root;
    }

    private static ObjectNode byteLevel(ObjectMapper json, boolean addPrefixSpace) {
        ObjectNode n = json.createObjectNode();
        n.put("type", "ByteLevel");
        n.put("add_prefix_space", addPrefixSpace);
        n.put("trim_offsets", true);
        n.put("use_regex", true);
        return n;
    }

    /** GPT-2's BPE tokens as bytes, most frequent merge first (index = rank). */
    static List<byte[]> tokensByRank() throws IOException {
        Map<ByteKey, Integer> ranks = loadRanks();
        byte[][] out = new byte[ranks.size()][];
        ranks.forEach((k, r) -> out[r] = k.bytes);
        return java.util.Arrays.asList(out);
    }

    private static Map<ByteKey, Integer> loadRanks() throws IOException {
        Map<ByteKey, Integer> ranks = new HashMap<>();
        try (InputStream in = Gpt2TokenizerJson.class.getResourceAsStream(RANKS_RESOURCE)) {
            if (in == null) {
                throw new IOException("GPT-2 BPE ranks " + RANKS_RESOURCE + " not on the classpath (jtokkit missing?)");
            }
            BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.US_ASCII));
            for (String line; (line = r.readLine()) != null; ) {
                int sp = line.indexOf(' ');
                if (sp > 0) {
                    ranks.put(new ByteKey(Base64.getDecoder().decode(line.substring(0, sp))),
                            Integer.parseInt(line.substring(sp + 1).trim()));
                }
            }
        }
        return ranks;
    }

    /** GPT-2's bytes_to_unicode: printable bytes map to themselves, the rest to U+0100 onwards. */
    static String[] byteLevelAlphabet() {
        String[] map = new String[256];
        int next = 0;
        for (int b = 0; b < 256; b++) {
            boolean printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            map[b] = printable ? String.valueOf((char) b) : String.valueOf((char) (256 + next++));
        }
        return map;
    }

    private static String toUnicode(byte[] bytes, String[] byteToChar) {
        StringBuilder sb = new StringBuilder(bytes.length);
        for (byte b : bytes) {
            sb.append(byteToChar[b & 0xFF]);
        }
        return sb.toString();
    }

    private record ByteKey(byte[] bytes) {
        @Override
        public boolean equals(Object o) {
            return o instanceof ByteKey k && java.util.Arrays.equals(bytes, k.bytes);
        }

        @Override
        public int hashCode() {
            return java.util.Arrays.hashCode(bytes);
        }
    }

}
