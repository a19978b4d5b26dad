package io.spindle.api.rest;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.spindle.api.dto.ChatCompletionRequest;
import io.spindle.api.dto.CompletionRequest;
import io.spindle.api.dto.EmbeddingRequest;
import io.spindle.api.dto.TgiRequest;
import io.spindle.api.dto.WsGenerate;
import io.spindle.api.error.ApiError;
import io.spindle.engine.request.ErrorKind;
import io.spindle.engine.request.SpindleException;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Random;
import java.util.function.Consumer;

import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Seeded fuzzing of the request parsers and their mapping to generation requests: thousands of
 * mutations of valid bodies (values swapped for other types, extremes, deep nesting, lone surrogates,
 * truncation, stray bytes, unknown fields). Every body must either parse or be refused as the client's
 * mistake; nothing may surface as an internal error (which the server would answer with a 500).
 */
class ParserFuzzTest {
    private static final int ROUNDS = 3000;
    private static final JsonNodeFactory F = JsonNodeFactory.instance;

    private static final String COMPLETION = "{\"model\":\"m\",\"prompt\":\"Hello\",\"max_tokens\":8,\"temperature\":0.7,"
            + "\"top_p\":0.9,\"top_k\":5,\"stop\":[\"x\"],\"seed\":1,\"stream\":true,\"logprobs\":0,"
            + "\"stream_options\":{\"include_usage\":true},\"presence_penalty\":0.1,\"frequency_penalty\":0.2}";
    private static final String CHAT = "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"},"
            + "{\"role\":\"assistant\",\"content\":[{\"type\":\"text\",\"text\":\"Yo\"}]}],\"max_completion_tokens\":4,"
            + "\"temperature\":0,\"logprobs\":true,\"stream\":false}";
    private static final String WS = "{\"type\":\"generate\",\"id\":\"a\",\"model\":\"m\",\"prompt\":[1,2,3],"
            + "\"max_tokens\":4,\"stop\":\"z\",\"seed\":3,\"logprobs\":true}";
    private static final String TGI = "{\"inputs\":\"Hi\",\"parameters\":{\"max_new_tokens\":4,\"temperature\":0.5,"
            + "\"top_k\":3,\"stop\":[\"a\"],\"details\":true,\"do_sample\":true}}";
    private static final String EMBED = "{\"model\":\"m\",\"input\":[\"a\",\"b\"],\"encoding_format\":\"float\"}";

    @ParameterizedTest
    @ValueSource(strings = {"completion", "chat", "ws", "tgi", "embeddings"})
    void mutatedBodiesParseOrAreRefusedAsClientErrors(String api) {
        String seed = switch (api) {
            case "completion" -> COMPLETION;
            case "chat" -> CHAT;
            case "ws" -> WS;
            case "tgi" -> TGI;
            default -> EMBED;
        };
        Consumer<String> parse = switch (api) {
            case "completion" -> b -> OpenAiMapping.completion(Json.read(b, CompletionRequest.class));
            case "chat" -> b -> OpenAiMapping.chat(Json.read(b, ChatCompletionRequest.class));
            case "ws" -> b -> OpenAiMapping.ws(Json.read(b, WsGenerate.class));
            case "tgi" -> b -> Json.read(b, TgiRequest.class);
            default -> b -> EmbeddingsResource.input(Json.read(b, EmbeddingRequest.class).input());
        };
        Random rnd = new Random(api.hashCode());
        JsonNode valid = Json.read(seed, JsonNode.class);
        parse.accept(seed); // the seed itself is valid
        for (int i = 0; i < ROUNDS; i++) {
            String body = mutate(valid, rnd);
            try {
                parse.accept(body);
            } catch (SpindleException e) {
                assertNotEquals(ErrorKind.MODEL_FAILURE, e.kind(), () -> "internal error for " + body + ": " + e.getMessage());
            } catch (RuntimeException e) {
                SpindleException c = ApiError.classify(e);
                if (c.kind() == ErrorKind.MODEL_FAILURE) {
                    fail("unexpected " + e + " for body " + abbreviate(body), e);
                }
            }
        }
    }

    private static String abbreviate(String s) {
        return s.length() > 600 ? s.substring(0, 600) + "…" : s;
    }

    private static String mutate(JsonNode valid, Random rnd) {
        JsonNode doc = valid.deepCopy();
        int edits = 1 + rnd.nextInt(3);
        for (int e = 0; e < edits; e++) {
            doc = mutateTree(doc, rnd);
        }
        String text = doc.toString();
        return switch (rnd.nextInt(10)) {
            case 0 -> text.substring(0, rnd.nextInt(text.length() + 1));             // truncated
            case 1 -> insert(text, rnd, List.of("\\ud800", "\\u0000", "\u0000", "\"", "}", ",", "\\x", "NaN",
                    "Infinity", "-", "1e999999", "\uFFFF", "\\uDC00\\uD800"));         // stray text
            case 2 -> text.replace("\"", "'");                                          // wrong quotes
            default -> text;
        };
    }

    private static String insert(String text, Random rnd, List<String> pieces) {
        int at = rnd.nextInt(text.length() + 1);
        return text.substring(0, at) + pieces.get(rnd.nextInt(pieces.size())) + text.substring(at);
    }

    /** Replaces a random node of the tree (possibly the root) with a hostile value, or adds/removes a field. */
    private static JsonNode mutateTree(JsonNode root, Random rnd) {
        List<JsonNode> containers = new ArrayList<>();
        collect(root, containers);
        if (containers.isEmpty()) {
            return hostile(rnd);
        }
        JsonNode target = containers.get(rnd.nextInt(containers.size()));
        if (target instanceof ObjectNode o) {
            List<String> names = new ArrayList<>();
            for (Iterator<String> it = o.fieldNames(); it.hasNext(); ) {
                names.add(it.next());
            }
            int op = rnd.nextInt(4);
            if (op == 0 && !names.isEmpty()) {
                o.remove(names.get(rnd.nextInt(names.size())));
            } else if (op == 1) {
                o.set("unknown_" + rnd.nextInt(5), hostile(rnd));
            } else if (!names.isEmpty()) {
                o.set(names.get(rnd.nextInt(names.size())), hostile(rnd));
            }
        } else if (target instanceof ArrayNode a) {
            if (a.isEmpty() || rnd.nextBoolean()) {
                a.add(hostile(rnd));
            } else {
                a.set(rnd.nextInt(a.size()), hostile(rnd));
            }
        }
        return rnd.nextInt(40) == 0 ? hostile(rnd) : root;
    }

    private static void collect(JsonNode n, List<JsonNode> out) {
        if (n.isContainerNode()) {
            out.add(n);
            n.forEach(c -> collect(c, out));
        }
    }

    private static JsonNode hostile(Random rnd) {
        return switch (rnd.nextInt(16)) {
            case 0 -> F.nullNode();
            case 1 -> F.textNode("");
            case 2 -> F.textNode("\ud800 lone" + "x".repeat(rnd.nextInt(3) * 1000));
            case 3 -> F.numberNode(Integer.MAX_VALUE);
            case 4 -> F.numberNode(Long.MIN_VALUE);
            case 5 -> F.numberNode(-1);
            case 6 -> F.numberNode(1e308 * 10);
            case 7 -> F.numberNode(new java.math.BigInteger("123456789012345678901234567890"));
            case 8 -> F.numberNode(0.5);
            case 9 -> F.booleanNode(rnd.nextBoolean());
            case 10 -> F.arrayNode();
            case 11 -> F.objectNode();
            case 12 -> {
                ArrayNode a = F.arrayNode();
                for (int i = 0; i < 1 + rnd.nextInt(300); i++) {
                    a.add(rnd.nextBoolean() ? F.numberNode(rnd.nextInt()) : F.textNode("s" + i));
                }
                yield a;
            }
            case 13 -> {
                JsonNode deep = F.arrayNode();
                for (int i = 0; i < 200 + rnd.nextInt(1200); i++) {
                    ArrayNode wrap = F.arrayNode();
                    wrap.add(deep);
                    deep = wrap;
                }
                yield deep;
            }
            case 14 -> F.textNode("[1,2]");
            default -> {
                ObjectNode o = F.objectNode();
                o.put("role", "user");
                o.set("content", rnd.nextBoolean() ? F.nullNode() : F.numberNode(7));
                yield o;
            }
        };
    }
}
