package io.spindle.sampling.constraint;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.networknt.schema.Error;
import com.networknt.schema.InputFormat;
import com.networknt.schema.Schema;
import com.networknt.schema.SchemaRegistry;
import com.networknt.schema.SpecificationVersion;
import io.spindle.runtime.demo.Gpt2TokenizerJson;
import io.spindle.text.TokenBytes;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.List;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** On GPT-2's real 50,257-token byte-level BPE vocabulary (the demo tokenizer's). */
class ConstraintTest {
    static final ObjectMapper JSON = new ObjectMapper();
    static final int EOS = Gpt2TokenizerJson.END_OF_TEXT_ID;
    static final TokenVocabulary vocabulary = gpt2();

    private static TokenVocabulary gpt2() {
        try {
            return TokenBytes.fromJson(Gpt2TokenizerJson.build(JSON), 50257, new int[] {EOS});
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    static CompiledConstraint compile(ConstraintSpec spec) {
        return ConstraintCompiler.compileUncached(spec, vocabulary);
    }

    @ParameterizedTest
    @ValueSource(strings = {"\\d{3}-\\d{4}", "[a-z]+@[a-z]+\\.(com|org)", "^(yes|no|maybe)$", "café|naïve|über",
            "[中文字]{1,5}", "🙂+x?", ".{1,8}", "[^a-z]{2,6}", "(?:ab)*c?", "[😀-🙏]{2}é", "\\w+\\s\\w+"})
    void regexWalksMatchThePattern(String regex) {
        CompiledConstraint c = compile(new ConstraintSpec.Regex(regex));
        Pattern p = Pattern.compile(regex);
        ConstraintWalker w = new ConstraintWalker(c, regex.hashCode());
        for (int trial = 0; trial < 150; trial++) {
            String out = w.walk(400);
            assertTrue(p.matcher(out).matches(), regex + " does not match " + out);
        }
    }

    @Test
    void multiByteCharactersCanBeBuiltFromPartialTokens() {
        // 🙂 is F0 9F 99 82: GPT-2 has tokens for some of its bytes only; the walk must still reach it.
        CompiledConstraint c = compile(new ConstraintSpec.Regex("🙂"));
        ConstraintState st = c.start();
        int[] first = ConstraintWalker.ids(st.allowedTokens(), vocabulary.size());
        assertTrue(first.length >= 1);
        for (int id : first) {
            byte[] b = vocabulary.bytes(id);
            assertTrue(b.length <= 4 && (b[0] & 0xFF) == 0xF0, "only prefixes of 🙂's bytes are allowed");
        }
        assertEquals("🙂", new ConstraintWalker(c, 1).walk(10));
    }

    @Test
    void choicesAreReproducedExactly() {
        List<String> choices = List.of("positive", "negative", "neutral", "中立 😐", "é", "a", "ab");
        CompiledConstraint c = compile(new ConstraintSpec.Choice(choices));
        ConstraintWalker w = new ConstraintWalker(c, 7);
        java.util.Set<String> seen = new java.util.HashSet<>();
        for (int trial = 0; trial < 300; trial++) {
            String out = w.walk(50);
            assertTrue(choices.contains(out), out);
            seen.add(out);
        }
        assertTrue(seen.size() >= 5, "random walks reach most choices: " + seen);
    }

    @Test
    void eosIsForcedWhenCompleteAndWithheldBefore() {
        CompiledConstraint c = compile(new ConstraintSpec.Choice(List.of("yes", "yes!")));
        ConstraintState st = c.start();
        assertTrue(!st.allowsEos() && !st.isAllowed(EOS));
        st.advance(id("yes"));
        assertTrue(st.allowsEos() && !st.isComplete(), "\"yes\" accepts but \"!\" may follow");
        assertTrue(st.isAllowed(id("!")) && st.isAllowed(EOS));
        st.advance(id("!"));
        assertTrue(st.isComplete());
        assertEquals(List.of(EOS), java.util.Arrays.stream(ConstraintWalker.ids(st.allowedTokens(), vocabulary.size())).boxed().toList());
        float[] logits = new float[vocabulary.size()];
        st.maskLogits(logits, logits.length);
        for (int i = 0; i < logits.length; i++) {
            assertEquals(i == EOS ? 0f : Float.NEGATIVE_INFINITY, logits[i]);
        }
        assertThrows(IllegalStateException.class, () -> c.start().advance(EOS));
        assertThrows(IllegalStateException.class, () -> c.start().advance(id("no")));
    }

    @Test
    void aTokenMayCloseAStringAndOpenTheNextKey() {
        CompiledConstraint c = compile(new ConstraintSpec.JsonSchema(
                "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"string\"},\"b\":{\"type\":\"integer\"}},\"required\":[\"a\",\"b\"]}"));
        ConstraintState st = c.start();
        for (String piece : new String[] {"{\"", "a", "\":\"", "x"}) {
            st.advance(id(piece));
        }
        int closeAndComma = id("\",\"");
        assertTrue(st.isAllowed(closeAndComma), "the token \\\",\\\" ends the value and starts the next key");
        st.advance(closeAndComma);
        st.advance(id("b"));
        assertTrue(!st.isAllowed(id("\":\"")), "b is an integer, not a string");
    }

    @Test
    void badConstraintsAreRejectedWithTheirReason() {
        assertMessage(new ConstraintSpec.Choice(List.of()), "empty");
        assertMessage(new ConstraintSpec.Regex("\\uD800"), "cannot match");
        assertMessage(new ConstraintSpec.Regex("a(?=b)"), "lookaround");
        assertMessage(new ConstraintSpec.Regex("(a)\\1"), "backreferences");
        assertMessage(new ConstraintSpec.Regex("a{3,2}"), "maximum below");
        assertMessage(new ConstraintSpec.JsonSchema("{\"type\":\"number\",\"minimum\":3}"), "minimum/maximum on a number");
        assertMessage(new ConstraintSpec.JsonSchema("{\"type\":\"integer\",\"minimum\":3.5,\"maximum\":3.9}"), "no integer");
        assertMessage(new ConstraintSpec.JsonSchema("{\"type\":\"integer\",\"multipleOf\":3}"), "\"multipleOf\"");
        assertMessage(new ConstraintSpec.JsonSchema("{\"oneOf\":[{\"type\":\"string\"}]}"), "\"oneOf\"");
        assertMessage(new ConstraintSpec.JsonSchema("{\"type\":\"strnig\"}"), "unknown type");
        assertMessage(new ConstraintSpec.JsonSchema("{\"type\":"), "not valid JSON");
        assertMessage(new ConstraintSpec.JsonSchema("{\"type\":\"string\",\"format\":\"email\"}"), "format \"email\"");
        assertMessage(new ConstraintSpec.JsonSchema("{\"type\":\"object\",\"required\":[\"x\"],\"properties\":{}}"), "\"x\"");
        assertMessage(new ConstraintSpec.JsonSchema(
                "{\"$defs\":{\"n\":{\"type\":\"object\",\"properties\":{\"next\":{\"$ref\":\"#/$defs/n\"}}}},\"$ref\":\"#/$defs/n\"}"),
                "recursive");
        assertMessage(new ConstraintSpec.JsonSchema("{\"type\":\"string\",\"pattern\":\"^[0-9]+$\",\"maxLength\":0,\"minLength\":0}"),
                "no string");
    }

    private static void assertMessage(ConstraintSpec spec, String part) {
        ConstraintException e = assertThrows(ConstraintException.class, () -> compile(spec));
        assertTrue(e.getMessage().contains(part), "\"" + e.getMessage() + "\" should mention " + part);
    }

    @Test
    void theCacheReturnsTheCompiledConstraintAndStaysBounded() {
        ConstraintCompiler compiler = new ConstraintCompiler(2);
        CompiledConstraint a = compiler.compile(new ConstraintSpec.Regex("a+"), vocabulary);
        assertSame(a, compiler.compile(new ConstraintSpec.Regex("a+"), vocabulary));
        assertEquals(1, compiler.cacheHits());
        compiler.compile(new ConstraintSpec.Regex("b+"), vocabulary);
        compiler.compile(new ConstraintSpec.Choice(List.of("a+")), vocabulary);
        assertEquals(2, compiler.cacheSize());
        assertTrue(a != compiler.compile(new ConstraintSpec.Regex("a+"), vocabulary), "the least recently used was evicted");
    }

    static int id(String text) {
        byte[] want = text.getBytes(java.nio.charset.StandardCharsets.UTF_8);
        for (int i = 0; i < vocabulary.size(); i++) {
            if (java.util.Arrays.equals(want, vocabulary.bytes(i))) {
                return i;
            }
        }
        throw new AssertionError("no single token for " + text);
    }

    static Schema validator(String schemaJson) {
        return SchemaRegistry.withDefaultDialect(SpecificationVersion.DRAFT_2020_12).getSchema(schemaJson, InputFormat.JSON);
    }

    static void assertValid(Schema schema, String out) {
        List<Error> errors = schema.validate(out, InputFormat.JSON,
                ctx -> ctx.executionConfig(c -> c.formatAssertionsEnabled(true)));
        assertTrue(errors.isEmpty(), out + " fails its schema: " + errors);
    }

    static JsonNode parse(String out) {
        try {
            return JSON.readTree(out);
        } catch (Exception e) {
            throw new AssertionError("not JSON: " + out, e);
        }
    }
}
