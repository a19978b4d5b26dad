package io.spindle.api.rest;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.MapperFeature;
import com.fasterxml.jackson.databind.cfg.CoercionAction;
import com.fasterxml.jackson.databind.cfg.CoercionInputShape;
import com.fasterxml.jackson.databind.type.LogicalType;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import io.spindle.api.error.ApiError;
import io.spindle.engine.request.SpindleException;

/**
 * Request parsing and response writing. Strict about types (a string where a number belongs is an
 * error naming the field), lenient about unknown fields (clients send many we do not use).
 */
public final class Json {
    public static final ObjectMapper MAPPER = strict(JsonMapper.builder()
            .disable(MapperFeature.ALLOW_COERCION_OF_SCALARS)
            .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
            .enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES)
            .build());

    /**
     * Jackson turns a number or a boolean into a string field's text even with scalar coercion off
     * ({@code "inputs": 42} became the prompt "42"); TGI answers 422 and OpenAI 400 there.
     */
    private static ObjectMapper strict(ObjectMapper mapper) {
        mapper.coercionConfigFor(LogicalType.Textual)
                .setCoercion(CoercionInputShape.Integer, CoercionAction.Fail)
                .setCoercion(CoercionInputShape.Float, CoercionAction.Fail)
                .setCoercion(CoercionInputShape.Boolean, CoercionAction.Fail);
        return mapper;
    }

    private Json() {
    }

    public static <T> T read(String body, Class<T> type) {
        if (body == null || body.isBlank()) {
            throw ApiError.malformed("the request body is empty; a JSON object is expected");
        }
        try {
            T value = MAPPER.readValue(body, type);
            if (value == null) {
                throw SpindleException.invalid(null, "the request body must be a JSON object");
            }
            return value;
        } catch (JsonProcessingException e) {
            throw ApiError.classify(e);
        }
    }

    /**
     * Parses {@code body} as a JSON object of {@code type}, first refusing any of {@code unsupported}
     * (fields set to something Spindle would otherwise have to ignore).
     */
    static <T> T read(String body, Class<T> type, java.util.Map<String, java.util.function.Predicate<com.fasterxml.jackson.databind.JsonNode>> unsupported) {
        if (body == null || body.isBlank()) {
            throw ApiError.malformed("the request body is empty; a JSON object is expected");
        }
        try {
            com.fasterxml.jackson.databind.JsonNode tree = MAPPER.readTree(body);
            if (tree == null || !tree.isObject()) {
                throw SpindleException.invalid(null, "the request body must be a JSON object");
            }
            UnsupportedFields.reject(tree, unsupported);
            if (tree.path("parameters").isObject() && unsupported == UnsupportedFields.TGI) {
                UnsupportedFields.reject(tree.get("parameters"), unsupported);
            }
            return MAPPER.treeToValue(tree, type);
        } catch (JsonProcessingException e) {
            throw ApiError.classify(e);
        }
    }

    public static String write(Object value) {
        try {
            return MAPPER.writeValueAsString(value);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot serialise " + value.getClass().getSimpleName(), e);
        }
    }
}
