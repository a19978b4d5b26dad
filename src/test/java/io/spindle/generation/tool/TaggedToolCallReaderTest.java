package io.spindle.generation.tool;

import org.junit.jupiter.api.Test;

import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Calls in the Hermes syntax read out of free text, however it is cut into pieces. */
class TaggedToolCallReaderTest {
    private static final String TEXT = "Let me check.\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Zürich\", "
            + "\"unit\": \"celsius\"}}\n</tool_call>\n<tool_call>\n{\"name\": \"now\", \"arguments\": {}}\n</tool_call> ok <b>";

    @Test
    void callsAndContentComeOutWholeHoweverTheTextIsCut() {
        for (int piece = 1; piece <= TEXT.length(); piece++) {
            int[] n = {0};
            TaggedToolCallReader r = new TaggedToolCallReader(() -> "c" + n[0]++);
            StringBuilder content = new StringBuilder();
            List<ToolCallParser.Delta> calls = new ArrayList<>();
            for (int i = 0; i < TEXT.length(); i += piece) {
                ToolCallReader.Output o = r.read(TEXT.substring(i, Math.min(TEXT.length(), i + piece)));
                assertFalse(o.content().contains("<tool"), "no part of a tag leaks as content: " + o.content());
                content.append(o.content());
                calls.addAll(o.calls());
            }
            content.append(r.end().content());
            assertEquals("Let me check.\n\n ok <b>", content.toString(), "piece " + piece);
            assertEquals(content.toString(), r.content());
            assertEquals(List.of(new ToolCallParser.Delta(0, "c0", "get_weather", "{\"city\":\"Zürich\",\"unit\":\"celsius\"}"),
                    new ToolCallParser.Delta(1, "c1", "now", "{}")), calls, "piece " + piece);
            assertEquals(List.of(new ToolCall("c0", "get_weather", "{\"city\":\"Zürich\",\"unit\":\"celsius\"}"),
                    new ToolCall("c1", "now", "{}")), r.calls());
        }
    }

    @Test
    void aTailThatMayStartATagIsHeldUntilItCannot() {
        TaggedToolCallReader r = new TaggedToolCallReader(() -> "c");
        assertEquals("a ", r.read("a <to").content());
        assertEquals("<top", r.read("p").content());
        assertEquals("", r.read("<tool_c").content());
        assertEquals("<tool_c", r.end().content(), "held text is content at the end");
    }

    @Test
    void blocksThatAreNotCallsStayContent() {
        TaggedToolCallReader r = new TaggedToolCallReader(() -> "c");
        assertEquals("x<tool_call>not json</tool_call>", r.read("x<tool_call>not json</tool_call>").content());
        assertEquals("", r.read("<tool_call>{\"name\": \"f\"").content());
        assertEquals("<tool_call>{\"name\": \"f\"", r.end().content(), "an unclosed block at the end is content");
        assertTrue(r.calls().isEmpty());
        TaggedToolCallReader p = new TaggedToolCallReader(() -> "c");
        p.read("<tool_call>{\"name\": \"f\", \"parameters\": {\"a\": 1}}</tool_call>");
        assertEquals(List.of(new ToolCall("c", "f", "{\"a\":1}")), p.calls(), "Llama's \"parameters\" is read too");
    }

    @Test
    void templatesThatTeachTheSyntaxAreRecognised() throws Exception {
        try (InputStream in = getClass().getResourceAsStream("/chat-templates/qwen2.5-instruct.jinja")) {
            assertTrue(TaggedToolCallReader.taughtBy(new String(in.readAllBytes(), StandardCharsets.UTF_8)));
        }
        assertFalse(TaggedToolCallReader.taughtBy(io.spindle.text.ChatTemplate.FALLBACK));
        assertFalse(TaggedToolCallReader.taughtBy(null));
    }
}
