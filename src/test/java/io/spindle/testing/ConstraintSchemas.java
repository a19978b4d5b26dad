package io.spindle.testing;

import java.util.List;

/**
 * Twenty JSON Schemas that together cover the subset the constraint compiler supports (see
 * docs/decisions/0002-constrained-decoding.md): objects with required properties and
 * {@code additionalProperties: false}, strings with lengths, patterns and formats, numbers, integers,
 * booleans, null, enums, const, arrays with {@code items}/{@code minItems}/{@code maxItems}, nested
 * objects, {@code anyOf}, {@code $defs}/{@code definitions} with {@code $ref}, type lists, boolean
 * schemas and annotations. Shared by {@code engine.ConstraintValidityModelTest} (a few seeds, in CI)
 * and {@code bench.ConstraintBenchmark} (the 1,000 seeds), so that both check the same list.
 */
public final class ConstraintSchemas {
    private ConstraintSchemas() {
    }

    /** A schema with a short name for reports. */
    public record Named(String name, String schema) {
    }

    /** A typical tool's parameters: 5 properties, one nested object, one enum (the compile-time target's schema). */
    public static final String TOOL = """
            {"type":"object","properties":{
              "city":{"type":"string","description":"the city"},
              "unit":{"type":"string","enum":["celsius","fahrenheit","kelvin"]},
              "days":{"type":"integer"},
              "detailed":{"type":"boolean"},
              "location":{"type":"object","properties":{"lat":{"type":"number"},"lon":{"type":"number"}},
                          "required":["lat","lon"],"additionalProperties":false}},
             "required":["city","unit","days","detailed","location"],"additionalProperties":false}""";

    public static final List<Named> ALL = List.of(
            new Named("tool-weather", TOOL),
            new Named("person", """
                    {"title":"Person","type":"object","properties":{
                      "name":{"type":"string","minLength":1,"maxLength":24},
                      "age":{"type":"integer"},
                      "email":{"type":"string","maxLength":32},
                      "member":{"type":"boolean"}},
                     "required":["name","age"],"additionalProperties":false}"""),
            new Named("string-length", """
                    {"type":"string","minLength":3,"maxLength":12}"""),
            new Named("number", """
                    {"type":"number","description":"any JSON number, exponent included"}"""),
            new Named("integer-array", """
                    {"type":"array","items":{"type":"integer"},"minItems":1,"maxItems":5}"""),
            new Named("boolean-null", """
                    {"type":"object","properties":{"ok":{"type":"boolean"},"error":{"type":"null"},
                      "retry":{"type":["boolean","null"]}},
                     "required":["ok","error","retry"],"additionalProperties":false}"""),
            new Named("enum-mixed", """
                    {"enum":["red","green","blue ü",3,-1.5,null,true,{"a":[1,2]},[]]}"""),
            new Named("const", """
                    {"type":"object","properties":{"version":{"const":"1.0"},"kind":{"const":42},
                      "flags":{"const":{"x":true,"y":null}},"value":{"type":"integer"}},
                     "required":["version","kind","flags","value"],"additionalProperties":false}"""),
            new Named("nested-order", """
                    {"type":"object","properties":{
                      "order":{"type":"object","properties":{
                        "id":{"type":"integer"},
                        "customer":{"type":"object","properties":{
                          "name":{"type":"string","maxLength":16},
                          "address":{"type":"object","properties":{
                            "city":{"type":"string","maxLength":12},
                            "zip":{"type":"string","pattern":"^[0-9]{5}$"}},
                           "required":["city","zip"],"additionalProperties":false}},
                         "required":["name","address"],"additionalProperties":false}},
                       "required":["id","customer"],"additionalProperties":false}},
                     "required":["order"],"additionalProperties":false}"""),
            new Named("anyOf", """
                    {"anyOf":[{"type":"string","maxLength":8},{"type":"integer"},
                      {"type":"object","properties":{"err":{"type":"string","enum":["timeout","refused"]},
                        "code":{"type":"integer"}},"required":["err"],"additionalProperties":false}]}"""),
            new Named("defs-ref", """
                    {"$defs":{"point":{"type":"object","properties":{"x":{"type":"number"},"y":{"type":"number"}},
                                       "required":["x","y"],"additionalProperties":false},
                              "label":{"type":"string","maxLength":10}},
                     "type":"object","properties":{"from":{"$ref":"#/$defs/point"},"to":{"$ref":"#/$defs/point"},
                       "name":{"$ref":"#/$defs/label"}},
                     "required":["from","to"],"additionalProperties":false}"""),
            new Named("formats", """
                    {"type":"object","properties":{
                      "id":{"type":"string","format":"uuid"},
                      "at":{"type":"string","format":"date-time"},
                      "day":{"type":"string","format":"date"},
                      "time":{"type":"string","format":"time"},
                      "host":{"type":"string","format":"ipv4"}},
                     "required":["id","at","day","time","host"],"additionalProperties":false}"""),
            new Named("patterns", """
                    {"type":"object","properties":{
                      "phone":{"type":"string","pattern":"^\\\\+?[0-9]{1,3}-[0-9]{3}-[0-9]{4}$"},
                      "code":{"type":"string","pattern":"^[A-Z]{3}\\\\d{2}$"},
                      "slug":{"type":"string","pattern":"^[a-z0-9]+(-[a-z0-9]+)*$","maxLength":20},
                      "word":{"type":"string","pattern":"ab","maxLength":10},
                      "any3":{"type":"string","pattern":"^.{3}$"}},
                     "required":["phone","code","slug","word","any3"],"additionalProperties":false}"""),
            new Named("array-of-objects", """
                    {"type":"array","minItems":1,"maxItems":3,"items":{"type":"object","properties":{
                      "sku":{"type":"string","pattern":"^[A-Z]{2}[0-9]{4}$"},
                      "qty":{"type":"integer"},
                      "gift":{"type":"boolean"}},
                     "required":["sku","qty"],"additionalProperties":false}}"""),
            new Named("all-optional", """
                    {"type":"object","properties":{"a":{"type":"integer"},"b":{"type":"boolean"},
                      "c":{"type":"string","maxLength":5},"d":{"type":"null"}},"additionalProperties":false}"""),
            new Named("type-list", """
                    {"type":["integer","null","boolean"]}"""),
            new Named("additional-properties", """
                    {"type":"object","additionalProperties":{"type":"integer"}}"""),
            new Named("matrix", """
                    {"type":"object","properties":{"m":{"type":"array","minItems":2,"maxItems":2,
                      "items":{"type":"array","items":{"type":"integer"},"maxItems":3}}},
                     "required":["m"],"additionalProperties":false}"""),
            new Named("free-text-tags", """
                    {"type":"object","properties":{
                      "summary":{"type":"string"},
                      "tags":{"type":"array","items":{"type":"string","enum":["bug","feature","docs"]},"maxItems":3},
                      "extra":true},
                     "required":["summary","tags"],"additionalProperties":false}"""),
            new Named("definitions-any", """
                    {"definitions":{"meta":{"type":"object","properties":{"k":{"type":"string","maxLength":6},
                      "v":{}},"required":["k","v"],"additionalProperties":false}},
                     "type":"object","properties":{"meta":{"$ref":"#/definitions/meta"},
                       "score":{"type":"number"},"items":{"type":"array","items":{"type":"number"},"maxItems":4}},
                     "required":["meta","score"],"additionalProperties":false}"""));
}
