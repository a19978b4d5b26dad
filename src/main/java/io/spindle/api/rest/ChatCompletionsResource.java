package io.spindle.api.rest;

import io.smallrye.mutiny.Multi;
import io.spindle.api.dto.ChatCompletionChunk;
import io.spindle.api.dto.ChatCompletionRequest;
import io.spindle.api.dto.ChatCompletionResponse;
import io.spindle.api.dto.OpenAiUsage;
import io.spindle.api.error.ApiDialect;
import io.spindle.generation.Generation;
import io.spindle.generation.GenerationEvent;
import io.spindle.generation.GenerationService;
import io.spindle.generation.tool.ToolCall;
import io.spindle.generation.tool.ToolCallParser;
import io.spindle.generation.tool.ToolCallReader;
import io.spindle.generation.tool.TaggedToolCallReader;
import jakarta.inject.Inject;
import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.Context;
import jakarta.ws.rs.core.MediaType;
import io.vertx.core.http.HttpServerRequest;

import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

/**
 * OpenAI-compatible {@code POST /v1/chat/completions}: the conversation goes through the model's
 * chat template; streamed as chat.completion.chunk events (role first, with the first token;
 * finish_reason on the chunk of the last token, optional usage chunk, then [DONE]). A forced tool
 * choice ({@link Tools}), or {@code auto} on a model whose template teaches the Hermes syntax,
 * answers {@code tool_calls}, streamed as OpenAI streams them.
 */
@Path("/v1/chat/completions")
public class ChatCompletionsResource {
    private static final String ROLE = "assistant";

    @Inject
    GenerationService service;

    @POST
    @Consumes(MediaType.WILDCARD)
    @Produces(MediaType.TEXT_PLAIN)
    public Multi<String> create(String body, @Context HttpServerRequest request) {
        ChatCompletionRequest req = Json.read(body, ChatCompletionRequest.class, UnsupportedFields.OPENAI);
        Tools tools = OpenAiMapping.tools(req);
        List<Generation> gens = service.startAll(OpenAiMapping.chat(req, tools), HttpReply.transport(req.stream()));
        gens.forEach(g -> HttpReply.dropOnSlowReader(g, request));
        String template = gens.getFirst().model().chatTemplate() == null ? null
                : gens.getFirst().model().chatTemplate().source();
        if (tools.answeredAsNone(template)) {
            request.response().putHeader(Tools.ANSWERED_AS_HEADER, "none");
        }
        Response r = new Response(OpenAiMapping.newId("chatcmpl-"), Instant.now().getEpochSecond(),
                gens.getFirst().model().id(), Boolean.TRUE.equals(req.returnTokenIds()), Boolean.TRUE.equals(req.logprobs()),
                tools.answer(template));
        boolean usage = req.streamOptions() != null && Boolean.TRUE.equals(req.streamOptions().includeUsage());
        return Choices.reply(ApiDialect.OPENAI, gens, Boolean.TRUE.equals(req.stream()), () -> r.stream(gens, usage),
                events -> r.whole(gens, events));
    }

    /** @param answer how the text is read: plain, a forced call list, or text with calls in the model's syntax */
    private record Response(String id, long created, String model, boolean tokenIds, boolean logprobs, Tools.Answer answer) {

        /** A reader of tool calls for one choice, or null for plain text. */
        ToolCallReader reader() {
            return switch (answer) {
                case TEXT -> null;
                case CALLS -> new ToolCallParser();
                case TAGGED_CALLS -> new TaggedToolCallReader();
            };
        }

        Multi<String> stream(List<Generation> gens, boolean includeUsage) {
            GenerationEvent.Done[] ends = new GenerationEvent.Done[gens.size()];
            List<Multi<String>> choices = new ArrayList<>(gens.size());
            for (int i = 0; i < gens.size(); i++) {
                choices.add(new Choice(this, gens.get(i), i).stream(ends));
            }
            return Choices.stream(ApiDialect.OPENAI, choices, () -> {
                List<String> tail = new ArrayList<>(2);
                if (includeUsage) {
                    tail.add(HttpReply.data(new ChatCompletionChunk(id, "chat.completion.chunk", created, model,
                            List.of(), usage(gens, ends), ends[0] == null ? null : OpenAiMapping.timings(ends[0].timings()),
                            null)));
                }
                tail.add(HttpReply.DONE);
                return tail;
            });
        }

