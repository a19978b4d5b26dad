package io.spindle.api.rest;

import com.fasterxml.jackson.databind.JsonNode;
import io.spindle.engine.request.SpindleException;

import java.util.Map;
import java.util.function.Predicate;

/**
 * Request fields that would change what is generated but that Spindle does not implement yet. A
 * client that sends one gets a 400 naming it, never an answer that silently ignored it. Each field
 * has a neutral value that is accepted (the default that changes nothing).
 */
final class UnsupportedFields {
    private static final Predicate<JsonNode> ABSENT = n -> n == null || n.isNull();

    /** OpenAI completions and chat, with vLLM's extensions. */
    static final Map<String, Predicate<JsonNode>> OPENAI = Map.ofEntries(
            Map.entry("functions", ABSENT.or(n -> n.isArray() && n.isEmpty())),
            Map.entry("function_call", ABSENT.or(n -> "none".equals(n.asText()) || "auto".equals(n.asText()))),
            Map.entry("guided_grammar", ABSENT),
            Map.entry("prompt_logprobs", ABSENT),
            Map.entry("logits_processors", ABSENT),
            Map.entry("bad_words", ABSENT.or(n -> n.isArray() && n.isEmpty())),
            Map.entry("allowed_token_ids", ABSENT),
            Map.entry("use_beam_search", ABSENT.or(n -> n.isBoolean() && !n.asBoolean())),
            Map.entry("length_penalty", ABSENT.or(n -> n.isNumber() && n.asDouble() == 1.0)),
            Map.entry("include_stop_str_in_output", ABSENT.or(n -> n.isBoolean() && !n.asBoolean())),
            Map.entry("skip_special_tokens", ABSENT.or(n -> n.isBoolean() && n.asBoolean())),
            Map.entry("spaces_between_special_tokens", ABSENT.or(n -> n.isBoolean() && n.asBoolean())),
            // A TGI parameter that Hugging Face's client carries into OpenAI bodies.
            Map.entry("watermark", ABSENT.or(n -> n.isBoolean() && !n.asBoolean())));

    /** TGI's {@code parameters}. */
    static final Map<String, Predicate<JsonNode>> TGI = Map.ofEntries(
            Map.entry("watermark", ABSENT.or(n -> n.isBoolean() && !n.asBoolean())),
            Map.entry("best_of", ABSENT.or(n -> n.isInt() && n.asInt() == 1)),
            Map.entry("adapter_id", ABSENT));

    private UnsupportedFields() {
    }

    /** A 400 naming the first field of {@code object} that is set to something other than its neutral value. */
    static void reject(JsonNode object, Map<String, Predicate<JsonNode>> fields) {
        if (object == null || !object.isObject()) {
            return;
        }
        for (Map.Entry<String, Predicate<JsonNode>> f : fields.entrySet()) {
            if (object.has(f.getKey()) && !f.getValue().test(object.get(f.getKey()))) {
                throw SpindleException.invalid(f.getKey(), "'" + f.getKey() + "' is not supported yet: Spindle does not "
                        + "implement it and will not ignore it (it changes what is generated); leave it out");
            }
        }
    }
}
