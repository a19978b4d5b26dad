package io.spindle.app;

import com.fasterxml.jackson.annotation.JsonClassDescription;
import com.openai.models.chat.completions.ChatCompletionMessageFunctionToolCall;
import com.openai.models.chat.completions.ChatCompletionMessageToolCall;
import com.openai.models.chat.completions.ChatCompletionNamedToolChoice;
import com.openai.models.chat.completions.ChatCompletionToolChoiceOption;
import com.openai.models.chat.completions.ChatCompletionToolMessageParam;
import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.core.http.StreamResponse;
import com.openai.errors.NotFoundException;
import com.openai.helpers.ChatCompletionAccumulator;
import com.openai.models.chat.completions.ChatCompletion;
import com.openai.models.chat.completions.ChatCompletionChunk;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import com.openai.models.chat.completions.ChatCompletionStreamOptions;
import com.openai.models.completions.Completion;
import com.openai.models.completions.CompletionChoice;
import com.openai.models.completions.CompletionCreateParams;
import com.openai.models.completions.CompletionUsage;
import com.openai.models.models.Model;
import io.spindle.testing.ServerProcess;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The official OpenAI Java SDK ({@code com.openai:openai-java}, OkHttp client) against the packaged
 * server: chat and completions, streamed and not, usage, and the chosen tokens' logprobs.
 */
class OpenAiJavaClientIT {
    private static final String MODEL = "demo-gpt2";
    private static final long MAX_TOKENS = 8;
    private static final long SEED = 42;

    private static ServerProcess server;
    /** Checks every response against the SDK's own schema (responseValidation). */
    private static OpenAIClient client;
    /**
     * Without validation, for streamed completions only: the SDK's schema requires a non-null
     * {@code finish_reason} on every completion choice, which a stream's chunks before the last do not
     * have (null there, as in OpenAI's own completion streams).
     */
    private static OpenAIClient lenient;

    @BeforeAll
    static void start() throws Exception {
        server = ServerProcess.start("openai-java");
        OpenAIOkHttpClient.Builder builder = OpenAIOkHttpClient.builder()
                .baseUrl("http://127.0.0.1:" + server.port() + "/v1").apiKey("sk-spindle-tests").maxRetries(0)
                .timeout(Duration.ofSeconds(60));
        client = builder.responseValidation(true).build();
        lenient = builder.responseValidation(false).build();
    }

    @AfterAll
    static void stop() throws Exception {
        for (OpenAIClient c : new OpenAIClient[] {client, lenient}) {
            if (c != null) {
                c.close();
            }
        }
        if (server != null) {
            server.close();
        }
    }

    private static ChatCompletionCreateParams.Builder chat() {
        return ChatCompletionCreateParams.builder().model(MODEL).addSystemMessage("You are terse.")
                .addUserMessage("Name three rivers.").maxCompletionTokens(MAX_TOKENS).temperature(0.0).seed(SEED);
    }

    private static CompletionCreateParams.Builder completion() {
        return CompletionCreateParams.builder().model(MODEL).prompt("The quick brown fox").maxTokens(MAX_TOKENS)
                .temperature(0.0).seed(SEED);
    }

    private static final ChatCompletionStreamOptions USAGE = ChatCompletionStreamOptions.builder().includeUsage(true).build();

    private static void assertUsage(CompletionUsage usage) {
        assertTrue(usage.promptTokens() > 0, usage::toString);
        assertTrue(usage.completionTokens() > 0 && usage.completionTokens() <= MAX_TOKENS, usage::toString);
        assertEquals(usage.promptTokens() + usage.completionTokens(), usage.totalTokens(), usage::toString);
    }

    private static void assertDeltas(List<String> deltas) {
        assertFalse(deltas.isEmpty(), "the stream carried text deltas");
        assertTrue(deltas.stream().anyMatch(d -> !d.isEmpty()), "some delta is non-empty: " + deltas);
    }

    @Test
    void modelsListsTheDemoModel() {
        List<String> ids = client.models().list().autoPager().stream().map(Model::id).toList();
        assertTrue(ids.contains(MODEL), ids::toString);
    }

