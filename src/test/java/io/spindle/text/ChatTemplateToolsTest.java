package io.spindle.text;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;

import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Tools and tool-call turns reach Hugging Face chat templates as transformers passes them: Qwen2.5's
 * real template, rendered by Jinjava, equals what jinja2 renders with transformers' environment
 * ({@code chat-templates/render_reference.py} wrote the expected text); and {@code tojson} writes
 * as Python's {@code json.dumps} does.
 */
class ChatTemplateToolsTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    private static String resource(String name) throws Exception {
        try (InputStream in = ChatTemplateToolsTest.class.getResourceAsStream("/chat-templates/" + name)) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    @Test
    void qwenTemplateWithToolsCallsAndResultsRendersAsTransformersDoes() throws Exception {
        JsonNode conversation = JSON.readTree(resource("tools-conversation.json"));
        List<ChatMessage> messages = new ArrayList<>();
        for (JsonNode m : conversation.get("messages")) {
            List<ChatMessage.ToolCallMessage> calls = new ArrayList<>();
            for (JsonNode c : m.path("tool_calls")) {
                calls.add(new ChatMessage.ToolCallMessage(c.get("id").asText(), c.get("function").get("name").asText(),
                        JSON.convertValue(c.get("function").get("arguments"), Object.class)));
            }
            messages.add(new ChatMessage(m.get("role").asText(), m.get("content").asText(), null,
                    m.has("tool_call_id") ? m.get("tool_call_id").asText() : null, calls));
        }
        List<Object> tools = JSON.convertValue(conversation.get("tools"), JSON.getTypeFactory().constructCollectionType(List.class, Object.class));
        ChatTemplate qwen = new ChatTemplate(resource("qwen2.5-instruct.jinja"), null, null);
        assertEquals(resource("qwen2.5-instruct.tools.expected.txt"), qwen.render(messages, tools, true));
    }

    @Test
    void withoutToolsNothingChanges() throws Exception {
        ChatTemplate qwen = new ChatTemplate(resource("qwen2.5-instruct.jinja"), null, null);
        List<ChatMessage> chat = List.of(new ChatMessage("user", "Hi"));
        assertEquals("<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n"
                + "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n", qwen.render(chat, true));
    }

    @Test
    void theFallbackTemplateWritesToolsAndCalls() {
        ChatTemplate fallback = new ChatTemplate(null, null, null);
        Map<String, Object> fn = new LinkedHashMap<>();
        fn.put("name", "now");
        List<Object> tools = List.of(Map.of("type", "function", "function", fn));
        List<ChatMessage> chat = List.of(new ChatMessage("user", "Time?"),
                new ChatMessage("assistant", "", null, null, List.of(new ChatMessage.ToolCallMessage("c1", "now", Map.of()))),
                new ChatMessage("tool", "09:41", null, "c1", List.of()));
        assertEquals("tools: [{\"type\": \"function\", \"function\": {\"name\": \"now\"}}]\nuser: Time?\n"
                + "assistant: [{\"id\": \"c1\", \"type\": \"function\", \"function\": {\"name\": \"now\", \"arguments\": {}}}]\n"
                + "tool: 09:41\nassistant:", fallback.render(chat, tools, true));
    }

    @Test
    void toJsonWritesAsPythonJsonDumps() {
        Map<String, Object> v = new LinkedHashMap<>();
        Map<String, Object> inner = new LinkedHashMap<>();
        inner.put("b", null);
        inner.put("c", true);
        v.put("a", List.of(1, 2.5, inner));
        v.put("s", "é\"\\\n\t\u0001");
        v.put("e", List.of());
        v.put("o", Map.of());
        v.put("f", List.of(1e-05, 0.0001, 12345678.9, 1e16, 1.5e300, -2.0));
        // python3 -c 'import json; print(json.dumps(v, ensure_ascii=False))' with the same value
        assertEquals("{\"a\": [1, 2.5, {\"b\": null, \"c\": true}], \"s\": \"é\\\"\\\\\\n\\t\\u0001\", \"e\": [], \"o\": {}, "
                + "\"f\": [1e-05, 0.0001, 12345678.9, 1e+16, 1.5e+300, -2.0]}", PythonJson.dumps(v, null));
        assertEquals("{\n  \"a\": [\n    1,\n    {\n      \"c\": true\n    }\n  ],\n  \"e\": []\n}",
                PythonJson.dumps(ordered("a", List.of(1, Map.of("c", true)), "e", List.of()), 2));
        ChatTemplate t = new ChatTemplate("{{ x | tojson(indent=2) }}|{{ x | tojson }}", null, null);
        assertEquals(new ChatTemplate("{% for m in messages %}{{ m.content }}{% endfor %}", null, null)
                .render(List.of(new ChatMessage("user", "ok")), false), "ok");
        assertEquals("[\n  1\n]|[1]", new ChatTemplate("{{ [1] | tojson(indent=2) }}|{{ [1] | tojson }}", null, null)
                .render(List.of(), false));
    }

    private static Map<String, Object> ordered(Object... kv) {
        Map<String, Object> m = new LinkedHashMap<>();
        for (int i = 0; i < kv.length; i += 2) {
            m.put((String) kv[i], kv[i + 1]);
        }
        return m;
    }
}
