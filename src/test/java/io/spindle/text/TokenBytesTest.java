package io.spindle.text;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.spindle.runtime.demo.Gpt2TokenizerJson;
import io.spindle.runtime.demo.T5TokenizerJson;
import io.spindle.sampling.constraint.TokenVocabulary;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The bytes constrained decoding assigns to each token are the ones the real tokenizer decodes to: GPT-2's
 * byte-level BPE, and SentencePiece vocabularies (the demo T5's, a real-T5-style one without byte fallback and
 * with sentinels, a Llama-style decoder, one that never prepends), including what each decoder makes of the
 * output's first token.
 */
class TokenBytesTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int T5_PIECES = 4096;
    private static final int SENTINELS = 4;

    /** SentencePiece tokenizer.json variants, all over the demo T5's pieces (ids are the same in each). */
    enum Piece {
        /** The demo's: Unigram with byte fallback, decoder ByteFallback then Metaspace (prepend_scheme always). */
        T5_DEMO,
        /** As t5-small's: legacy Metaspace (add_prefix_space) alone, no byte fallback, {@code <extra_id_N>} sentinels. */
        T5_NO_FALLBACK,
        /** Llama's decoder: Replace ▁ by a space, ByteFallback, Fuse, Strip one leading space. */
        LLAMA_STRIP,
        /** A Metaspace that never prepends: the first token is decoded like the others. */
        NEVER_PREPENDS;

        ObjectNode json() throws Exception {
            ObjectNode root = T5TokenizerJson.build(JSON, T5_PIECES);
            ObjectNode metaspace = JSON.createObjectNode().put("type", "Metaspace").put("replacement", "\u2581");
            switch (this) {
                case T5_DEMO -> {
                }
                case T5_NO_FALLBACK -> {
                    metaspace.put("add_prefix_space", true);
                    root.set("decoder", metaspace);
                    root.set("pre_tokenizer", metaspace);
                    ((ObjectNode) root.get("model")).put("byte_fallback", false);
                    ArrayNode added = (ArrayNode) root.get("added_tokens");
                    for (int i = 0; i < SENTINELS; i++) {
                        added.addObject().put("id", T5_PIECES + i).put("content", "<extra_id_" + (SENTINELS - 1 - i) + ">")
                                .put("single_word", false).put("lstrip", false).put("rstrip", false)
                                .put("normalized", false).put("special", true);
                    }
                }
                case LLAMA_STRIP -> {
                    ObjectNode d = root.putObject("decoder").put("type", "Sequence");
                    ArrayNode list = d.putArray("decoders");
                    list.addObject().put("type", "Replace").put("content", " ").putObject("pattern").put("String", "\u2581");
                    list.addObject().put("type", "ByteFallback");
                    list.addObject().put("type", "Fuse");
                    list.addObject().put("type", "Strip").put("content", " ").put("start", 1).put("stop", 0);
                }
                case NEVER_PREPENDS -> {
                    metaspace.put("prepend_scheme", "never").put("split", true);
                    ObjectNode d = root.putObject("decoder").put("type", "Sequence");
                    d.putArray("decoders").add(JSON.createObjectNode().put("type", "ByteFallback")).add(metaspace);
                }
            }
            return root;
        }
    }

    private static Path write(Path dir, ObjectNode json) throws Exception {
        Path file = dir.resolve("tokenizer.json");
        JSON.writeValue(file.toFile(), json);
        return file;
    }

    private static String utf8OrNull(byte[] b) {
        try {
            return StandardCharsets.UTF_8.newDecoder().decode(ByteBuffer.wrap(b)).toString();
        } catch (CharacterCodingException e) {
            return null; // part of a multi-byte character: the tokenizer would show U+FFFD
        }
    }

    @ParameterizedTest
    @EnumSource(Piece.class)
    void sentencePieceTokensDecodeToTheirBytesFirstAndAfterAnother(Piece variant, @TempDir Path dir) throws Exception {
        Path file = write(dir, variant.json());
        int size = T5_PIECES + SENTINELS;
        TokenVocabulary v = TokenBytes.read(file, size, new int[] {T5TokenizerJson.EOS_ID});
        assertEquals(variant != Piece.NEVER_PREPENDS, v.hasFirstTokenView(), "the decoder treats the first token apart");
        int checkedFirst = 0;
        int checkedNext = 0;
        try (TextTokenizer tokenizer = TextTokenizer.load(file)) {
            int ref = tokenizer.encode("ok")[0];
            String refText = tokenizer.decode(new int[] {ref});
            for (int id = 0; id < size; id++) {
                byte[] b = v.bytes(id);
                if (b == null) {
                    assertNull(v.firstBytes(id), "token " + id);
                    continue;
                }
                String next = utf8OrNull(b);
                if (next != null) {
                    assertEquals(refText + next, tokenizer.decode(new int[] {ref, id}), "token " + id + " after another");
                    checkedNext++;
                }
                String first = utf8OrNull(v.firstBytes(id));
                if (first != null) {
                    assertEquals(tokenizer.decode(new int[] {id}), first, "token " + id + " first");
                    checkedFirst++;
                }
            }
        }
        assertTrue(checkedNext > 3800 && checkedFirst > 3800, checkedNext + " / " + checkedFirst + " tokens checked");
    }

    @Test
    void sentencePieceMapsMetaspaceByteFallbackAndSpecials() throws Exception {
        ObjectNode root = Piece.T5_DEMO.json();
        ArrayNode pieces = (ArrayNode) root.get("model").get("vocab");
        int hello = -1;
        int bare = -1;
        for (int i = 0; i < pieces.size(); i++) {
            String p = pieces.get(i).get(0).asText();
            hello = "\u2581the".equals(p) ? i : hello;
            bare = "\u2581".equals(p) ? i : bare;
        }
        TokenVocabulary v = TokenBytes.fromJson(root, T5_PIECES, new int[] {T5TokenizerJson.EOS_ID});
        assertArrayEquals(" the".getBytes(StandardCharsets.UTF_8), v.bytes(hello), "▁ is a space");
        assertArrayEquals("the".getBytes(StandardCharsets.UTF_8), v.firstBytes(hello), "…that the decoder drops first");
        assertArrayEquals(new byte[] {' '}, v.bytes(bare));
        assertEquals(0, v.firstBytes(bare).length, "a lone ▁ first decodes to nothing");
        int a = 3 + 0x41;
        int e9 = 3 + 0xE9;
        int space = 3 + 0x20;
        assertArrayEquals(new byte[] {0x41}, v.bytes(a), "<0x41> is the byte 0x41");
        assertArrayEquals(new byte[] {(byte) 0xE9}, v.bytes(e9), "<0xE9>: one byte of a multi-byte character");
        assertArrayEquals(new byte[] {' '}, v.firstBytes(space), "a byte piece's space is kept first (it is no ▁)");
        assertNull(v.bytes(T5TokenizerJson.PAD_ID));
        assertNull(v.bytes(T5TokenizerJson.EOS_ID));
        assertNull(v.bytes(T5TokenizerJson.UNK_ID));
        assertTrue(v.isEos(T5TokenizerJson.EOS_ID));
        assertTrue(v.spellsEveryByte(), "byte fallback spells any byte");

        TokenVocabulary real = TokenBytes.fromJson(Piece.T5_NO_FALLBACK.json(), T5_PIECES + SENTINELS,
                new int[] {T5TokenizerJson.EOS_ID});
        for (int i = 0; i < SENTINELS; i++) {
            assertNull(real.bytes(T5_PIECES + i), "sentinels never appear in constrained text");
        }
        assertArrayEquals("<0x41>".getBytes(StandardCharsets.UTF_8), real.bytes(a), "without a ByteFallback decoder the piece is text");
        assertFalse(real.spellsEveryByte(), "no piece for é or a control byte");
    }

    @Test
    void byteLevelTokensDecodeToTheirBytes(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("tokenizer.json");
        ObjectMapper json = new ObjectMapper();
        json.writeValue(file.toFile(), Gpt2TokenizerJson.build(json));
        TokenVocabulary v = TokenBytes.read(file, 50257, new int[] {Gpt2TokenizerJson.END_OF_TEXT_ID});
        assertNull(v.bytes(Gpt2TokenizerJson.END_OF_TEXT_ID), "EOS has no text");
        int checked = 0;
        int partial = 0;
        try (TextTokenizer tokenizer = TextTokenizer.load(file)) {
            for (int id = 0; id < 50256; id += 7) {
                byte[] b = v.bytes(id);
                String text;
                try {
                    text = StandardCharsets.UTF_8.newDecoder().decode(ByteBuffer.wrap(b)).toString();
                } catch (CharacterCodingException e) {
                    partial++; // part of a multi-byte character: the tokenizer would show U+FFFD
                    continue;
                }
                assertEquals(tokenizer.decode(new int[] {id}), text, "token " + id);
                checked++;
            }
        }
        assertTrue(checked > 6000 && partial > 10, checked + " whole, " + partial + " partial tokens");
    }
}
