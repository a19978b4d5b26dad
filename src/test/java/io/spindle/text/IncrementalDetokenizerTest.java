package io.spindle.text;

import io.spindle.runtime.demo.DemoLayout;
import io.spindle.testing.TestModels;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Runs on the real GPT-2 byte-level BPE, which splits multi-byte characters across tokens. */
class IncrementalDetokenizerTest {
    private static TextTokenizer tokenizer;

    @BeforeAll
    static void load() throws Exception {
        tokenizer = TextTokenizer.load(TestModels.tiny(DemoLayout.OPTIMUM).resolve("tokenizer.json"));
    }

    @AfterAll
    static void close() {
        tokenizer.close();
    }

    @ParameterizedTest
    @ValueSource(strings = {"Hello 🙂 world", "日本語のテキストと中文", "café naïve — “quotes” 👩‍👩‍👧‍👦 family", "🦀🦀🦀", "plain ascii"})
    void deltasNeverBreakACharacterAndConcatenateToTheWholeDecode(String text) {
        int[] ids = tokenizer.encode(text);
        IncrementalDetokenizer d = new IncrementalDetokenizer(tokenizer);
        StringBuilder out = new StringBuilder();
        int held = 0;
        for (int id : ids) {
            String delta = d.next(id);
            assertFalse(delta.contains("\uFFFD"), "delta " + delta + " holds a broken character");
            held += delta.isEmpty() ? 1 : 0;
            out.append(delta);
        }
        out.append(d.flush());
        assertEquals(tokenizer.decode(ids), out.toString());
        assertEquals(text, out.toString());
        if (text.startsWith("🦀")) {
            assertTrue(held > 0, "a 4-byte emoji spans several byte-level tokens, so some deltas are held back");
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"Hello world", "Привет мир"})
    void tokenizerRoundTripsText(String text) {
        assertEquals(text, tokenizer.decode(tokenizer.encode(text)));
    }
}