        /** The prompt counts once, every sample's tokens count. */
        private static OpenAiUsage usage(List<Generation> gens, GenerationEvent.Done[] ends) {
            int completion = 0;
            for (GenerationEvent.Done d : ends) {
                completion += d == null ? 0 : d.usage().completionTokens();
            }
            int prompt = gens.getFirst().promptTokens().length;
            int cached = ends[0] == null ? 0 : ends[0].usage().cachedPromptTokens();
            return new OpenAiUsage(prompt, completion, cached);
        }

        HttpReply whole(List<Generation> gens, List<List<GenerationEvent>> events) {
            List<ChatCompletionResponse.Choice> choices = new ArrayList<>(gens.size());
            GenerationEvent.Done[] ends = new GenerationEvent.Done[gens.size()];
            for (int i = 0; i < gens.size(); i++) {
                ends[i] = Shapes.done(events.get(i));
                choices.add(new Choice(this, gens.get(i), i).whole(events.get(i)));
            }
            return HttpReply.json(new ChatCompletionResponse(id, "chat.completion", created, model, choices,
                    usage(gens, ends), OpenAiMapping.timings(ends[0].timings()),
                    tokenIds ? gens.getFirst().promptTokens() : null));
        }
    }

    /** One sample, numbered {@code index}. */
    private record Choice(Response r, Generation gen, int index) {

        /**
         * The role chunk goes out with the first token, not at arrival: benchmark clients (vLLM's
         * {@code bench serve --backend openai-chat}) take the first chunk as the first token, so an
         * early one would read queueing and prefill as inter-token latency.
         */
        Multi<String> stream(GenerationEvent.Done[] ends) {
            boolean[] started = new boolean[1];
            ToolCallReader calls = r.reader();
            return gen.events().onItem().transformToIterable(ev -> switch (ev) {
                case GenerationEvent.KeepAlive k -> index == 0 ? List.of(HttpReply.KEEP_ALIVE) : List.<String>of();
                case GenerationEvent.Token t -> withRole(started, calls != null
                        ? callChunk(calls.read(t.text()), t, null, null)
                        : List.of(chunk(new ChatCompletionChunk.Delta(null, t.text()), t, null, null, null)));
                case GenerationEvent.Done d -> {
                    ends[index] = d;
                    String text = d.text();
                    if (calls != null) {
                        ToolCallReader.Output last = calls.read(text);
                        ToolCallReader.Output held = calls.end();
                        List<ToolCallParser.Delta> deltas = new ArrayList<>(last.calls());
                        deltas.addAll(held.calls());
                        yield withRole(started, callChunk(new ToolCallReader.Output(last.content() + held.content(), deltas),
                                d.lastToken(), finishReason(d, !calls.calls().isEmpty()), d));
                    }
                    yield withRole(started, List.of(chunk(new ChatCompletionChunk.Delta(null, text.isEmpty() ? null : text),
                            d.lastToken(), OpenAiMapping.finishReason(d.finish()), d, null)));
                }
            });
        }

        /**
         * What a piece of a tool call list adds, as OpenAI streams calls; a piece that completes
         * nothing sends no chunk, unless it carries logprobs or the finish.
         */
        private List<String> callChunk(ToolCallReader.Output piece, GenerationEvent.Token t, String finish,
                                       GenerationEvent.Done done) {
            List<ToolCallParser.Delta> deltas = piece.calls();
            String content = piece.content().isEmpty() ? null : piece.content();
            if (deltas.isEmpty() && content == null && finish == null && !(r.logprobs() && t != null)) {
                return List.of();
            }
            List<ChatCompletionChunk.ToolCallDelta> out = new ArrayList<>(deltas.size());
            for (ToolCallParser.Delta d : deltas) {
                out.add(new ChatCompletionChunk.ToolCallDelta(d.index(), d.id(), d.id() == null ? null : "function",
                        new ChatCompletionChunk.FunctionDelta(d.name(), d.arguments())));
            }
            return List.of(chunk(new ChatCompletionChunk.Delta(null, content, out.isEmpty() ? null : out), t, finish, done, null));
        }

