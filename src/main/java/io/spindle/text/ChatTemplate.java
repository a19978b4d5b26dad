package io.spindle.text;

import com.hubspot.jinjava.Jinjava;
import com.hubspot.jinjava.JinjavaConfig;
import com.hubspot.jinjava.LegacyOverrides;
import com.hubspot.jinjava.interpret.FatalTemplateErrorsException;
import com.hubspot.jinjava.interpret.RenderResult;
import com.hubspot.jinjava.interpret.TemplateError;
import com.hubspot.jinjava.interpret.JinjavaInterpreter;
import com.hubspot.jinjava.lib.filter.Filter;
import com.hubspot.jinjava.lib.fn.ELFunctionDefinition;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Renders a conversation into a prompt with the model's {@code chat_template} (Hugging Face's Jinja
 * dialect, through Jinjava), or with {@link #FALLBACK} when the model has none. Thread-safe.
 */
public final class ChatTemplate {
    /**
     * Used for models without a chat_template: one "role: content" line per message, the offered
     * tools first and an assistant's calls after its content, both as JSON.
     */
    public static final String FALLBACK = "{% if tools %}{{ 'tools: ' + (tools | tojson) + '\\n' }}{% endif %}"
            + "{% for message in messages %}{{ message['role'] }}: {{ message['content'] }}"
            + "{% if message['tool_calls'] %}{{ message['tool_calls'] | tojson }}{% endif %}{{ '\\n' }}"
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
        // Jinja2's semantics where Jinjava's defaults differ: "{{-" trims like "{%-" (most templates
        // written for transformers rely on it), iterating a dict gives its keys, Python's operator precedence.
        this.jinjava = new Jinjava(JinjavaConfig.newBuilder().withTrimBlocks(true).withLstripBlocks(true)
                .withLegacyOverrides(LegacyOverrides.newBuilder()
                        .withUseTrimmingForNotesAndExpressions(true)
                        .withParseWhitespaceControlStrictly(true)
                        .withIterateOverMapKeys(true)
                        .withUseNaturalOperatorPrecedence(true)
                        .withEvaluateMapKeys(true)
                        .build())
                .build());
        jinjava.getGlobalContext().registerFunction(new ELFunctionDefinition("", "raise_exception",
                ChatTemplate.class, "raiseException", String.class));
        jinjava.getGlobalContext().registerFilter(new ToJson());
    }

    public boolean isFallback() {
        return fallback;
    }

    /** Throws {@link TemplateException} with the template's own message when it rejects the conversation. */
    public String render(List<ChatMessage> messages, boolean addGenerationPrompt) {
        return render(messages, List.of(), addGenerationPrompt);
    }

    /**
     * @param tools the offered tools as Hugging Face templates read them (OpenAI's
     *              {@code {"type": "function", "function": {...}}} objects as plain maps); empty for none
     */
    public String render(List<ChatMessage> messages, List<?> tools, boolean addGenerationPrompt) {
        List<Map<String, Object>> msgs = new ArrayList<>(messages.size());
        for (ChatMessage m : messages) {
            msgs.add(asTemplateReadsIt(m));
        }
        Map<String, Object> ctx = new HashMap<>();
        ctx.put("messages", msgs);
        if (tools != null && !tools.isEmpty()) {
            ctx.put("tools", tools);
        }
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

    /**
     * A message as transformers passes it: keys that the message does not have are absent, not
     * empty (templates test {@code 'tool_calls' in message}), and an assistant's calls are
     * {@code {"id", "type": "function", "function": {"name", "arguments"}}}.
     */
    private static Map<String, Object> asTemplateReadsIt(ChatMessage m) {
        Map<String, Object> msg = new LinkedHashMap<>();
        msg.put("role", m.role());
        msg.put("content", m.content());
        if (m.name() != null) {
            msg.put("name", m.name());
        }
        if (m.toolCallId() != null) {
            msg.put("tool_call_id", m.toolCallId());
        }
        if (!m.toolCalls().isEmpty()) {
            List<Map<String, Object>> calls = new ArrayList<>(m.toolCalls().size());
            for (ChatMessage.ToolCallMessage c : m.toolCalls()) {
                Map<String, Object> function = new LinkedHashMap<>();
                function.put("name", c.name());
                function.put("arguments", c.arguments());
                Map<String, Object> call = new LinkedHashMap<>();
                if (c.id() != null) {
                    call.put("id", c.id());
                }
                call.put("type", "function");
                call.put("function", function);
                calls.add(call);
            }
            msg.put("tool_calls", calls);
        }
        return msg;
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

    /**
     * transformers' {@code tojson} (Python's {@code json.dumps} with {@code ensure_ascii=False}, an
     * optional {@code indent}) instead of Jinjava's compact one: templates write tool schemas and
     * call arguments with it, and a model should see them spaced as in training.
     */
    private static final class ToJson implements Filter {
        @Override
        public String getName() {
            return "tojson";
        }

        @Override
        public Object filter(Object var, JinjavaInterpreter interpreter, String... args) {
            return PythonJson.dumps(var, args.length > 0 ? indent(args[0]) : null);
        }

        @Override
        public Object filter(Object var, JinjavaInterpreter interpreter, Object[] args, Map<String, Object> kwargs) {
            Object indent = kwargs.containsKey("indent") ? kwargs.get("indent") : args.length > 0 ? args[0] : null;
            return PythonJson.dumps(var, indent == null ? null : indent(indent.toString()));
        }

        private static Integer indent(String s) {
            try {
                return Integer.valueOf(s.strip());
            } catch (NumberFormatException e) {
                return null;
            }
        }
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
