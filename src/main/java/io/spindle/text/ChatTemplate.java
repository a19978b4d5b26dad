package io.spindle.text;

import com.hubspot.jinjava.Jinjava;
import com.hubspot.jinjava.JinjavaConfig;
import com.hubspot.jinjava.interpret.FatalTemplateErrorsException;
import com.hubspot.jinjava.interpret.RenderResult;
import com.hubspot.jinjava.interpret.TemplateError;
import com.hubspot.jinjava.lib.fn.ELFunctionDefinition;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Renders a conversation into a prompt with the model's {@code chat_template} (Hugging Face's Jinja
 * dialect, through Jinjava), or with {@link #FALLBACK} when the model has none. Thread-safe.
 */
public final class ChatTemplate {
    /** Used for models without a chat_template: one "role: content" line per message. */
    public static final String FALLBACK = "{% for message in messages %}{{ message['role'] }}: {{ message['content'] }}\n"
            + "{% endfor %}{% if add_generation_prompt %}assistant:{% endif %}";

    private final Jinjava jinjava;
    private final String template;
    private final boolean fallback;
    private final String bosToken;
    private final String eosToken;

    public ChatTemplate(String template, String bosToken, String eosToken) {
        this.fallback = template == null || template.isBlank();
        this.template = fallback ? FALLBACK : template;
        this.bosToken = bosToken == null ? "" : bosToken;
        this.eosToken = eosToken == null ? "" : eosToken;
        this.jinjava = new Jinjava(JinjavaConfig.newBuilder().withTrimBlocks(true).withLstripBlocks(true).build());
        jinjava.getGlobalContext().registerFunction(new ELFunctionDefinition("", "raise_exception",
                ChatTemplate.class, "raiseException", String.class));
    }

    public boolean isFallback() {
        return fallback;
    }

    /** Throws {@link TemplateException} with the template's own message when it rejects the conversation. */
    public String render(List<ChatMessage> messages, boolean addGenerationPrompt) {
        List<Map<String, Object>> msgs = new ArrayList<>(messages.size());
        for (ChatMessage m : messages) {
            msgs.add(Map.of("role", m.role(), "content", m.content()));
        }
        Map<String, Object> ctx = new HashMap<>();
        ctx.put("messages", msgs);
        ctx.put("add_generation_prompt", addGenerationPrompt);
        ctx.put("bos_token", bosToken);
        ctx.put("eos_token", eosToken);
        try {
            RenderResult result = jinjava.renderForResult(template, ctx);
            for (TemplateError e : result.getErrors()) {
                if (e.getSeverity() == TemplateError.ErrorType.FATAL) {
                    throw new TemplateException(messageOf(e));
                }
            }
            return result.getOutput();
        } catch (FatalTemplateErrorsException e) {
            throw new TemplateException(e.getErrors().iterator().hasNext()
                    ? messageOf(e.getErrors().iterator().next()) : e.getMessage());
        }
    }

    private static String messageOf(TemplateError e) {
        Throwable cause = e.getException();
        while (cause != null) {
            if (cause instanceof TemplateException t) {
                return t.getMessage();
            }
            cause = cause.getCause();
        }
        return "chat template error: " + e.getMessage();
    }

    /** Called by templates as {@code raise_exception('...')}. */
    public static String raiseException(String message) {
        throw new TemplateException(message);
    }

    /** The template refused to render the conversation; the message is the template's own. */
    public static final class TemplateException extends RuntimeException {
        public TemplateException(String message) {
            super(message);
        }
    }
}
