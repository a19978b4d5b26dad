package io.spindle.api.rest;

import com.fasterxml.jackson.databind.JsonNode;
import io.spindle.api.dto.ChatCompletionRequest;
import io.spindle.api.dto.CompletionRequest;
import io.spindle.api.dto.OpenAiUsage;
import io.spindle.api.dto.Timings;
import io.spindle.api.dto.WsGenerate;
import io.spindle.engine.request.SpindleException;
import io.spindle.generation.GenerationEvent;
import io.spindle.generation.GenerationFinish;
import io.spindle.generation.GenerationOptions;
import io.spindle.generation.GenerationRequest;
import io.spindle.generation.Prompt;
import io.spindle.text.ChatMessage;

import java.util.ArrayList;
import java.util.List;
import java.util.UUID;

/** OpenAI request fields → {@link GenerationRequest}, and the small pieces both OpenAI endpoints share. */
public final class OpenAiMapping {
    /** OpenAI's default max_tokens for /v1/completions. */
    static final int COMPLETIONS_DEFAULT_MAX_TOKENS = 16;

    private OpenAiMapping() {
    }

    /** The most prompts one completions request may carry (each becomes its own choices). */
    static final int MAX_PROMPTS = 64;

    /** One request per prompt (a prompt array gives several), each with its samples. */
    public static List<GenerationRequest> completion(CompletionRequest r) {
        checkCommon(r.n(), r.maxTokens(), "max_tokens");
        int n = r.n() == null ? 1 : r.n();
        int samples = n;
        if (r.bestOf() != null) {
            if (r.bestOf() < n) {
                throw SpindleException.invalid("best_of", "best_of must be >= n");
            }
            if (r.bestOf() > n && Boolean.TRUE.equals(r.stream())) {
                throw SpindleException.invalid("best_of", "best_of cannot be streamed: the best samples are known only at the end");
            }
            samples = r.bestOf();
        }
        if (r.suffix() != null && !r.suffix().isEmpty()) {
            throw SpindleException.invalid("suffix", "suffix (insertion) is not supported by this model family");
        }
        boolean logprobs = r.logprobs() != null;
        boolean echoScores = logprobs && echo(r);
        if (r.truncate() != null && r.truncatePromptTokens() != null) {
            throw SpindleException.invalid("truncate", "send truncate_prompt_tokens or truncate, not both");
        }
        GenerationOptions options = new GenerationOptions(orZero(r.minP()), r.typicalP() == null ? 1 : r.typicalP(),
                r.minTokens() == null ? 0 : r.minTokens(),
                r.truncatePromptTokens() != null ? r.truncatePromptTokens() : r.truncate(),
                logprobs ? topLogprobs(r.logprobs(), "logprobs") : 0, echoScores)
                .withSamples(samples, samples > n)
                .withConstraint(Constraints.openAi(r.responseFormat(), r.guidedJson(), r.guidedRegex(), r.guidedChoice(),
                        r.structuredOutputs(), r.grammar()));
        // TGI's do_sample: false (from Hugging Face's client) means greedy where no temperature says otherwise.
        Double temperature = r.temperature() == null && Boolean.FALSE.equals(r.doSample()) ? Double.valueOf(0) : r.temperature();
        List<GenerationRequest> out = new ArrayList<>();
        for (Prompt p : prompts(r.prompt())) {
            out.add(new GenerationRequest(r.model(), p,
                    r.maxTokens() == null ? COMPLETIONS_DEFAULT_MAX_TOKENS : r.maxTokens(), temperature, r.topK(),
                    r.topP(), r.repetitionPenalty(), r.presencePenalty(), r.frequencyPenalty(), r.seed(), stops(r.stop()),
                    r.stopTokenIds(), Boolean.TRUE.equals(r.ignoreEos()), logprobs, logitBias(r.logitBias()), options));
        }
        return out;
    }

