package io.spindle.app;

import dev.langchain4j.agent.tool.P;
import dev.langchain4j.agent.tool.Tool;
import dev.langchain4j.agent.tool.ToolExecutionRequest;
import dev.langchain4j.agent.tool.ToolSpecification;
import dev.langchain4j.agent.tool.ToolSpecifications;
import dev.langchain4j.model.chat.request.ToolChoice;
import dev.langchain4j.model.chat.response.CompleteToolCall;
import dev.langchain4j.model.chat.response.PartialToolCall;
import dev.langchain4j.data.message.SystemMessage;
import dev.langchain4j.data.message.UserMessage;
import dev.langchain4j.model.chat.request.ChatRequest;
import dev.langchain4j.model.chat.response.ChatResponse;
import dev.langchain4j.model.chat.response.StreamingChatResponseHandler;
import dev.langchain4j.model.openai.OpenAiChatModel;
import dev.langchain4j.model.openai.OpenAiStreamingChatModel;
import dev.langchain4j.model.output.FinishReason;
import dev.langchain4j.model.output.TokenUsage;
import dev.langchain4j.service.AiServices;
import dev.langchain4j.service.TokenStream;
import io.spindle.testing.ServerProcess;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * LangChain4j's OpenAI integration ({@code dev.langchain4j:langchain4j-open-ai}, on its JDK HTTP
 * client) against the packaged server: the streaming chat model, directly and behind an AI service's
 * {@link TokenStream}, compared with the blocking chat model.
 */
class LangChain4jIT {
    private static final String MODEL = "demo-gpt2";
    private static final int MAX_TOKENS = 8;
    private static final int SEED = 42;
    private static final List<dev.langchain4j.data.message.ChatMessage> MESSAGES =
            List.of(SystemMessage.from("You are terse."), UserMessage.from("Name three rivers."));

    private static ServerProcess server;
    private static String baseUrl;

    @BeforeAll
    static void start() throws Exception {
        server = ServerProcess.start("langchain4j");
        baseUrl = "http://127.0.0.1:" + server.port() + "/v1";
    }

    @AfterAll
    static void stop() throws Exception {
        if (server != null) {
            server.close();
        }
    }

    private static OpenAiStreamingChatModel streamingModel() {
        return OpenAiStreamingChatModel.builder().baseUrl(baseUrl).apiKey("sk-spindle-tests").modelName(MODEL)
                .temperature(0.0).maxTokens(MAX_TOKENS).seed(SEED).timeout(Duration.ofSeconds(60)).build();
    }

    private static ChatResponse blocking() {
        OpenAiChatModel model = OpenAiChatModel.builder().baseUrl(baseUrl).apiKey("sk-spindle-tests").modelName(MODEL)
                .temperature(0.0).maxTokens(MAX_TOKENS).seed(SEED).maxRetries(0).timeout(Duration.ofSeconds(60)).build();
        ChatResponse whole = model.chat(ChatRequest.builder().messages(MESSAGES).build());
        assertFalse(whole.aiMessage().text().isEmpty(), "non-empty answer");
        assertTrue(List.of(FinishReason.STOP, FinishReason.LENGTH).contains(whole.finishReason()), whole::toString);
        assertUsage(whole.tokenUsage());
        return whole;
    }

    private static void assertUsage(TokenUsage usage) {
        assertNotNull(usage, "token usage is present");
        assertNotNull(usage.inputTokenCount(), usage::toString);
        assertNotNull(usage.outputTokenCount(), usage::toString);
        assertTrue(usage.inputTokenCount() > 0, usage::toString);
        assertTrue(usage.outputTokenCount() > 0 && usage.outputTokenCount() <= MAX_TOKENS, usage::toString);
        assertEquals(usage.inputTokenCount() + usage.outputTokenCount(), usage.totalTokenCount(), usage::toString);
    }

    private static void assertSameAnswer(ChatResponse whole, List<String> partials, ChatResponse streamed) {
        assertFalse(partials.isEmpty(), "partial responses arrived");
        assertEquals(whole.aiMessage().text(), String.join("", partials), "greedy stream = blocking answer");
        assertEquals(whole.aiMessage().text(), streamed.aiMessage().text());
        assertEquals(whole.finishReason(), streamed.finishReason());
        assertUsage(streamed.tokenUsage());
        assertEquals(whole.tokenUsage().inputTokenCount(), streamed.tokenUsage().inputTokenCount(), "the same prompt");
        assertEquals(whole.tokenUsage().outputTokenCount(), streamed.tokenUsage().outputTokenCount(), "the same answer length");
        // The stream repeats the request just answered: whole 16-token blocks of its prompt come from
        // the prefix cache, which LangChain4j reads from OpenAI's usage.prompt_tokens_details.
        if (streamed.tokenUsage() instanceof dev.langchain4j.model.openai.OpenAiTokenUsage u) {
            Integer cached = u.inputTokensDetails().cachedTokens();
            assertTrue(cached > 0 && cached % 16 == 0 && cached < u.inputTokenCount(), u::toString);
        } else {
            throw new AssertionError("LangChain4j's OpenAI model returns OpenAiTokenUsage: " + streamed.tokenUsage());
        }
    }

