package io.spindle.text;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ChatTemplateTest {
    private static final List<ChatMessage> CONVERSATION = List.of(
            new ChatMessage("system", "Be brief."), new ChatMessage("user", "Hi!"));

    @Test
    void rendersAHuggingFaceStyleTemplate() {
        String chatml = "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content']"
                + " + '<|im_end|>' + '\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";
        ChatTemplate t = new ChatTemplate(chatml, null, null);
        assertEquals("<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi!<|im_end|>\n<|im_start|>assistant\n",
                t.render(CONVERSATION, true));
    }

    @Test
    void exposesBosAndEosTokens() {
        ChatTemplate t = new ChatTemplate("{{ bos_token }}{% for m in messages %}{{ m.content }}{{ eos_token }}{% endfor %}", "<s>", "</s>");
        assertEquals("<s>Be brief.</s>Hi!</s>", t.render(CONVERSATION, false));
    }

    @Test
    void raiseExceptionInATemplateBecomesItsMessage() {
        ChatTemplate t = new ChatTemplate("{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}", null, null);
        ChatTemplate.TemplateException e = assertThrows(ChatTemplate.TemplateException.class, () -> t.render(CONVERSATION, true));
        assertTrue(e.getMessage().contains("System role not supported"), e.getMessage());
    }

    @Test
    void modelsWithoutATemplateUseTheDocumentedFallback() {
        ChatTemplate t = new ChatTemplate(null, null, null);
        assertTrue(t.isFallback());
        assertEquals("system: Be brief.\nuser: Hi!\nassistant:", t.render(CONVERSATION, true));
    }
}