        /** {@code tool_calls} when calls were read and the output ended as the format does. */
        private static String finishReason(GenerationEvent.Done d, boolean anyCall) {
            String reason = OpenAiMapping.finishReason(d.finish());
            return anyCall && reason.equals("stop") ? "tool_calls" : reason;
        }

        private List<String> withRole(boolean[] started, List<String> frames) {
            if (started[0]) {
                return frames;
            }
            started[0] = true;
            List<String> out = new ArrayList<>(frames.size() + 1);
            out.add(chunk(new ChatCompletionChunk.Delta(ROLE, r.answer() == Tools.Answer.TEXT ? "" : null), null, null, null,
                    r.tokenIds() ? gen.promptTokens() : null));
            out.addAll(frames);
            return out;
        }

        private String chunk(ChatCompletionChunk.Delta delta, GenerationEvent.Token t, String finish,
                             GenerationEvent.Done done, int[] promptIds) {
            ChatCompletionResponse.ChatLogprobs lp = r.logprobs() && t != null
                    ? new ChatCompletionResponse.ChatLogprobs(List.of(tokenLogprob(t)), null) : null;
            int[] ids = r.tokenIds() ? (t == null ? new int[0] : new int[] {t.tokenId()}) : null;
            ChatCompletionChunk.Choice c = new ChatCompletionChunk.Choice(index, delta, lp, finish, ids);
            return HttpReply.data(new ChatCompletionChunk(r.id(), "chat.completion.chunk", r.created(), r.model(),
                    List.of(c), null, done == null ? null : OpenAiMapping.timings(done.timings()), promptIds));
        }

        private ChatCompletionResponse.TokenLogprob tokenLogprob(GenerationEvent.Token t) {
            String text = gen.tokenText(t.tokenId());
            List<Object> top = new ArrayList<>();
            if (t.top() != null) {
                for (GenerationEvent.Alternative a : t.top()) {
                    top.add(new ChatCompletionResponse.TopLogprob(a.text(), a.logprob(), utf8(a.text())));
                }
            }
            return new ChatCompletionResponse.TokenLogprob(text, t.logprob(), utf8(text), top);
        }

        private static int[] utf8(String text) {
            byte[] utf8 = text.getBytes(StandardCharsets.UTF_8);
            int[] bytes = new int[utf8.length];
            for (int i = 0; i < utf8.length; i++) {
                bytes[i] = utf8[i] & 0xFF;
            }
            return bytes;
        }

        ChatCompletionResponse.Choice whole(List<GenerationEvent> events) {
            StringBuilder text = new StringBuilder();
            List<Integer> ids = new ArrayList<>();
            List<ChatCompletionResponse.TokenLogprob> lps = new ArrayList<>();
            GenerationEvent.Done done = Shapes.done(events);
            for (GenerationEvent.Token t : Shapes.tokens(events)) {
                text.append(t.text());
                ids.add(t.tokenId());
                if (r.logprobs()) {
                    lps.add(tokenLogprob(t));
                }
            }
            text.append(done.tailText());
            ChatCompletionResponse.Message message = new ChatCompletionResponse.Message(ROLE, text.toString(), null);
            String finish = OpenAiMapping.finishReason(done.finish());
            ToolCallReader reader = r.reader();
            if (reader != null) {
                reader.read(text.toString());
                reader.end();
                List<ChatCompletionResponse.ToolCall> calls = new ArrayList<>();
                for (ToolCall c : reader.calls()) {
                    calls.add(new ChatCompletionResponse.ToolCall(c.id(), "function",
                            new ChatCompletionResponse.Function(c.name(), c.arguments())));
                }
                if (!calls.isEmpty()) {
                    String content = reader.content().isBlank() ? null : reader.content();
                    message = new ChatCompletionResponse.Message(ROLE, content, null, calls);
                    finish = finishReason(done, true);
                }
            }
            return new ChatCompletionResponse.Choice(index, message,
                    r.logprobs() ? new ChatCompletionResponse.ChatLogprobs(lps, null) : null, finish,
                    r.tokenIds() ? ids.stream().mapToInt(Integer::intValue).toArray() : null);
        }
    }
}
