package io.spindle.sampling.constraint;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dk.brics.automaton.Automaton;
import dk.brics.automaton.RegExp;

import java.math.BigInteger;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Compiles a JSON Schema (the subset of docs/decisions/0002-constrained-decoding.md) or "any JSON
 * object" into a brics automaton over chars that matches compact JSON (no whitespace between tokens)
 * which validates against the schema. Sub-schemas reached through {@code $ref}, string patterns and
 * the bounded "any JSON value" are compiled once into named automata that brics splices in
 * ({@code <name>}); every literal character of the generated expressions is escaped.
 *
 * <p>Bounds that keep the language regular and generations finite: any-JSON values nest at most
 * {@link #ANY_JSON_DEPTH} containers deep; integer parts and fractions have at most
 * {@link #MAX_DIGITS} digits and exponents at most 2. Every output is valid;
 * some valid JSON (with whitespace, in another property order, 3-digit exponents, 20-digit numbers) is
 * never produced.
 */
final class JsonSchemaRegex {
    /** Containers (objects/arrays) an unconstrained JSON value may nest, counting the outermost. */
    static final int ANY_JSON_DEPTH = 3;

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String WS = ""; // the whitespace policy: none between JSON tokens
    /**
     * Digits of a number's integer part and of its fraction. Unbounded digits overflow: a 310-digit
     * mantissa with {@code e68} (both allowed before) is beyond a double, which Jackson reads as
     * infinity and validators reject as "not a number", and past 1,000 characters Jackson refuses the
     * number outright. 19 digits hold any 64-bit integer's magnitude and more than a double's precision;
     * with a 2-digit exponent every number stays below 1e119.
     */
    static final int MAX_DIGITS = 19;
    private static final String INTEGER = "-?(0|[1-9][0-9]{0," + (MAX_DIGITS - 1) + "})";
    private static final String NUMBER = INTEGER + "(\\.[0-9]{1," + MAX_DIGITS + "})?([eE][+-]?[0-9]{1,2})?";
    /** One character of a JSON string's content: unescaped (no quote, backslash or control) or an escape (no lone surrogates). */
    private static final String STRING_CHAR = "(" + RegexTranslator.setToBrics(new int[][] {{0x20, 0x21}, {0x23, 0x5B}, {0x5D, RegexTranslator.MAX_CODE_POINT}})
            + "|" + RegexTranslator.toBrics("\\\\([\"\\\\/bfnrt]|u([0-9a-cA-Ce-fE-F][0-9a-fA-F]{3}|[dD][0-7][0-9a-fA-F]{2}))") + ")";
    private static final String DATE = "[0-9]{4}-((0[13578]|1[02])-(0[1-9]|[12][0-9]|3[01])|(0[469]|11)-(0[1-9]|[12][0-9]|30)|02-(0[1-9]|1[0-9]|2[0-8]))";
    private static final String TIME = "([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\\.[0-9]{1,6})?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])";
    private static final Map<String, String> FORMATS = Map.of(
            "date", DATE,
            "time", TIME,
            "date-time", DATE + "T" + TIME,
            "uuid", "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}",
            "ipv4", "((25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\\.){3}(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])");
    private static final Set<String> ANNOTATIONS = Set.of("title", "description", "$schema", "$id", "$comment",
            "default", "examples", "deprecated", "readOnly", "writeOnly", "$defs", "definitions");
    private static final Set<String> KEYWORDS = Set.of("type", "properties", "required", "additionalProperties",
            "items", "minItems", "maxItems", "enum", "const", "anyOf", "$ref", "pattern", "format", "minLength",
            "maxLength", "uniqueItems", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum");
    private static final Set<String> TYPES = Set.of("object", "array", "string", "number", "integer", "boolean", "null");

    private final JsonNode root;
    private final Map<String, Automaton> automata = new HashMap<>();
    private final Map<String, String> refNames = new HashMap<>();
    private final Set<String> resolving = new LinkedHashSet<>();

    private JsonSchemaRegex(JsonNode root) {
        this.root = root;
    }

    static Automaton anyJsonObject() {
        JsonSchemaRegex g = new JsonSchemaRegex(null);
        return g.compile(g.anyObject(ANY_JSON_DEPTH));
    }

    static Automaton schema(String schemaJson) {
        JsonNode root;
        try {
            root = JSON.readTree(schemaJson);
        } catch (JsonProcessingException e) {
            throw new ConstraintException("json_schema: not valid JSON: " + e.getOriginalMessage());
        }
        if (root == null || !(root.isObject() || root.isBoolean())) {
            throw new ConstraintException("json_schema: the schema must be a JSON object");
        }
        JsonSchemaRegex g = new JsonSchemaRegex(root);
        return g.compile(g.value(root, "#"));
    }

    private Automaton compile(String regex) {
        try {
            return new RegExp(regex, RegExp.AUTOMATON).toAutomaton(automata);
        } catch (IllegalArgumentException e) {
            throw new ConstraintException("json_schema: cannot compile (" + e.getMessage() + ")", e);
        }
    }

    private String value(JsonNode s, String path) {
        if (s.isBoolean()) {
            if (!s.booleanValue()) {
                throw new ConstraintException("json_schema: the schema at " + path + " is false: nothing validates");
            }
            return anyValue(ANY_JSON_DEPTH);
        }
        if (!s.isObject()) {
            throw new ConstraintException("json_schema: the schema at " + path + " must be an object or a boolean");
        }
        checkKeywords(s, path);
        if (s.has("$ref")) {
            return ref(s, path);
        }
        if (s.has("const")) {
            return literal(json(s.get("const")));
        }
        if (s.has("enum")) {
            return enumeration(s.get("enum"), path);
        }
        if (s.has("anyOf")) {
            JsonNode options = s.get("anyOf");
            if (!options.isArray() || options.isEmpty()) {
                throw new ConstraintException("json_schema: anyOf at " + path + " must be a non-empty array");
            }
            List<String> alternatives = new ArrayList<>();
            for (int k = 0; k < options.size(); k++) {
                alternatives.add(value(options.get(k), path + "/anyOf/" + k));
            }
            return "(" + String.join("|", alternatives) + ")";
        }
        List<String> types = types(s, path);
        List<String> alternatives = new ArrayList<>();
        for (String type : types) {
            alternatives.add(switch (type) {
                case "string" -> string(s, path);
                case "number" -> number(s, path);
                case "integer" -> integer(s, path);
                case "boolean" -> "(true|false)";
                case "null" -> "null";
                case "array" -> array(s, path);
                case "object" -> object(s, path);
                default -> throw new IllegalStateException(type);
            });
        }
        return alternatives.size() == 1 ? alternatives.getFirst() : "(" + String.join("|", alternatives) + ")";
    }

    private static final String NUMBER_BRICS = RegexTranslator.toBrics(NUMBER);
    private static final String INTEGER_BRICS = RegexTranslator.toBrics(INTEGER);
    private static final List<String> BOUNDS = List.of("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum");
    /** The widest integers written: {@link #MAX_DIGITS} digits either side of zero. */
    private static final BigInteger INTEGER_LIMIT = BigInteger.TEN.pow(MAX_DIGITS).subtract(BigInteger.ONE);

    private static boolean bounded(JsonNode s) {
        return BOUNDS.stream().anyMatch(s::has);
    }

    /** Bounds hold only for integers: a bounded number (a fraction between bounds) is refused. */
    private String number(JsonNode s, String path) {
        if (bounded(s)) {
            throw new ConstraintException("json_schema: minimum/maximum on a number at " + path
                    + " are not supported (on an integer they are)");
        }
        return NUMBER_BRICS;
    }

    /** The integers within the schema's bounds (inclusive or exclusive, any of them absent). */
    private String integer(JsonNode s, String path) {
        if (!bounded(s)) {
            return INTEGER_BRICS;
        }
        BigInteger lo = INTEGER_LIMIT.negate();
        BigInteger hi = INTEGER_LIMIT;
        for (String k : BOUNDS) {
            JsonNode v = s.get(k);
            if (v == null) {
                continue;
            }
            if (!v.isNumber()) {
                throw new ConstraintException("json_schema: " + k + " at " + path + " must be a number");
            }
            java.math.BigDecimal d = v.decimalValue();
            switch (k) {
                case "minimum" -> lo = lo.max(d.setScale(0, java.math.RoundingMode.CEILING).toBigInteger());
                case "exclusiveMinimum" -> lo = lo.max(d.setScale(0, java.math.RoundingMode.FLOOR).toBigInteger().add(BigInteger.ONE));
                case "maximum" -> hi = hi.min(d.setScale(0, java.math.RoundingMode.FLOOR).toBigInteger());
                default -> hi = hi.min(d.setScale(0, java.math.RoundingMode.CEILING).toBigInteger().subtract(BigInteger.ONE));
            }
        }
        if (lo.compareTo(hi) > 0) {
            throw new ConstraintException("json_schema: no integer at " + path + " lies within its bounds");
        }
        return RegexTranslator.toBrics(IntegerRange.regex(lo, hi));
    }

    private void checkKeywords(JsonNode s, String path) {
        for (Iterator<String> it = s.fieldNames(); it.hasNext(); ) {
            String k = it.next();
            if (!KEYWORDS.contains(k) && !ANNOTATIONS.contains(k)) {
                throw new ConstraintException("json_schema: unsupported keyword \"" + k + "\" at " + path);
            }
            if (k.equals("$ref") && s.size() > 1) {
                for (Iterator<String> others = s.fieldNames(); others.hasNext(); ) {
                    String o = others.next();
                    if (!o.equals("$ref") && KEYWORDS.contains(o)) {
                        throw new ConstraintException("json_schema: \"" + o + "\" beside \"$ref\" at " + path + " is not supported");
                    }
                }
            }
        }
        if (s.has("uniqueItems") && s.get("uniqueItems").asBoolean(false)) {
            throw new ConstraintException("json_schema: unsupported keyword \"uniqueItems\": true at " + path);
        }
    }

    private List<String> types(JsonNode s, String path) {
        JsonNode t = s.get("type");
        List<String> out = new ArrayList<>();
        if (t == null) {
            if (s.has("properties") || s.has("additionalProperties") || s.has("required")) {
                out.add("object");
            } else if (s.has("items") || s.has("minItems") || s.has("maxItems")) {
                out.add("array");
            } else if (s.has("pattern") || s.has("format") || s.has("minLength") || s.has("maxLength")) {
                out.add("string");
            } else if (bounded(s)) {
                out.add("number");
            } else {
                out.addAll(List.of("string", "number", "boolean", "null", "object", "array"));
            }
            return out;
        }
        for (JsonNode n : t.isArray() ? t : List.of(t)) {
            if (!n.isTextual() || !TYPES.contains(n.asText())) {
                throw new ConstraintException("json_schema: unknown type " + n + " at " + path);
            }
            if (!out.contains(n.asText())) {
                out.add(n.asText());
            }
        }
        if (out.contains("number")) {
            out.remove("integer"); // integers are numbers; listing both would only duplicate branches
        }
        if (out.isEmpty()) {
            throw new ConstraintException("json_schema: empty type list at " + path);
        }
        return out;
    }

    private String ref(JsonNode s, String path) {
        String ref = s.get("$ref").asText();
        String name = refNames.get(ref);
        if (name != null && automata.containsKey(name)) {
            return "<" + name + ">";
        }
        JsonNode target = pointer(ref);
        if (target == null || !(target.isObject() || target.isBoolean())) {
            throw new ConstraintException("json_schema: $ref \"" + ref + "\" at " + path
                    + " does not point to a schema in this document (e.g. #/$defs/name)");
        }
        if (!resolving.add(ref)) {
            throw new ConstraintException("json_schema: recursive $ref \"" + ref + "\" is not supported (at " + path + ")");
        }
        name = "ref" + refNames.size();
        refNames.put(ref, name);
        automata.put(name, compile(value(target, ref)));
        resolving.remove(ref);
        return "<" + name + ">";
    }

    /** The node a local reference ({@code #/a/b}, JSON Pointer with {@code ~0}/{@code ~1} escapes) points to, or null. */
    private JsonNode pointer(String ref) {
        if (root == null || !ref.startsWith("#/")) {
            return null;
        }
        JsonNode node = root;
        for (String token : ref.substring(2).split("/", -1)) {
            String key = token.replace("~1", "/").replace("~0", "~");
            node = node.isArray() && key.matches("0|[1-9][0-9]{0,8}") ? node.get(Integer.parseInt(key)) : node.get(key);
            if (node == null) {
                return null;
            }
        }
        return node;
    }

    private String enumeration(JsonNode values, String path) {
        if (!values.isArray() || values.isEmpty()) {
            throw new ConstraintException("json_schema: enum at " + path + " must be a non-empty array");
        }
        List<String> alternatives = new ArrayList<>();
        for (JsonNode v : values) {
            alternatives.add(literal(json(v)));
        }
        return "(" + String.join("|", alternatives) + ")";
    }

    private String string(JsonNode s, String path) {
        int min = nonNegative(s, "minLength", 0, path);
        int max = nonNegative(s, "maxLength", -1, path);
        if (max >= 0 && max < min) {
            throw new ConstraintException("json_schema: maxLength below minLength at " + path);
        }
        String content;
        if (s.has("format") || s.has("pattern")) {
            Automaton a = new RegExp("(" + STRING_CHAR_PLAIN + ")*", RegExp.NONE).toAutomaton();
            if (s.has("format")) {
                String format = s.get("format").asText();
                String regex = FORMATS.get(format);
                if (regex == null) {
                    throw new ConstraintException("json_schema: unsupported format \"" + format + "\" at " + path
                            + " (supported: " + String.join(", ", new java.util.TreeSet<>(FORMATS.keySet())) + ")");
                }
                a = a.intersection(new RegExp(RegexTranslator.toBrics(regex), RegExp.NONE).toAutomaton());
            }
            if (s.has("pattern")) {
                a = a.intersection(new RegExp(searchPattern(s.get("pattern").asText()), RegExp.NONE).toAutomaton());
            }
            if (min > 0 || max >= 0) {
                a = a.intersection(new RegExp(ANY_CHAR + "{" + min + "," + (max >= 0 ? max : "") + "}", RegExp.NONE).toAutomaton());
            }
            if (a.isEmpty()) {
                throw new ConstraintException("json_schema: no string satisfies the pattern/format/length at " + path
                        + " (strings with a pattern or format are generated without JSON escapes)");
            }
            String name = "str" + automata.size();
            automata.put(name, a);
            content = "<" + name + ">";
        } else {
            content = STRING_CHAR + "{" + min + "," + (max >= 0 ? max : "") + "}";
        }
        return "\\\"" + content + "\\\"";
    }

    private static final String ANY_CHAR = RegexTranslator.setToBrics(new int[][] {{0, RegexTranslator.MAX_CODE_POINT}});
    private static final String STRING_CHAR_PLAIN = RegexTranslator.setToBrics(
            new int[][] {{0x20, 0x21}, {0x23, 0x5B}, {0x5D, RegexTranslator.MAX_CODE_POINT}});

    /** JSON Schema patterns search (are not anchored): a side without ^ or $ may have anything there. */
    private static String searchPattern(String pattern) {
        String anchoredStart = pattern.startsWith("^") ? "" : "(" + ANY_CHAR + ")*";
        boolean endAnchor = pattern.endsWith("$") && !pattern.endsWith("\\$");
        String anchoredEnd = endAnchor ? "" : "(" + ANY_CHAR + ")*";
        return anchoredStart + "(" + RegexTranslator.toBrics(pattern) + ")" + anchoredEnd;
    }

    private String array(JsonNode s, String path) {
        int min = nonNegative(s, "minItems", 0, path);
        int max = nonNegative(s, "maxItems", -1, path);
        if (max >= 0 && max < min) {
            throw new ConstraintException("json_schema: maxItems below minItems at " + path);
        }
        String item = s.has("items") ? value(s.get("items"), path + "/items") : anyValue(ANY_JSON_DEPTH - 1);
        return list("\\[", item, min, max, "\\]");
    }

    /** open item(,item)… close, between min and max (-1: unbounded) items. */
    private static String list(String open, String item, int min, int max, String close) {
        if (max == 0) {
            return open + WS + close;
        }
        String rest = "(\\," + item + "){" + Math.max(0, min - 1) + "," + (max > 0 ? String.valueOf(max - 1) : "") + "}";
        String body = item + rest;
        return open + (min == 0 ? "(" + body + ")?" : body) + close;
    }

    private String object(JsonNode s, String path) {
        JsonNode props = s.get("properties");
        JsonNode additional = s.get("additionalProperties");
        Set<String> required = new HashSet<>();
        if (s.has("required")) {
            if (!s.get("required").isArray()) {
                throw new ConstraintException("json_schema: required at " + path + " must be an array of names");
            }
            for (JsonNode r : s.get("required")) {
                required.add(r.asText());
                if (props == null || !props.has(r.asText())) {
                    throw new ConstraintException("json_schema: required property \"" + r.asText() + "\" at " + path
                            + " has no schema under properties");
                }
            }
        }
        if (props == null || props.isEmpty()) {
            if (additional != null && additional.isBoolean() && !additional.booleanValue()) {
                return "\\{\\}";
            }
            if (additional != null && additional.isObject()) {
                return list("\\{", STRING_KEY + "\\:" + value(additional, path + "/additionalProperties"), 0, -1, "\\}");
            }
            return anyObject(ANY_JSON_DEPTH);
        }
        if (!props.isObject()) {
            throw new ConstraintException("json_schema: properties at " + path + " must be an object");
        }
        List<String> members = new ArrayList<>();
        List<Boolean> isRequired = new ArrayList<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = props.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            members.add(literal(json(JSON.getNodeFactory().textNode(e.getKey()))) + "\\:"
                    + value(e.getValue(), path + "/properties/" + e.getKey()));
            isRequired.add(required.contains(e.getKey()));
        }
        // Properties come in schema order; the first one present has no comma before it.
        int firstRequired = isRequired.indexOf(true);
        int lastStart = firstRequired < 0 ? members.size() - 1 : firstRequired;
        List<String> alternatives = new ArrayList<>();
        for (int first = 0; first <= lastStart; first++) {
            StringBuilder b = new StringBuilder(members.get(first));
            for (int j = first + 1; j < members.size(); j++) {
                String m = "\\," + members.get(j);
                b.append(isRequired.get(j) ? m : "(" + m + ")?");
            }
            alternatives.add(b.toString());
        }
        String body = "(" + String.join("|", alternatives) + ")";
        return "\\{" + (firstRequired < 0 ? body + "?" : body) + "\\}";
    }

    private static final String STRING_KEY = "\\\"" + STRING_CHAR + "*\\\"";

    /** Any JSON value with at most {@code depth} nested containers, as a named automaton. */
    private String anyValue(int depth) {
        String name = "any" + depth;
        if (!automata.containsKey(name)) {
            String scalars = "(" + STRING_KEY + "|" + NUMBER_BRICS + "|true|false|null)";
            String regex = depth == 0 ? scalars
                    : "(" + scalars + "|" + anyObject(depth) + "|" + list("\\[", anyValue(depth - 1), 0, -1, "\\]") + ")";
            automata.put(name, compile(regex));
        }
        return "<" + name + ">";
    }

    private String anyObject(int depth) {
        String name = "obj" + depth;
        if (!automata.containsKey(name)) {
            String inner = depth <= 1 ? "(" + STRING_KEY + "|" + NUMBER_BRICS + "|true|false|null)" : anyValue(depth - 1);
            automata.put(name, compile(list("\\{", STRING_KEY + "\\:" + inner, 0, -1, "\\}")));
        }
        return "<" + name + ">";
    }

    private static int nonNegative(JsonNode s, String key, int absent, String path) {
        JsonNode n = s.get(key);
        if (n == null) {
            return absent;
        }
        if (!n.canConvertToInt() || !n.isIntegralNumber() || n.asInt() < 0) {
            throw new ConstraintException("json_schema: " + key + " at " + path + " must be a non-negative integer");
        }
        return n.asInt();
    }

    private static String json(JsonNode v) {
        try {
            return JSON.writeValueAsString(v);
        } catch (JsonProcessingException e) {
            throw new ConstraintException("json_schema: cannot serialize " + v, e);
        }
    }

    /** {@code text} as a brics expression matching exactly it. */
    static String literal(String text) {
        StringBuilder b = new StringBuilder("(");
        for (int k = 0; k < text.length(); k++) {
            b.append('\\').append(text.charAt(k));
        }
        return b.append(')').toString();
    }
}