    /** {@code prompt} as a list of prompts: several strings or token-id lists, or one prompt of any form. */
    static List<Prompt> prompts(JsonNode p) {
        if (p != null && p.isArray() && p.size() > 1 && (p.get(0).isTextual() || p.get(0).isArray())) {
            if (p.size() > MAX_PROMPTS) {
                throw SpindleException.invalid("prompt", "at most " + MAX_PROMPTS + " prompts per request; got " + p.size());
            }
            List<Prompt> out = new ArrayList<>(p.size());
            for (int i = 0; i < p.size(); i++) {
                JsonNode one = p.get(i);
                if (one.isTextual()) {
                    out.add(new Prompt.Text(one.asText()));
                } else if (one.isArray()) {
                    out.add(tokens(one));
                } else {
                    throw SpindleException.invalid("prompt", "prompt[" + i + "] must be a string or a list of token ids, "
                            + "like the other prompts");
                }
            }
            return out;
        }
        return List.of(prompt(p));
    }

    /** OpenAI's {@code echo}, or TGI's {@code return_full_text} as Hugging Face's client sends it. */
    public static boolean echo(CompletionRequest r) {
        return Boolean.TRUE.equals(r.echo()) || Boolean.TRUE.equals(r.returnFullText());
    }

    private static double orZero(Double d) {
        return d == null ? 0 : d;
    }

    private static int topLogprobs(Integer n, String param) {
        if (n == null) {
            return 0;
        }
        if (n < 0 || n > io.spindle.sampling.Logprobs.MAX_TOP) {
            throw SpindleException.invalid(param, param + " must be in [0, " + io.spindle.sampling.Logprobs.MAX_TOP + "]");
        }
        return n;
    }

    /** OpenAI's {@code logit_bias} (token ids as JSON object keys), bounded before it is parsed further. */
    static java.util.Map<Integer, Double> logitBias(java.util.Map<String, Double> bias) {
        if (bias == null || bias.isEmpty()) {
            return null;
        }
        if (bias.size() > io.spindle.sampling.LogitBias.MAX_ENTRIES) {
            throw SpindleException.invalid("logit_bias", "logit_bias may hold at most "
                    + io.spindle.sampling.LogitBias.MAX_ENTRIES + " tokens; it has " + bias.size());
        }
        java.util.Map<Integer, Double> out = new java.util.LinkedHashMap<>();
        for (java.util.Map.Entry<String, Double> e : bias.entrySet()) {
            try {
                out.put(Integer.parseInt(e.getKey().strip()), e.getValue());
            } catch (NumberFormatException nfe) {
                throw SpindleException.invalid("logit_bias", "logit_bias keys must be token ids, got '"
                        + (e.getKey().length() > 40 ? e.getKey().substring(0, 40) + "…" : e.getKey()) + "'");
            }
        }
        return out;
    }

    public static GenerationRequest chat(ChatCompletionRequest r) {
        return chat(r, tools(r));
    }

    static Tools tools(ChatCompletionRequest r) {
        return Tools.read(r.tools(), r.toolChoice(), r.parallelToolCalls());
    }

    /** A chat request with the tools it offers already read. */
    static GenerationRequest chat(ChatCompletionRequest r, Tools tools) {
        Integer max = r.maxCompletionTokens() != null ? r.maxCompletionTokens() : r.maxTokens();
        String maxParam = r.maxCompletionTokens() != null ? "max_completion_tokens" : "max_tokens";
        checkCommon(r.n(), max, maxParam);
        if (max != null && max == 0) {
            throw SpindleException.invalid(maxParam, maxParam + " must be >= 1");
        }
        GenerationOptions options = new GenerationOptions(orZero(r.minP()), 1, r.minTokens() == null ? 0 : r.minTokens(),
                r.truncatePromptTokens(), topLogprobs(r.topLogprobs(), "top_logprobs"), false)
                .withSamples(r.n() == null ? 1 : r.n(), false)
                .withConstraint(constraint(r, tools));
        return new GenerationRequest(r.model(), messages(r.messages(), tools.templateTools()), max, r.temperature(), r.topK(), r.topP(),
                r.repetitionPenalty(), r.presencePenalty(), r.frequencyPenalty(), r.seed(), stops(r.stop()),
                r.stopTokenIds(), Boolean.TRUE.equals(r.ignoreEos()), Boolean.TRUE.equals(r.logprobs()),
                logitBias(r.logitBias()), options);
    }

