package io.spindle.sampling.constraint;

import java.util.List;

/** What a request asks its output to be. The source text is part of the compile cache's key. */
public sealed interface ConstraintSpec {
    /** Every {@link #kind()}, in the order the API documents them (a bounded metrics label). */
    List<String> KINDS = List.of("json_schema", "json_object", "regex", "choice");

    /** A stable name of the kind, for the cache key and metrics labels. */
    String kind();

    /** The text the constraint was given as (a canonical form for choices). */
    String source();

    /** The whole output matches this regular expression (a common subset of PCRE/Python/JS syntax). */
    record Regex(String pattern) implements ConstraintSpec {
        public String kind() {
            return "regex";
        }

        public String source() {
            return pattern;
        }
    }

    /** The whole output is exactly one of these strings. */
    record Choice(List<String> choices) implements ConstraintSpec {
        public Choice {
            choices = List.copyOf(choices);
        }

        public String kind() {
            return "choice";
        }

        public String source() {
            // Length-prefixed, so no choice text can make two different lists collide.
            StringBuilder b = new StringBuilder();
            for (String c : choices) {
                b.append(c.length()).append(':').append(c);
            }
            return b.toString();
        }
    }

    /** The whole output is compact JSON that validates against this JSON Schema (the subset in the decision record). */
    record JsonSchema(String schemaJson) implements ConstraintSpec {
        public String kind() {
            return "json_schema";
        }

        public String source() {
            return schemaJson;
        }
    }

    /** The whole output is a JSON object (nesting bounded, see {@link JsonSchemaRegex#ANY_JSON_DEPTH}). */
    record JsonObject() implements ConstraintSpec {
        public String kind() {
            return "json_object";
        }

        public String source() {
            return "";
        }
    }
}
