package io.spindle.runtime.demo;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * Builds a T5-style {@code tokenizer.json}: a SentencePiece Unigram model with {@code ▁} word
 * boundaries (Metaspace), byte fallback so that any text round-trips, {@code </s>} appended by the
 * post-processor, and T5's special ids (pad 0, eos 1, unk 2). The pieces are GPT-2's most frequent
 * BPE tokens (from the ranks JTokkit ships), scored by a Zipf law on their rank, so the demo
 * tokenizes English into word-sized pieces as a trained one would.
 */
public final class T5TokenizerJson {
    public static final int PAD_ID = 0;
    public static final int EOS_ID = 1;
    public static final int UNK_ID = 2;
    public static final String PAD = "<pad>";
    public static final String EOS = "</s>";
    public static final String UNK = "<unk>";
    private static final String SPACE = "\u2581";

    private T5TokenizerJson() {
    }

    /** A tokenizer of exactly {@code vocabSize} entries: the specials, 256 byte pieces, then word pieces. */
    public static ObjectNode build(ObjectMapper json, int vocabSize) throws IOException {
        ObjectNode root = json.createObjectNode();
        root.put("version", "1.0");
        root.putNull("truncation");
        root.putNull("padding");
        ArrayNode added = root.putArray("added_tokens");
        for (Object[] t : new Object[][] {{PAD_ID, PAD}, {EOS_ID, EOS}, {UNK_ID, UNK}}) {
            added.addObject().put("id", (Integer) t[0]).put("content", (String) t[1]).put("single_word", false)
                    .put("lstrip", false).put("rstrip", false).put("normalized", false).put("special", true);
        }
        root.putNull("normalizer");
        root.set("pre_tokenizer", metaspace(json));
        ObjectNode post = root.putObject("post_processor");
        post.put("type", "TemplateProcessing");
        ArrayNode single = post.putArray("single");
        single.addObject().putObject("Sequence").put("id", "A").put("type_id", 0);
        single.addObject().putObject("SpecialToken").put("id", EOS).put("type_id", 0);
        ArrayNode pair = post.putArray("pair");
        pair.addObject().putObject("Sequence").put("id", "A").put("type_id", 0);
        pair.addObject().putObject("SpecialToken").put("id", EOS).put("type_id", 0);
        pair.addObject().putObject("Sequence").put("id", "B").put("type_id", 0);
        pair.addObject().putObject("SpecialToken").put("id", EOS).put("type_id", 0);
        ObjectNode eos = post.putObject("special_tokens").putObject(EOS);
        eos.put("id", EOS);
        eos.putArray("ids").add(EOS_ID);
        eos.putArray("tokens").add(EOS);
        ObjectNode decoder = root.putObject("decoder");
        decoder.put("type", "Sequence");
        ArrayNode decoders = decoder.putArray("decoders");
        decoders.addObject().put("type", "ByteFallback");
        decoders.add(metaspace(json));

        ObjectNode model = root.putObject("model");
        model.put("type", "Unigram");
        model.put("unk_id", UNK_ID);
        model.put("byte_fallback", true);
        ArrayNode vocab = model.putArray("vocab");
        vocab.addArray().add(PAD).add(0.0);
        vocab.addArray().add(EOS).add(0.0);
        vocab.addArray().add(UNK).add(0.0);
        for (int b = 0; b < 256; b++) {
            vocab.addArray().add(String.format("<0x%02X>", b)).add(0.0);
        }
        int rank = 0;
        for (String piece : pieces(vocabSize - vocab.size())) {
            vocab.addArray().add(piece).add(-Math.log(rank++ + 2.0));
        }
        return root;
    }

    private static ObjectNode metaspace(ObjectMapper json) {
        ObjectNode n = json.createObjectNode();
        n.put("type", "Metaspace");
        n.put("replacement", SPACE);
        n.put("prepend_scheme", "always");
        n.put("split", true);
        return n;
    }

    /** Single characters first (so that ASCII never needs byte fallback), then frequent words and subwords. */
    private static Set<String> pieces(int count) throws IOException {
        Set<String> out = new LinkedHashSet<>();
        out.add(SPACE);
        for (char c = '!'; c <= '~'; c++) {
            out.add(String.valueOf(c));
            out.add(SPACE + c);
        }
        List<byte[]> tokens = Gpt2TokenizerJson.tokensByRank();
        var utf8 = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                .onUnmappableCharacter(CodingErrorAction.REPORT);
        for (int r = 256; r < tokens.size() && out.size() < count; r++) {
            String text;
            try {
                text = utf8.decode(ByteBuffer.wrap(tokens.get(r))).toString();
            } catch (CharacterCodingException e) {
                continue;
            }
            String body = text.startsWith(" ") ? text.substring(1) : text;
            if (body.isEmpty() || body.codePoints().anyMatch(cp -> Character.isWhitespace(cp) || Character.isISOControl(cp))) {
                continue;
            }
            out.add(text.startsWith(" ") ? SPACE + body : body);
        }
        if (out.size() < count) {
            throw new IOException("only " + out.size() + " pieces for a vocabulary of " + count);
        }
        return out;
    }
}