    /** A forced tool call, or the structured-output fields; both at once is a 400. */
    private static io.spindle.generation.OutputConstraint constraint(ChatCompletionRequest r, Tools tools) {
        io.spindle.generation.OutputConstraint format = Constraints.openAi(r.responseFormat(), r.guidedJson(),
                r.guidedRegex(), r.guidedChoice(), r.structuredOutputs(), r.grammar());
        if (!tools.forced()) {
            return format;
        }
        if (format != null) {
            throw SpindleException.invalid("tool_choice", "tool_choice forces a tool call, which fixes the output's "
                    + "format; " + format.field() + " cannot hold it too: send one of them");
        }
        return tools.constraint();
    }

    /** A {@code generate} frame of the WebSocket protocol: {@code messages} for chat, else {@code prompt}. */
    public static GenerationRequest ws(WsGenerate g) {
        checkCommon(null, g.maxTokens(), "max_tokens");
        Prompt prompt = g.messages() != null ? messages(g.messages()) : prompt(g.prompt());
        return new GenerationRequest(g.model(), prompt, g.maxTokens(), g.temperature(), g.topK(), g.topP(),
                g.repetitionPenalty(), g.presencePenalty(), g.frequencyPenalty(), g.seed(), stops(g.stop()),
                g.stopTokenIds(), Boolean.TRUE.equals(g.ignoreEos()), Boolean.TRUE.equals(g.logprobs()),
                logitBias(g.logitBias()), GenerationOptions.NONE.withConstraint(Constraints.ws(g.constraint())));
    }

    /** The roles OpenAI's chat API knows; chat templates are written for these. */
    static final java.util.Set<String> CHAT_ROLES = new java.util.TreeSet<>(
            java.util.Set.of("system", "developer", "user", "assistant", "tool", "function"));

    public static Prompt messages(List<ChatCompletionRequest.Message> list) {
        return messages(list, List.of());
    }

    /** The conversation, with the offered tools ({@link Tools#templateTools}) for the chat template. */
    static Prompt messages(List<ChatCompletionRequest.Message> list, List<Object> tools) {
        if (list == null || list.isEmpty()) {
            throw SpindleException.invalid("messages", "'messages' must hold at least one message");
        }
        List<ChatMessage> messages = new ArrayList<>();
        for (int i = 0; i < list.size(); i++) {
            ChatCompletionRequest.Message m = list.get(i);
            if (m == null || m.role() == null || m.role().isBlank()) {
                throw SpindleException.invalid("messages", "messages[" + i + "].role is required");
            }
            if (!CHAT_ROLES.contains(m.role())) {
                throw SpindleException.invalid("messages", "messages[" + i + "].role '"
                        + (m.role().length() > 40 ? m.role().substring(0, 40) + "…" : m.role())
                        + "' is not one of " + CHAT_ROLES);
            }
            messages.add(new ChatMessage(m.role(), content(m.content(), i), m.name(), m.toolCallId(),
                    toolCalls(m.toolCalls(), i)));
        }
        return new Prompt.Chat(messages, tools);
    }

    /** The most samples of one prompt a request may ask for (the engine also bounds them by its batch). */
    static final int MAX_N = 128;

    private static void checkCommon(Integer n, Integer maxTokens, String maxParam) {
        if (n != null && (n < 1 || n > MAX_N)) {
            throw SpindleException.invalid("n", "n must be in [1, " + MAX_N + "]");
        }
        if (maxTokens != null && maxTokens < 0) {
            throw SpindleException.invalid(maxParam, maxParam + " must be >= 1");
        }
    }

    /** A string, a one-element list of strings, a list of token ids, or a one-element list of such a list. */
    public static Prompt prompt(JsonNode p) {
        if (p == null || p.isNull()) {
            throw SpindleException.invalid("prompt", "'prompt' is required");
        }
        if (p.isTextual()) {
            return new Prompt.Text(p.asText());
        }
        if (p.isArray() && !p.isEmpty() && p.get(0).isTextual()) {
            if (p.size() != 1) {
                throw SpindleException.invalid("prompt", "a list of prompts is not supported here; send one prompt");
            }
            return new Prompt.Text(p.get(0).asText());
        }
        if (p.isArray() && !p.isEmpty() && p.get(0).isArray()) {
            if (p.size() != 1) {
                throw SpindleException.invalid("prompt", "a list of prompts is not supported here; send one prompt");
            }
            return tokens(p.get(0));
        }
        if (p.isArray()) {
            return tokens(p);
        }
        throw SpindleException.invalid("prompt", "'prompt' must be a string or a list of token ids");
    }

