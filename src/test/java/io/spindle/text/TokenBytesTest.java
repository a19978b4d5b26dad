package io.spindle.text;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.spindle.runtime.demo.Gpt2TokenizerJson;
import io.spindle.sampling.constraint.TokenVocabulary;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The bytes constrained decoding assigns to each GPT-2 token are the ones the real tokenizer decodes to. */
class TokenBytesTest {
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