    @Test
    void chatStreamEqualsTheNonStreamedAnswerWithFinishReasonAndUsage() {
        ChatCompletion whole = client.chat().completions().create(chat().build());
        assertEquals(1, whole.choices().size());
        ChatCompletion.Choice choice = whole.choices().getFirst();
        String answer = choice.message().content().orElseThrow();
        assertFalse(answer.isEmpty(), "non-empty answer");
        String finish = choice.finishReason().asString();
        assertTrue(List.of("stop", "length").contains(finish), finish);
        CompletionUsage usage = whole.usage().orElseThrow();
        assertUsage(usage);

        List<String> deltas = new ArrayList<>();
        List<String> finishes = new ArrayList<>();
        CompletionUsage streamedUsage = null;
        String role = null;
        try (StreamResponse<ChatCompletionChunk> stream =
                     client.chat().completions().createStreaming(chat().streamOptions(USAGE).build())) {
            for (ChatCompletionChunk chunk : (Iterable<ChatCompletionChunk>) stream.stream()::iterator) {
                if (chunk.usage().isPresent()) {
                    assertTrue(chunk.choices().isEmpty(), "the usage chunk has no choices");
                    streamedUsage = chunk.usage().get();
                    continue;
                }
                ChatCompletionChunk.Choice c = chunk.choices().getFirst();
                if (role == null && c.delta().role().isPresent()) {
                    role = c.delta().role().get().asString();
                }
                c.delta().content().ifPresent(deltas::add);
                c.finishReason().ifPresent(f -> finishes.add(f.asString()));
            }
        }
        assertEquals("assistant", role);
        assertDeltas(deltas);
        assertEquals(answer, String.join("", deltas), "greedy stream = non-streamed answer");
        assertEquals(List.of(finish), finishes, "one finish_reason, the same");
        assertNotNull(streamedUsage, "include_usage gave a usage chunk");
        assertUsage(streamedUsage);
        assertEquals(usage.promptTokens(), streamedUsage.promptTokens());
        assertEquals(usage.completionTokens(), streamedUsage.completionTokens());
    }

    @Test
    void theSdksAccumulatorAssemblesTheSameChatCompletion() {
        ChatCompletion whole = client.chat().completions().create(chat().build());
        ChatCompletionAccumulator acc = ChatCompletionAccumulator.create();
        try (StreamResponse<ChatCompletionChunk> stream =
                     client.chat().completions().createStreaming(chat().streamOptions(USAGE).build())) {
            stream.stream().forEach(acc::accumulate);
        }
        ChatCompletion assembled = acc.chatCompletion();
        assertEquals(whole.choices().getFirst().message().content(), assembled.choices().getFirst().message().content());
        assertEquals(whole.choices().getFirst().finishReason(), assembled.choices().getFirst().finishReason());
        assertUsage(assembled.usage().orElseThrow());
        assertEquals(whole.usage().orElseThrow().totalTokens(), assembled.usage().orElseThrow().totalTokens());
    }

    @Test
    void completionLogprobsAndAGreedyStreamEqualToTheAnswer() {
        Completion whole = client.completions().create(completion().logprobs(0L).build());
        CompletionChoice choice = whole.choices().getFirst();
        assertFalse(choice.text().isEmpty(), "non-empty text");
        String finish = choice.finishReason().asString();
        assertTrue(List.of("stop", "length").contains(finish), finish);
        CompletionUsage usage = whole.usage().orElseThrow();
        assertUsage(usage);

        CompletionChoice.Logprobs logprobs = choice.logprobs().orElseThrow(() -> new AssertionError("no logprobs"));
        List<String> tokens = logprobs.tokens().orElseThrow();
        List<Double> tokenLogprobs = logprobs.tokenLogprobs().orElseThrow();
        assertEquals(usage.completionTokens(), tokens.size(), "one token per generated token");
        assertEquals(tokens.size(), tokenLogprobs.size());
        assertEquals(choice.text(), String.join("", tokens), "the tokens spell the text");
        for (double lp : tokenLogprobs) {
            assertTrue(Double.isFinite(lp) && lp <= 0, "a log-probability is finite and <= 0: " + lp);
        }

        List<String> deltas = new ArrayList<>();
        List<String> finishes = new ArrayList<>();
        CompletionUsage streamedUsage = null;
        try (StreamResponse<Completion> stream =
                     lenient.completions().createStreaming(completion().streamOptions(USAGE).build())) {
            for (Completion chunk : (Iterable<Completion>) stream.stream()::iterator) {
                Optional<CompletionUsage> u = chunk.usage();
                if (u.isPresent()) {
                    streamedUsage = u.get();
                }
                for (CompletionChoice c : chunk.choices()) {
                    deltas.add(c.text());
                    // finish_reason is null on all but the last token's chunk
                    c._finishReason().asKnown().map(CompletionChoice.FinishReason::asString).ifPresent(finishes::add);
                }
            }
        }
        assertDeltas(deltas);
        assertEquals(choice.text(), String.join("", deltas), "greedy stream = non-streamed text");
        assertEquals(List.of(finish), finishes, "one finish_reason, the same");
        assertNotNull(streamedUsage, "include_usage gave usage");
        assertUsage(streamedUsage);
        assertEquals(usage.totalTokens(), streamedUsage.totalTokens());
    }

    @Test
    void anUnknownModelIsTheSdksNotFoundException() {
        NotFoundException e = assertThrows(NotFoundException.class,
                () -> client.chat().completions().create(chat().model("no-such-model").build()));
        assertEquals(404, e.statusCode());
        assertTrue(e.body().toString().contains("model_not_found"), e.body()::toString);
    }