    private static Prompt tokens(JsonNode arr) {
        int[] ids = new int[arr.size()];
        for (int i = 0; i < ids.length; i++) {
            if (!arr.get(i).canConvertToInt() || !arr.get(i).isIntegralNumber()) {
                throw SpindleException.invalid("prompt", "prompt[" + i + "] is not a token id");
            }
            ids[i] = arr.get(i).asInt();
        }
        if (ids.length == 0) {
            throw SpindleException.invalid("prompt", "the prompt is empty");
        }
        return new Prompt.Tokens(ids);
    }

    public static List<String> stops(JsonNode stop) {
        if (stop == null || stop.isNull()) {
            return List.of();
        }
        if (stop.isTextual()) {
            return List.of(stop.asText());
        }
        if (stop.isArray()) {
            List<String> out = new ArrayList<>();
            for (JsonNode s : stop) {
                if (!s.isTextual()) {
                    throw SpindleException.invalid("stop", "'stop' must be a string or a list of strings");
                }
                out.add(s.asText());
            }
            return out;
        }
        throw SpindleException.invalid("stop", "'stop' must be a string or a list of strings");
    }

    /**
     * An assistant message's {@code tool_calls}, with each call's {@code arguments} (a JSON text in
     * OpenAI's API) parsed for the template as transformers' templates expect; arguments that do not
     * parse are passed as the text.
     */
    private static List<ChatMessage.ToolCallMessage> toolCalls(JsonNode calls, int index) {
        if (calls == null || calls.isNull()) {
            return List.of();
        }
        String at = "messages[" + index + "].tool_calls";
        if (!calls.isArray()) {
            throw SpindleException.invalid("messages", at + " must be a list of calls");
        }
        List<ChatMessage.ToolCallMessage> out = new ArrayList<>(calls.size());
        for (int k = 0; k < calls.size(); k++) {
            JsonNode f = calls.get(k).path("function");
            if (!f.path("name").isTextual()) {
                throw SpindleException.invalid("messages", at + "[" + k + "].function.name is required");
            }
            JsonNode args = f.get("arguments");
            Object arguments;
            if (args == null || args.isNull()) {
                arguments = java.util.Map.of();
            } else if (args.isTextual()) {
                arguments = parsedOrText(args.asText());
            } else {
                arguments = Json.MAPPER.convertValue(args, Object.class);
            }
            JsonNode id = calls.get(k).get("id");
            out.add(new ChatMessage.ToolCallMessage(id != null && id.isTextual() ? id.asText() : null,
                    f.get("name").asText(), arguments));
        }
        return out;
    }

    private static Object parsedOrText(String json) {
        try {
            return Json.MAPPER.readValue(json, Object.class);
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            return json;
        }
    }

    private static String content(JsonNode c, int index) {
        if (c == null || c.isNull()) {
            return "";
        }
        if (c.isTextual()) {
            return c.asText();
        }
        if (c.isArray()) {
            StringBuilder sb = new StringBuilder();
            for (JsonNode part : c) {
                if (!"text".equals(part.path("type").asText())) {
                    throw SpindleException.invalid("messages", "messages[" + index + "].content: only text parts are supported");
                }
                sb.append(part.path("text").asText());
            }
            return sb.toString();
        }
        throw SpindleException.invalid("messages", "messages[" + index + "].content must be a string or a list of text parts");
    }

    public static String finishReason(GenerationFinish f) {
        return f == GenerationFinish.LENGTH ? "length" : "stop";
    }

    public static OpenAiUsage usage(GenerationEvent.Usage u) {
        return new OpenAiUsage(u.promptTokens(), u.completionTokens(), u.cachedPromptTokens());
    }

    public static Timings timings(GenerationEvent.Timings t) {
        return new Timings(round(t.queueMs()), round(t.timeToFirstTokenMs()), round(t.totalMs()),
                round(t.decodeTokensPerSecond()), t.cachedPromptTokens());
    }

    private static double round(double v) {
        return Math.round(v * 1000) / 1000.0;
    }

    public static String newId(String prefix) {
        return prefix + UUID.randomUUID().toString().replace("-", "");
    }
}