    @Test
    void theStreamingChatModelStreamsTheBlockingAnswerWithFinishReasonAndUsage() throws Exception {
        ChatResponse whole = blocking();
        List<String> partials = new CopyOnWriteArrayList<>();
        CompletableFuture<ChatResponse> done = new CompletableFuture<>();
        streamingModel().chat(ChatRequest.builder().messages(MESSAGES).build(), new StreamingChatResponseHandler() {
            @Override
            public void onPartialResponse(String partial) {
                partials.add(partial);
            }

            @Override
            public void onCompleteResponse(ChatResponse response) {
                done.complete(response);
            }

            @Override
            public void onError(Throwable error) {
                done.completeExceptionally(error);
            }
        });
        assertSameAnswer(whole, partials, done.get(60, TimeUnit.SECONDS));
    }

    interface Assistant {
        @dev.langchain4j.service.SystemMessage("You are terse.")
        TokenStream chat(String userMessage);
    }

    @Test
    void anAiServiceTokenStreamOverTheStreamingModel() throws Exception {
        ChatResponse whole = blocking();
        Assistant assistant = AiServices.builder(Assistant.class).streamingChatModel(streamingModel()).build();
        List<String> partials = new CopyOnWriteArrayList<>();
        CompletableFuture<ChatResponse> done = new CompletableFuture<>();
        assistant.chat("Name three rivers.").onPartialResponse(partials::add).onCompleteResponse(done::complete)
                .onError(done::completeExceptionally).start();
        assertSameAnswer(whole, partials, done.get(60, TimeUnit.SECONDS));
    }

    /** Tools as LangChain4j users write them: its schema for the method's parameters (enums, booleans). */
    static class WeatherTools {
        enum Unit { CELSIUS, FAHRENHEIT }

        @Tool("Current weather")
        String getWeather(@P("unit") Unit unit, @P("coastal place") boolean coastal) {
            return "11 " + unit;
        }
    }

    @Test
    void aRequiredToolChoiceGivesToolExecutionRequestsBlockingAndStreamed() throws Exception {
        List<ToolSpecification> tools = ToolSpecifications.toolSpecificationsFrom(WeatherTools.class);
        ChatRequest request = ChatRequest.builder().messages(UserMessage.from("Weather?")).toolSpecifications(tools)
                .toolChoice(ToolChoice.REQUIRED).build();
        OpenAiChatModel model = OpenAiChatModel.builder().baseUrl(baseUrl).apiKey("sk-spindle-tests").modelName(MODEL)
                .temperature(0.9).maxTokens(200).seed(SEED).parallelToolCalls(false).maxRetries(0)
                .timeout(Duration.ofSeconds(60)).build();
        ChatResponse whole = model.chat(request);
        assertEquals(FinishReason.TOOL_EXECUTION, whole.finishReason(), whole::toString);
        List<ToolExecutionRequest> calls = whole.aiMessage().toolExecutionRequests();
        assertEquals(1, calls.size(), whole::toString);
        assertEquals("getWeather", calls.getFirst().name());
        com.fasterxml.jackson.databind.JsonNode args = new com.fasterxml.jackson.databind.ObjectMapper()
                .readTree(calls.getFirst().arguments());
        assertTrue(List.of("CELSIUS", "FAHRENHEIT").contains(args.path("unit").asText()), calls.getFirst().arguments());
        assertTrue(args.path("coastal").isBoolean(), calls.getFirst().arguments());

        OpenAiStreamingChatModel streaming = OpenAiStreamingChatModel.builder().baseUrl(baseUrl).apiKey("sk-spindle-tests")
                .modelName(MODEL).temperature(0.9).maxTokens(200).seed(SEED).parallelToolCalls(false)
                .timeout(Duration.ofSeconds(60)).build();
        CompletableFuture<ChatResponse> done = new CompletableFuture<>();
        List<CompleteToolCall> complete = new CopyOnWriteArrayList<>();
        int[] partials = new int[1];
        streaming.chat(request, new StreamingChatResponseHandler() {
            @Override
            public void onPartialResponse(String partial) {
            }

            @Override
            public void onPartialToolCall(PartialToolCall call) {
                partials[0]++;
            }

            @Override
            public void onCompleteToolCall(CompleteToolCall call) {
                complete.add(call);
            }

            @Override
            public void onCompleteResponse(ChatResponse response) {
                done.complete(response);
            }

            @Override
            public void onError(Throwable error) {
                done.completeExceptionally(error);
            }
        });
        ChatResponse streamed = done.get(60, TimeUnit.SECONDS);
        assertTrue(partials[0] > 1, "the call arrives in pieces: " + partials[0]);
        assertEquals(1, complete.size());
        assertEquals(FinishReason.TOOL_EXECUTION, streamed.finishReason());
        ToolExecutionRequest s = streamed.aiMessage().toolExecutionRequests().getFirst();
        assertEquals(calls.getFirst().name(), s.name());
        assertEquals(calls.getFirst().arguments(), s.arguments(), "the same seed streams the same call");
        assertEquals(s, complete.getFirst().toolExecutionRequest());
    }
}