    @Test
    void nChoicesAndChatLogprobsWithTopAlternatives() {
        ChatCompletion many = client.chat().completions().create(chat().n(3L).temperature(0.9).logprobs(true)
                .topLogprobs(3L).build());
        assertEquals(3, many.choices().size());
        for (int i = 0; i < 3; i++) {
            com.openai.models.chat.completions.ChatCompletion.Choice c = many.choices().get(i);
            assertEquals(i, c.index());
            var content = c.logprobs().orElseThrow().content().orElseThrow();
            assertFalse(content.isEmpty());
            for (var token : content) {
                assertTrue(token.logprob() <= 0, "a log-probability: " + token.logprob());
                assertEquals(3, token.topLogprobs().size(), "three alternatives");
                assertTrue(token.topLogprobs().getFirst().logprob() >= token.logprob(), "the first alternative is the most likely");
            }
        }
        CompletionUsage usage = many.usage().orElseThrow();
        assertEquals(usage.promptTokens() + usage.completionTokens(), usage.totalTokens());
        assertEquals(client.chat().completions().create(chat().build()).usage().orElseThrow().promptTokens(),
                usage.promptTokens(), "the prompt counts once for three choices");
        long generated = 0;
        for (var c : many.choices()) {
            generated += c.logprobs().orElseThrow().content().orElseThrow().size();
        }
        assertEquals(generated, usage.completionTokens(), "every choice's tokens, the prompt once");

        Completion completions = client.completions().create(completion().n(2L).temperature(0.9).logprobs(2L).build());
        assertEquals(2, completions.choices().size());
        assertEquals(List.of(0L, 1L), completions.choices().stream().map(CompletionChoice::index).toList());
        for (CompletionChoice c : completions.choices()) {
            assertEquals(c.text(), String.join("", c.logprobs().orElseThrow().tokens().orElseThrow()));
        }
    }

    /** A function the SDK describes from a Java class (victools schema: enums, a nested class under $defs). */
    @JsonClassDescription("Current weather")
    static class GetWeather {
        public Unit unit;
        public boolean detailed;
        public Place place;
    }

    enum Unit { CELSIUS, FAHRENHEIT }

    enum Country { FR, JP, PE }

    static class Place {
        public Country country;
        public boolean coastal;
    }

    @Test
    void aClassToolCallParsesIntoTheClassAndStreamsTheSameCall() {
        ChatCompletionCreateParams params = ChatCompletionCreateParams.builder().model(MODEL)
                .addUserMessage("Weather?").maxCompletionTokens(120).temperature(0.9).seed(SEED)
                .addTool(GetWeather.class).build();
        String name = params.tools().orElseThrow().getFirst().asFunction().function().name();
        ChatCompletionCreateParams forced = params.toBuilder().toolChoice(ChatCompletionNamedToolChoice.builder()
                .function(ChatCompletionNamedToolChoice.Function.builder().name(name).build()).build()).build();
        ChatCompletion whole = client.chat().completions().create(forced);
        ChatCompletion.Choice choice = whole.choices().getFirst();
        assertEquals(ChatCompletion.Choice.FinishReason.TOOL_CALLS, choice.finishReason());
        assertTrue(choice.message().content().isEmpty(), "a call has no content");
        List<ChatCompletionMessageToolCall> calls = choice.message().toolCalls().orElseThrow();
        assertEquals(1, calls.size());
        ChatCompletionMessageFunctionToolCall call = calls.getFirst().asFunction();
        assertTrue(call.id().startsWith("call_"), call.id());
        assertEquals(name, call.function().name());
        GetWeather args = call.function().arguments(GetWeather.class);
        assertNotNull(args.unit, call.function().arguments());
        assertNotNull(args.place, call.function().arguments());
        assertNotNull(args.place.country, call.function().arguments());

        ChatCompletionAccumulator acc = ChatCompletionAccumulator.create();
        int toolChunks = 0;
        try (StreamResponse<ChatCompletionChunk> stream = client.chat().completions().createStreaming(forced)) {
            for (ChatCompletionChunk chunk : (Iterable<ChatCompletionChunk>) stream.stream()::iterator) {
                acc.accumulate(chunk);
                toolChunks += chunk.choices().stream().anyMatch(c -> c.delta().toolCalls().isPresent()) ? 1 : 0;
            }
        }
        assertTrue(toolChunks > 1, "the call arrives in several chunks: " + toolChunks);
        ChatCompletion streamed = acc.chatCompletion();
        ChatCompletionMessageFunctionToolCall s = streamed.choices().getFirst().message().toolCalls().orElseThrow()
                .getFirst().asFunction();
        assertEquals(call.function().arguments(), s.function().arguments(), "the same seed streams the same call");
        assertEquals(ChatCompletion.Choice.FinishReason.TOOL_CALLS, streamed.choices().getFirst().finishReason());

        // The call and its result go back into the conversation.
        ChatCompletion next = client.chat().completions().create(params.toBuilder().maxCompletionTokens(MAX_TOKENS)
                .addMessage(choice.message()).addMessage(ChatCompletionToolMessageParam.builder().toolCallId(call.id())
                        .content("11 C, rain").build())
                .toolChoice(ChatCompletionToolChoiceOption.Auto.NONE).build());
        assertTrue(next.choices().getFirst().message().content().isPresent());
        assertTrue(next.usage().orElseThrow().promptTokens() > whole.usage().orElseThrow().promptTokens());
    }
}
