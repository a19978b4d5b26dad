package io.spindle.api.rest;

import io.smallrye.mutiny.Multi;
import io.spindle.api.dto.ChatCompletionChunk;
import io.spindle.api.dto.ChatCompletionRequest;
import io.spindle.api.dto.ChatCompletionResponse;
import io.spindle.api.error.ApiDialect;
import io.spindle.generation.Generation;
import io.spindle.generation.GenerationEvent;
import io.spindle.generation.GenerationService;
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
 * finish_reason on the chunk of the last token, optional usage chunk, then [DONE]).
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
        Generation gen = service.start(OpenAiMapping.chat(req), HttpReply.transport(req.stream()));
        HttpReply.dropOnSlowReader(gen, request);
        Shape shape = new Shape(OpenAiMapping.newId("chatcmpl-"), Instant.now().getEpochSecond(), gen.model().id(),
                gen, Boolean.TRUE.equals(req.returnTokenIds()), Boolean.TRUE.equals(req.logprobs()));
        boolean usage = req.streamOptions() != null && Boolean.TRUE.equals(req.streamOptions().includeUsage());
        return HttpReply.of(ApiDialect.OPENAI, gen, Boolean.TRUE.equals(req.stream()), () -> shape.stream(usage),
                shape::whole);
    }

    private record Shape(String id, long created, String model, Generation gen, boolean tokenIds, boolean logprobs) {

        /**
         * The role chunk goes out with the first token, not at arrival: benchmark clients (vLLM's
         * {@code bench serve --backend openai-chat}) take the first chunk as the first token, so an
         * early one would read queueing and prefill as inter-token latency.
         */
        Multi<String> stream(boolean includeUsage) {
            boolean[] started = new boolean[1];
            Multi<String> body = gen.events().onItem().transformToIterable(ev -> switch (ev) {
                case GenerationEvent.KeepAlive k -> List.of(HttpReply.KEEP_ALIVE);
                case GenerationEvent.Token t -> withRole(started,
                        List.of(chunk(new ChatCompletionChunk.Delta(null, t.text()), t, null, null, null)));
                case GenerationEvent.Done d -> {
                    List<String> out = new ArrayList<>(3);
                    String text = d.text();
                    out.add(chunk(new ChatCompletionChunk.Delta(null, text.isEmpty() ? null : text), d.lastToken(),
                            OpenAiMapping.finishReason(d.finish()), d, null));
                    if (includeUsage) {
                        out.add(HttpReply.data(new ChatCompletionChunk(id, "chat.completion.chunk", created, model,
                                List.of(), OpenAiMapping.usage(d.usage()), OpenAiMapping.timings(d.timings()), null)));
                    }
                    out.add(HttpReply.DONE);
                    yield withRole(started, out);
                }
            });
            return body.onFailure().recoverWithMulti(t -> Multi.createFrom().items(
                    HttpReply.errorFrame(ApiDialect.OPENAI, t), HttpReply.DONE));
        }

        private List<String> withRole(boolean[] started, List<String> frames) {
            if (started[0]) {
                return frames;
            }
            started[0] = true;
            List<String> out = new ArrayList<>(frames.size() + 1);
            out.add(chunk(new ChatCompletionChunk.Delta(ROLE, ""), null, null, null, tokenIds ? gen.promptTokens() : null));
            out.addAll(frames);
            return out;
        }

        private String chunk(ChatCompletionChunk.Delta delta, GenerationEvent.Token t, String finish,
                             GenerationEvent.Done done, int[] promptIds) {
            ChatCompletionResponse.ChatLogprobs lp = logprobs && t != null
                    ? new ChatCompletionResponse.ChatLogprobs(List.of(tokenLogprob(t)), null) : null;
            int[] ids = tokenIds ? (t == null ? new int[0] : new int[] {t.tokenId()}) : null;
            ChatCompletionChunk.Choice c = new ChatCompletionChunk.Choice(0, delta, lp, finish, ids);
            return HttpReply.data(new ChatCompletionChunk(id, "chat.completion.chunk", created, model, List.of(c), null,
                    done == null ? null : OpenAiMapping.timings(done.timings()), promptIds));
        }

        private ChatCompletionResponse.TokenLogprob tokenLogprob(GenerationEvent.Token t) {
            String text = gen.tokenText(t.tokenId());
            int[] bytes = utf8(text);
            List<Object> top = new ArrayList<>();
            if (t.top() != null) {
                for (GenerationEvent.Alternative a : t.top()) {
                    top.add(new ChatCompletionResponse.TopLogprob(a.text(), a.logprob(), utf8(a.text())));
                }
            }
            return new ChatCompletionResponse.TokenLogprob(text, t.logprob(), bytes, top);
        }

        private static int[] utf8(String text) {
            byte[] utf8 = text.getBytes(StandardCharsets.UTF_8);
            int[] bytes = new int[utf8.length];
            for (int i = 0; i < utf8.length; i++) {
                bytes[i] = utf8[i] & 0xFF;
            }
            return bytes;
        }

        HttpReply whole(List<GenerationEvent> events) {
            StringBuilder text = new StringBuilder();
            List<Integer> ids = new ArrayList<>();
            List<ChatCompletionResponse.TokenLogprob> lps = new ArrayList<>();
            GenerationEvent.Done done = Shapes.done(events);
            for (GenerationEvent.Token t : Shapes.tokens(events)) {
                text.append(t.text());
                ids.add(t.tokenId());
                if (logprobs) {
                    lps.add(tokenLogprob(t));
                }
            }
            text.append(done.tailText());
            ChatCompletionResponse.Choice c = new ChatCompletionResponse.Choice(0,
                    new ChatCompletionResponse.Message(ROLE, text.toString(), null),
                    logprobs ? new ChatCompletionResponse.ChatLogprobs(lps, null) : null,
                    OpenAiMapping.finishReason(done.finish()),
                    tokenIds ? ids.stream().mapToInt(Integer::intValue).toArray() : null);
            return HttpReply.json(new ChatCompletionResponse(id, "chat.completion", created, model, List.of(c),
                    OpenAiMapping.usage(done.usage()), OpenAiMapping.timings(done.timings()),
                    tokenIds ? gen.promptTokens() : null));
        }
    }
}
