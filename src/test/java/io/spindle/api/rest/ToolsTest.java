package io.spindle.api.rest;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.spindle.text.ChatTemplate;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** How a chat answer is read, by tool_choice and by what the model's chat template teaches. */
class ToolsTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String HERMES = "{% for m in messages %}{{ m.content }}{% endfor %}"
            + "{# calls: <tool_call>{\"name\": …}</tool_call> #}";

    private static Tools read(String choice) throws Exception {
        return Tools.read(JSON.readTree("[{\"type\":\"function\",\"function\":{\"name\":\"f\"}}]"),
                choice == null ? null : JSON.readTree(choice), null);
    }

    @Test
    void autoReadsTheHermesSyntaxWhereTheTemplateTeachesItAndIsAnsweredAsNoneElsewhere() throws Exception {
        Tools auto = read(null);
        assertEquals(Tools.Answer.TAGGED_CALLS, auto.answer(HERMES));
        assertFalse(auto.answeredAsNone(HERMES));
        assertEquals(Tools.Answer.TEXT, auto.answer(ChatTemplate.FALLBACK));
        assertTrue(auto.answeredAsNone(ChatTemplate.FALLBACK), "the response header says so");
        assertEquals(Tools.Answer.CALLS, read("\"required\"").answer(HERMES));
        assertEquals(Tools.Answer.CALLS, read("{\"type\":\"function\",\"function\":{\"name\":\"f\"}}").answer(null));
        assertEquals(Tools.Answer.TEXT, read("\"none\"").answer(HERMES));
        assertFalse(read("\"none\"").answeredAsNone(ChatTemplate.FALLBACK));
        assertEquals(Tools.Answer.TEXT, Tools.read(null, JSON.readTree("\"auto\""), null).answer(HERMES), "no tools, no calls");
    }
}
