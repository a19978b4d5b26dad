package io.spindle.sampling.constraint;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.networknt.schema.Schema;
import io.spindle.runtime.demo.T5TokenizerJson;
import io.spindle.text.TokenBytes;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Constraints on SentencePiece vocabularies (the demo T5's 4,096 pieces): the text is what the decoder
 * gives the client, so the first token walks the first-token view ({@code ▁the} first is "the"); with
 * byte fallback any character can be spelled; without it (as t5-small) the tokens that cannot lead to a
 * match are masked, and a constraint the vocabulary cannot spell at all is a compile error.
 */
class ConstraintSentencePieceTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int SIZE = 4096;
    private static final int EOS = T5TokenizerJson.EOS_ID;
    static final TokenVocabulary demo = vocabulary(false);
    static final TokenVocabulary noFallback = vocabulary(true);

    private static TokenVocabulary vocabulary(boolean withoutByteFallback) {
        try {
            ObjectNode root = T5TokenizerJson.build(JSON, SIZE);
            if (withoutByteFallback) {
                // t5-small's decoder: Metaspace alone, so <0xNN> pieces are only text, and ï or 日 have no piece.
                ObjectNode metaspace = JSON.createObjectNode().put("type", "Metaspace").put("replacement", "\u2581")
                        .put("add_prefix_space", true);
                root.set("decoder", metaspace);
                ((ObjectNode) root.get("model")).put("byte_fallback", false);
            }
            return TokenBytes.fromJson(root, SIZE, new int[] {EOS});
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    private static CompiledConstraint compile(ConstraintSpec spec, TokenVocabulary v) {
        return ConstraintCompiler.compileUncached(spec, v);
    }

    private static int piece(TokenVocabulary v, String text) {
        byte[] want = text.replace('\u2581', ' ').getBytes(StandardCharsets.UTF_8);
        for (int i = 0; i < v.size(); i++) {
            if (Arrays.equals(want, v.bytes(i))) {
                return i;
            }
        }
        throw new AssertionError("no piece " + text);
    }

    @ParameterizedTest
    @ValueSource(strings = {"[0-9]{3}-[a-z]{2}", "(yes|no|maybe later)", "café|日本語|naïve", "[a-z]+( [a-z]+){1,3}",
            " [a-z]{2}", "\\{\"k\":[0-9]{1,3}\\}", "🙂+x?", ".{1,8}"})
    void regexWalksMatchOnTheDemoT5Vocabulary(String regex) {
        CompiledConstraint c = compile(new ConstraintSpec.Regex(regex), demo);
        Pattern p = Pattern.compile(regex);
        ConstraintWalker w = new ConstraintWalker(c, regex.hashCode());
        for (int trial = 0; trial < 100; trial++) {
            String out = w.walk(300);
            assertTrue(p.matcher(out).matches(), regex + " does not match '" + out + "'");
        }
    }

    @Test
    void jsonSchemaWalksValidateOnTheDemoT5Vocabulary() {
        String schemaJson = JsonConstraintTest.TOOL;
        CompiledConstraint c = compile(new ConstraintSpec.JsonSchema(schemaJson), demo);
        Schema schema = ConstraintTest.validator(schemaJson);
        ConstraintWalker w = new ConstraintWalker(c, 7);
        for (int trial = 0; trial < 60; trial++) {
            String out = w.walk(600);
            ConstraintTest.parse(out);
            ConstraintTest.assertValid(schema, out);
        }
    }

    @Test
    void theFirstTokenIsReadWithoutTheSpaceItsDecoderDrops() {
        CompiledConstraint c = compile(new ConstraintSpec.Choice(List.of("no", "yes")), demo);
        ConstraintState st = c.start();
        int spaceN = piece(demo, "\u2581n");
        int bareN = piece(demo, "n");
        int spaceO = piece(demo, "\u2581o");
        int bareO = piece(demo, "o");
        assertTrue(st.isAllowed(spaceN), "▁n first decodes to 'n'");
        assertTrue(st.isAllowed(bareN), "n first decodes to 'n'");
        assertFalse(st.isAllowed(piece(demo, "\u2581")), "a lone ▁ first decodes to nothing: not a step towards the text");
        st.advance(spaceN);
        assertTrue(st.isAllowed(bareO));
        assertFalse(st.isAllowed(spaceO), "after the first token ▁ is a space again");
        st.advance(bareO);
        assertTrue(st.isComplete(), "'no' is complete: only EOS may follow");
        assertEquals(Set.of(EOS), Set.copyOf(Arrays.stream(ConstraintWalker.ids(st.allowedTokens(), SIZE)).boxed().toList()));

        // A constraint that starts with a space needs a first token that keeps one: a <0x20> byte piece does.
        ConstraintState spaced = compile(new ConstraintSpec.Regex(" x"), demo).start();
        assertFalse(spaced.isAllowed(piece(demo, "\u2581x")), "▁x first is 'x'");
        assertTrue(spaced.isAllowed(3 + 0x20), "<0x20> first is ' '");
    }

    @Test
    void withoutByteFallbackOnlySpellableChoicesAreGenerated() {
        assertFalse(noFallback.spellsEveryByte());
        CompiledConstraint c = compile(new ConstraintSpec.Choice(List.of("naïve", "nab", "日本", "café")), noFallback);
        ConstraintWalker w = new ConstraintWalker(c, 3);
        Set<String> seen = new HashSet<>();
        for (int trial = 0; trial < 80; trial++) {
            seen.add(w.walk(50)); // the walker asserts that every step allows some token: never stuck on "na"
        }
        assertEquals(Set.of("nab", "café"), seen, "ï and 日本 have no piece and no byte fallback (é has one)");

        // A choice whose every option needs a missing character, or a regex that does, is a clear error.
        for (ConstraintSpec spec : List.<ConstraintSpec>of(new ConstraintSpec.Choice(List.of("naïve", "日本")),
                new ConstraintSpec.Regex("[ï日]+"))) {
            ConstraintException e = assertThrows(ConstraintException.class, () -> compile(spec, noFallback));
            assertTrue(e.getMessage().contains("cannot spell"), e.getMessage());
        }
        // With byte fallback the same choice is generated from <0xNN> pieces.
        ConstraintWalker fallback = new ConstraintWalker(compile(new ConstraintSpec.Choice(List.of("café", "日本")), demo), 5);
        Set<String> both = new HashSet<>();
        for (int trial = 0; trial < 60; trial++) {
            both.add(fallback.walk(50));
        }
        assertEquals(Set.of("café", "日本"), both);
    }

    @Test
    void withoutByteFallbackJsonStillValidates() {
        String schemaJson = JsonConstraintTest.TOOL;
        compile(new ConstraintSpec.JsonSchema(schemaJson), noFallback); // warm-up
        long t0 = System.nanoTime();
        CompiledConstraint c = compile(new ConstraintSpec.JsonSchema(schemaJson), noFallback);
        System.out.printf("constraint json_schema without byte fallback (%d pieces, warm): %d ms in all, of which the DFA "
                + "%d ms and the token liveness the rest; %d states%n", SIZE, (System.nanoTime() - t0) / 1_000_000,
                c.compileNanos() / 1_000_000, c.numStates());
        Schema schema = ConstraintTest.validator(schemaJson);
        ConstraintWalker w = new ConstraintWalker(c, 9);
        for (int trial = 0; trial < 40; trial++) {
            ConstraintTest.assertValid(schema, w.walk(600));
        }
    }
}
