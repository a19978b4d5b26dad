package io.spindle.generation.tool;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.networknt.schema.Error;
import com.networknt.schema.InputFormat;
import com.networknt.schema.Schema;
import com.networknt.schema.SchemaRegistry;
import com.networknt.schema.SpecificationVersion;
import io.spindle.runtime.demo.Gpt2TokenizerJson;
import io.spindle.sampling.constraint.CompiledConstraint;
import io.spindle.sampling.constraint.ConstraintCompiler;
import io.spindle.sampling.constraint.ConstraintSpec;
import io.spindle.sampling.constraint.ConstraintWalker;
import io.spindle.sampling.constraint.TokenVocabulary;
import io.spindle.text.TokenBytes;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Forced tool calls on GPT-2's real vocabulary: random walks under the composed call-list schema
 * parse, validate against it and — each call's arguments — against the offered function's own
 * parameters (networknt), so the $ref rewriting keeps the meaning; the streaming reader gives back
 * exactly the calls, however the text is cut.
 */
class ToolCallFormatTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int EOS = Gpt2TokenizerJson.END_OF_TEXT_ID;
    private static final TokenVocabulary VOCABULARY = gpt2();

    static final String WEATHER = """
            {"type":"object","properties":{
              "city":{"type":"string","maxLength":20},
              "unit":{"type":"string","enum":["celsius","fahrenheit"]},
              "days":{"type":"integer"},
              "detailed":{"type":"boolean"},
              "at":{"type":"object","properties":{"lat":{"type":"number"},"lon":{"type":"number"}},
                    "required":["lat","lon"],"additionalProperties":false}},
             "required":["city","unit","days","detailed","at"],"additionalProperties":false}""";
    /** As pydantic writes a model with a nested one: the reference is to the parameters' own $defs. */
    static final String ROUTE = """
            {"$defs":{"Point":{"type":"object","properties":{"x":{"type":"integer"},"y":{"type":"integer"}},
                               "required":["x","y"],"additionalProperties":false}},
             "type":"object","properties":{"from":{"$ref":"#/$defs/Point"},"to":{"$ref":"#/$defs/Point"}},
             "required":["from","to"],"additionalProperties":false}""";

    private static TokenVocabulary gpt2() {
        try {
            return TokenBytes.fromJson(Gpt2TokenizerJson.build(JSON), 50257, new int[] {EOS});
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    private static List<ToolSpec> tools() throws Exception {
        return List.of(new ToolSpec("get_weather", "Weather at a place", JSON.readTree(WEATHER)),
                new ToolSpec("plan-route", null, JSON.readTree(ROUTE)),
                new ToolSpec("now", "The time", null));
    }

    @Test
    void requiredCallsParseAndEachValidatesAgainstItsFunction() throws Exception {
        List<ToolSpec> tools = tools();
        String schema = ToolCallFormat.schema(tools, new ToolChoice.Required(), true);
        Map<String, Integer> seen = new HashMap<>();
        int multi = 0;
        for (String out : walks(schema, 60, 1)) {
            JsonNode calls = JSON.readTree(out);
            assertTrue(calls.isArray() && !calls.isEmpty(), out);
            multi += calls.size() > 1 ? 1 : 0;
            for (JsonNode call : calls) {
                String name = call.get("name").asText();
                seen.merge(name, 1, Integer::sum);
                ToolSpec tool = tools.stream().filter(t -> t.name().equals(name)).findFirst().orElseThrow();
                String parameters = tool.parameters() == null ? "{\"type\":\"object\",\"additionalProperties\":false}"
                        : tool.parameters().toString();
                assertValid(parameters, call.get("arguments").toString());
            }
            assertCallsReadBack(out, new SplittableRandom(out.hashCode()));
        }
        assertEquals(Set.of("get_weather", "plan-route", "now"), seen.keySet(), "every tool is reachable: " + seen);
        assertTrue(multi > 0, "parallel calls happen");
    }

    @Test
    void aNamedChoiceOrNoParallelCallsIsExactlyOneCall() throws Exception {
        List<ToolSpec> tools = tools();
        for (String out : walks(ToolCallFormat.schema(tools, new ToolChoice.Named("plan-route"), true), 20, 2)) {
            JsonNode calls = JSON.readTree(out);
            assertEquals(1, calls.size(), out);
            assertEquals("plan-route", calls.get(0).get("name").asText());
            assertValid(ROUTE, calls.get(0).get("arguments").toString());
        }
        for (String out : walks(ToolCallFormat.schema(tools, new ToolChoice.Required(), false), 20, 3)) {
            assertEquals(1, JSON.readTree(out).size(), out);
        }
        assertNull(ToolCallFormat.schema(tools, new ToolChoice.Auto(), true));
        assertNull(ToolCallFormat.schema(tools, new ToolChoice.None(), true));
    }

    @Test
    void theReaderStreamsNameFirstThenArgumentFragments() {
        String text = "[{\"name\":\"get_weather\",\"arguments\":{\"city\":\"Pa,}ris \\\"x\\\"\",\"n\":[1,{\"a\":2}]}},"
                + "{\"name\":\"now\",\"arguments\":{}}]";
        int[] next = {0};
        ToolCallParser p = new ToolCallParser(() -> "id" + next[0]++);
        List<ToolCallParser.Delta> d = new ArrayList<>();
        for (String piece : List.of("[{\"", "name\":\"get", "_weather\",\"arg", "uments\":{\"ci", "ty\":\"Pa,}ris \\\"x\\\"\",\"n\":[1,{\"a\":2}]}},",
                "{\"name\":\"now\",\"arguments\":{}}", "]")) {
            d.addAll(p.feed(piece));
        }
        assertEquals(new ToolCallParser.Delta(0, "id0", "get_weather", ""), d.get(0));
        assertEquals(new ToolCallParser.Delta(0, null, null, "{\"ci"), d.get(1));
        assertEquals(new ToolCallParser.Delta(0, null, null, "ty\":\"Pa,}ris \\\"x\\\"\",\"n\":[1,{\"a\":2}]}"), d.get(2));
        assertEquals(new ToolCallParser.Delta(1, "id1", "now", "{}"), d.get(3), "a first delta may carry its first fragment");
        assertEquals(4, d.size());
        assertEquals(List.of(new ToolCall("id0", "get_weather", "{\"city\":\"Pa,}ris \\\"x\\\"\",\"n\":[1,{\"a\":2}]}"),
                new ToolCall("id1", "now", "{}")), p.calls());
    }

    @Test
    void aCutShortOutputGivesTheCallsSoFar() {
        ToolCallParser p = new ToolCallParser(() -> "c");
        p.feed("[{\"name\":\"get_weather\",\"arguments\":{\"city\":\"Lyo");
        assertEquals(List.of(new ToolCall("c", "get_weather", "{\"city\":\"Lyo")), p.calls());
        assertTrue(new ToolCallParser().feed("[{\"name\":\"get_wea").isEmpty(), "no call before its name is whole");
    }

    /** Feeds {@code out} in random pieces; the deltas rebuild exactly the calls that Jackson reads. */
    private static void assertCallsReadBack(String out, SplittableRandom random) throws Exception {
        ToolCallParser p = new ToolCallParser();
        Map<Integer, StringBuilder> args = new HashMap<>();
        Map<Integer, String> names = new HashMap<>();
        Set<String> ids = new HashSet<>();
        for (int i = 0; i < out.length(); ) {
            int j = Math.min(out.length(), i + 1 + random.nextInt(6));
            for (ToolCallParser.Delta d : p.feed(out.substring(i, j))) {
                if (d.id() != null) {
                    assertNull(names.put(d.index(), d.name()), "one first delta per call");
                    assertTrue(ids.add(d.id()), "ids are distinct");
                } else {
                    assertNotNull(names.get(d.index()), "a fragment comes after its call's name");
                }
                args.computeIfAbsent(d.index(), k -> new StringBuilder()).append(d.arguments());
            }
            i = j;
        }
        JsonNode calls = JSON.readTree(out);
        assertEquals(calls.size(), names.size(), out);
        for (int k = 0; k < calls.size(); k++) {
            assertEquals(calls.get(k).get("name").asText(), names.get(k));
            assertEquals(calls.get(k).get("arguments").toString(), args.get(k).toString(), "compact text passes through");
            assertEquals(args.get(k).toString(), p.calls().get(k).arguments());
        }
    }

    private static void assertValid(String schemaJson, String instance) {
        Schema schema = SchemaRegistry.withDefaultDialect(SpecificationVersion.DRAFT_2020_12).getSchema(schemaJson, InputFormat.JSON);
        List<Error> errors = schema.validate(instance, InputFormat.JSON);
        assertTrue(errors.isEmpty(), instance + " fails " + schemaJson + ": " + errors);
    }

    /** Seeded random walks (see {@link ConstraintWalker}); each output also validates against the composed schema. */
    private static List<String> walks(String schemaJson, int count, long seed) {
        CompiledConstraint c = new ConstraintCompiler().compile(new ConstraintSpec.JsonSchema(schemaJson), VOCABULARY);
        Schema composed = SchemaRegistry.withDefaultDialect(SpecificationVersion.DRAFT_2020_12).getSchema(schemaJson, InputFormat.JSON);
        ConstraintWalker walker = new ConstraintWalker(c, seed);
        List<String> outs = new ArrayList<>();
        for (int n = 0; n < count; n++) {
            String text = walker.walk(2000);
            assertTrue(composed.validate(text, InputFormat.JSON).isEmpty(), text);
            outs.add(text);
        }
        return outs;
    }
}
