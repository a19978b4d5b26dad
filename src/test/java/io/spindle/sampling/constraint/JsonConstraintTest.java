package io.spindle.sampling.constraint;

import com.fasterxml.jackson.databind.JsonNode;
import com.networknt.schema.Schema;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.List;

import static io.spindle.sampling.constraint.ConstraintTest.compile;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Random walks under JSON Schemas and json_object parse and validate (networknt); cost figures are printed. */
class JsonConstraintTest {
    static final String TOOL = """
            {"type":"object","properties":{
              "city":{"type":"string","description":"the city"},
              "unit":{"type":"string","enum":["celsius","fahrenheit","kelvin"]},
              "days":{"type":"integer"},
              "detailed":{"type":"boolean"},
              "location":{"type":"object","properties":{"lat":{"type":"number"},"lon":{"type":"number"}},
                          "required":["lat","lon"],"additionalProperties":false}},
             "required":["city","unit","days","detailed","location"],"additionalProperties":false}""";

    @ParameterizedTest
    @ValueSource(strings = {
            TOOL,
            "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"string\"},\"b\":{\"type\":\"number\"},\"c\":{\"type\":\"null\"}}}",
            "{\"type\":\"object\",\"properties\":{\"x\":{\"type\":\"integer\"},\"y\":{\"type\":\"integer\"}},\"required\":[\"y\"]}",
            "{\"type\":\"array\",\"items\":{\"type\":\"string\",\"enum\":[\"café\",\"中文\",\"🙂 ok\",\"plain\"]},\"minItems\":1,\"maxItems\":3}",
            "{\"type\":\"object\",\"properties\":{\"tags\":{\"type\":\"array\",\"items\":{\"type\":\"string\",\"maxLength\":5}}},\"required\":[\"tags\"]}",
            "{\"anyOf\":[{\"type\":\"integer\"},{\"type\":\"object\",\"properties\":{\"k\":{\"const\":\"v\"}},\"required\":[\"k\"]}]}",
            "{\"$defs\":{\"pt\":{\"type\":\"object\",\"properties\":{\"x\":{\"type\":\"number\"},\"y\":{\"type\":\"number\"}},\"required\":[\"x\",\"y\"]}},"
                    + "\"type\":\"object\",\"properties\":{\"from\":{\"$ref\":\"#/$defs/pt\"},\"to\":{\"$ref\":\"#/$defs/pt\"}},\"required\":[\"from\",\"to\"]}",
            "{\"type\":\"object\",\"properties\":{\"id\":{\"type\":\"string\",\"format\":\"uuid\"},\"at\":{\"type\":\"string\",\"format\":\"date-time\"},"
                    + "\"day\":{\"type\":\"string\",\"format\":\"date\"},\"code\":{\"type\":\"string\",\"pattern\":\"^[A-Z]{2}-[0-9]{3}$\"},"
                    + "\"word\":{\"type\":\"string\",\"pattern\":\"é\"}},\"required\":[\"id\",\"at\",\"day\",\"code\",\"word\"]}",
            "{\"type\":[\"string\",\"null\"],\"minLength\":2,\"maxLength\":4}",
            "{\"type\":\"object\",\"properties\":{\"meta\":{\"type\":\"object\"},\"any\":{}},\"required\":[\"meta\",\"any\"]}",
            "{\"type\":\"object\",\"additionalProperties\":{\"type\":\"boolean\"}}",
            "{\"type\":\"object\",\"properties\":{\"m\":{\"type\":\"array\",\"items\":{\"type\":\"array\",\"items\":{\"type\":\"integer\"},\"maxItems\":2},\"minItems\":2,\"maxItems\":2}},\"required\":[\"m\"]}",
            "{\"type\":\"object\",\"properties\":{\"days\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":14},"
                    + "\"offset\":{\"type\":\"integer\",\"exclusiveMinimum\":-40,\"exclusiveMaximum\":-3},"
                    + "\"count\":{\"type\":\"integer\",\"minimum\":0},\"year\":{\"type\":\"integer\",\"minimum\":1900,\"maximum\":2100.5}},"
                    + "\"required\":[\"days\",\"offset\",\"count\",\"year\"],\"additionalProperties\":false}"})
    void walksParseAndValidate(String schemaJson) {
        long t0 = System.nanoTime();
        CompiledConstraint c = compile(new ConstraintSpec.JsonSchema(schemaJson));
        long compileMs = (System.nanoTime() - t0) / 1_000_000;
        Schema schema = ConstraintTest.validator(schemaJson);
        ConstraintWalker w = new ConstraintWalker(c, schemaJson.hashCode());
        int trials = 100;
        long walkStart = System.nanoTime();
        for (int trial = 0; trial < trials; trial++) {
            String out = w.walk(600);
            ConstraintTest.parse(out);
            ConstraintTest.assertValid(schema, out);
        }
        System.out.printf("constraint json_schema: compile %d ms, %d DFA states (%d indexed by %d walks in %d ms): %.60s%n",
                compileMs, c.numStates(), c.numIndexedStates(), trials, (System.nanoTime() - walkStart) / 1_000_000,
                schemaJson.replaceAll("\\s+", ""));
    }

    /**
     * A "model" that picks uniformly among the allowed tokens never closes a string or stops adding
     * digits on its own (what a random-weight model does); steered by the tokens it has left, every
     * walk still ends, in time, with output that parses and validates.
     */
    @ParameterizedTest
    @ValueSource(strings = {
            TOOL,
            "{\"type\":\"number\"}",
            "{\"type\":\"object\",\"properties\":{\"summary\":{\"type\":\"string\"},\"n\":{\"type\":\"array\",\"items\":{\"type\":\"integer\"}}},\"required\":[\"summary\",\"n\"]}",
            "{\"type\":\"object\",\"additionalProperties\":{\"type\":\"integer\"}}"})
    void uniformWalksEndValidWithinTheirTokenBudget(String schemaJson) {
        CompiledConstraint c = compile(new ConstraintSpec.JsonSchema(schemaJson));
        Schema schema = ConstraintTest.validator(schemaJson);
        java.util.SplittableRandom random = new java.util.SplittableRandom(schemaJson.hashCode());
        int eos = c.vocabulary().eosIds()[0];
        int needed = c.dfa().distance[0] + 1;
        for (int budget : new int[] {needed, needed + 1, needed + 7, 120}) {
            for (int trial = 0; trial < 20; trial++) {
                ConstraintState st = c.start();
                java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
                int used = 0;
                while (!st.hasEnded() && !st.isComplete()) {
                    assertTrue(used < budget, "no end within " + budget + " tokens: " + out.toString(java.nio.charset.StandardCharsets.UTF_8));
                    int[] allowed = ConstraintWalker.ids(st.allowedTokens(budget - used), c.vocabulary().size());
                    int chosen = allowed[random.nextInt(allowed.length)];
                    st.advance(chosen);
                    used++;
                    if (chosen != eos) {
                        out.writeBytes(c.vocabulary().bytes(chosen));
                    }
                }
                String text = ConstraintWalker.utf8(out.toByteArray());
                ConstraintTest.parse(text);
                ConstraintTest.assertValid(schema, text);
            }
        }
        // Far from the end, the steered set is the plain one (no per-step pass over the vocabulary).
        assertTrue(c.start().allowedTokens(c.dfa().maxDistance + 2) == c.start().allowedTokens());
    }

    /**
     * Found by the validity run on the demo model: a number with a 310-digit integer part and an
     * exponent of 68 was allowed, read by Jackson as infinity and rejected by the validator. Digits
     * are bounded now, so the largest number the DFA takes is still a finite double.
     */
    @Test
    void numbersStayWithinADouble() {
        CompiledConstraint n = compile(new ConstraintSpec.JsonSchema("{\"type\":\"number\"}"));
        CompiledConstraint i = compile(new ConstraintSpec.JsonSchema("{\"type\":\"integer\"}"));
        String nines = "9".repeat(JsonSchemaRegex.MAX_DIGITS);
        String largest = "-" + nines + "." + nines + "e+99";
        assertTrue(accepts(n, largest) && accepts(n, "0.5E-7") && accepts(i, "-" + nines));
        assertTrue(!accepts(n, "9" + nines) && !accepts(i, "1" + nines) && !accepts(n, "1." + nines + "1")
                && !accepts(n, "1e100"));
        assertTrue(Double.isFinite(ConstraintTest.parse(largest).doubleValue()));
    }

    private static boolean accepts(CompiledConstraint c, String text) {
        int s = 0;
        for (byte b : text.getBytes(java.nio.charset.StandardCharsets.UTF_8)) {
            s = c.dfa().step(s, b);
            if (s == ByteDfa.DEAD) {
                return false;
            }
        }
        return c.dfa().accept[s];
    }

    @Test
    void jsonObjectWalksAreObjects() {
        long t0 = System.nanoTime();
        CompiledConstraint c = compile(new ConstraintSpec.JsonObject());
        System.out.printf("constraint json_object: compile %d ms, %d DFA states%n", (System.nanoTime() - t0) / 1_000_000, c.numStates());
        ConstraintWalker w = new ConstraintWalker(c, 11);
        int nested = 0;
        for (int trial = 0; trial < 150; trial++) {
            JsonNode n = ConstraintTest.parse(w.walk(800));
            assertTrue(n.isObject());
            nested += n.toString().indexOf('{', 1) > 0 || n.toString().contains("[") ? 1 : 0;
        }
        assertTrue(nested > 0, "some walks nest containers");
    }

    /** A benchmark-like print (never asserted on time): cold and cached compile, first-visit and steady per-step cost. */
    @Test
    void printCosts() {
        ConstraintCompiler compiler = new ConstraintCompiler();
        long t0 = System.nanoTime();
        CompiledConstraint c = compiler.compile(new ConstraintSpec.JsonSchema(TOOL), ConstraintTest.vocabulary);
        long cold = System.nanoTime() - t0; // the first compile in this JVM: class loading and JIT included
        t0 = System.nanoTime();
        ConstraintCompiler.compileUncached(new ConstraintSpec.JsonSchema(TOOL), ConstraintTest.vocabulary);
        long warm = System.nanoTime() - t0;
        compiler.compile(new ConstraintSpec.JsonSchema(TOOL), ConstraintTest.vocabulary);
        t0 = System.nanoTime();
        for (int k = 0; k < 1000; k++) {
            compiler.compile(new ConstraintSpec.JsonSchema(TOOL), ConstraintTest.vocabulary);
        }
        long cached = (System.nanoTime() - t0) / 1000;
        t0 = System.nanoTime();
        c.indexAllStates();
        long indexAll = System.nanoTime() - t0;
        // steady state: every mask built; per step = mask the logits + advance
        float[] logits = new float[ConstraintTest.vocabulary.size()];
        ConstraintWalker w = new ConstraintWalker(c, 3);
        List<int[]> paths = new java.util.ArrayList<>();
        for (int k = 0; k < 20; k++) {
            String out = w.walk(600);
            paths.add(ConstraintTest.vocabulary == null ? null : greedyTokens(c, out));
        }
        long steps = 0;
        t0 = System.nanoTime();
        for (int rep = 0; rep < 5; rep++) {
            for (int[] path : paths) {
                ConstraintState st = c.start();
                for (int id : path) {
                    st.maskLogits(logits, logits.length);
                    st.advance(id);
                    steps++;
                }
            }
        }
        long perStep = (System.nanoTime() - t0) / Math.max(1, steps);
        System.out.printf("constraint costs (tool schema, vocab %d): compile first-in-JVM %.1f ms, warm %.1f ms, cached %.4f ms; %d states, "
                        + "index of all states %.1f ms (%.2f ms per state first visit); steady step (mask logits + advance) %.1f us%n",
                ConstraintTest.vocabulary.size(), cold / 1e6, warm / 1e6, cached / 1e6, c.numStates(), indexAll / 1e6,
                indexAll / 1e6 / c.numStates(), perStep / 1e3);
        assertEquals(1001, compiler.cacheHits());
    }

    /** Re-tokenizes an output one allowed token at a time (the longest allowed token that is a prefix of the rest). */
    private static int[] greedyTokens(CompiledConstraint c, String out) {
        byte[] rest = out.getBytes(java.nio.charset.StandardCharsets.UTF_8);
        ConstraintState st = c.start();
        List<Integer> ids = new java.util.ArrayList<>();
        int pos = 0;
        while (pos < rest.length) {
            int best = -1;
            int bestLen = 0;
            for (int id : ConstraintWalker.ids(st.allowedTokens(), c.vocabulary().size())) {
                byte[] b = c.vocabulary().bytes(id);
                if (b != null && b.length > bestLen && pos + b.length <= rest.length
                        && java.util.Arrays.equals(b, 0, b.length, rest, pos, pos + b.length)) {
                    best = id;
                    bestLen = b.length;
                }
            }
            st.advance(best);
            ids.add(best);
            pos += bestLen;
        }
        ids.add(ConstraintTest.EOS);
        return ids.stream().mapToInt(Integer::intValue).toArray();
    }
}
