package io.spindle.load;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpServer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The chat scenario's arithmetic on synthetic turns: per-turn figures, history growth, on/off comparison. */
class ChatTest {

    private static ChatStats.Turn ok(int conversation, int turn, double ttft, int prompt, int cached) {
        return new ChatStats.Turn(conversation, turn, "openai", ttft, ttft + 100, prompt, cached, 8, null);
    }

    /** Two conversations × 3 turns, plus a third conversation that failed at turn 2. */
    private static List<ChatStats.Turn> run() {
        return List.of(
                ok(0, 1, 100, 200, 0), ok(1, 1, 300, 200, 100),
                ok(0, 2, 20, 400, 300), ok(1, 2, 40, 400, 380),
                ok(0, 3, 30, 600, 500), ok(1, 3, 50, 600, 560),
                ok(2, 1, 200, 200, 0),
                new ChatStats.Turn(2, 2, "ws", Double.NaN, Double.NaN, -1, -1, 0, "http_4xx"),
                ChatStats.Turn.skipped(2, 3, "ws"));
    }

    @Test
    void perTurnPercentilesPromptAndCachedTokens() {
        ChatStats.Table t = ChatStats.table(run());
        assertEquals(3, t.perTurn().size());
        ChatStats.Row first = t.perTurn().get(0);
        assertEquals("1", first.turns());
        assertEquals(3, first.ok());
        assertEquals(0, first.failed());
        // TTFT 100, 200, 300: p50 200, p90 = 200 + 0.8 × 100 (numpy's linear interpolation).
        assertEquals(200, first.ttft().p50(), 1e-9);
        assertEquals(280, first.ttft().p90(), 1e-9);
        assertEquals(200, first.promptTokensMean(), 1e-9);
        assertEquals(100.0 / 3, first.cachedTokensMean(), 1e-9);
        assertEquals(100.0 / 600, first.cachedShare(), 1e-9, "summed cached over summed prompt tokens");

        ChatStats.Row second = t.perTurn().get(1);
        assertEquals(2, second.ok());
        assertEquals(1, second.failed(), "the failed turn counts, and is left out of the latencies");
        assertEquals(30, second.ttft().p50(), 1e-9);
        assertEquals(38, second.ttft().p90(), 1e-9);
        assertEquals(680.0 / 800, second.cachedShare(), 1e-9);
        assertEquals(1, t.perTurn().get(2).failed(), "a skipped turn is a failed one");

        // Turns 2–3 pooled: TTFT 20, 30, 40, 50 → p50 35; all turns: 20 30 40 50 100 200 300 → p50 50.
        assertEquals("2–3", t.laterTurns().turns());
        assertEquals(4, t.laterTurns().ok());
        assertEquals(2, t.laterTurns().failed());
        assertEquals(35, t.laterTurns().ttft().p50(), 1e-9);
        assertEquals(1740.0 / 2000, t.laterTurns().cachedShare(), 1e-9);
        assertEquals(50, t.total().ttft().p50(), 1e-9);
        assertEquals(7, t.total().ok());
        assertEquals(2, t.total().failed());
    }

    @Test
    void cachedTokensNotReportedReadAsZeroAndAreSaidSo() {
        List<ChatStats.Turn> rows = List.of(ok(0, 1, 10, 100, -1), ok(1, 1, 10, 100, -1));
        ChatStats.Row r = ChatStats.table(rows).perTurn().getFirst();
        assertEquals(0, r.cachedReported());
        assertEquals(0, r.cachedTokensMean(), 1e-9);
        assertTrue(ChatStats.markdownTable(ChatStats.table(rows)).contains("| not reported | – |"));

        List<ChatStats.Turn> mixed = List.of(ok(0, 1, 10, 100, 50), ok(1, 1, 10, 100, -1));
        ChatStats.Row m = ChatStats.table(mixed).perTurn().getFirst();
        assertEquals(1, m.cachedReported());
        assertEquals(25, m.cachedTokensMean(), 1e-9, "absence counts as 0");
        assertEquals(0.25, m.cachedShare(), 1e-9);
        assertTrue(ChatStats.markdownTable(ChatStats.table(mixed)).contains("25.0 (1 of 2 reported) | 25.0%"));
    }

    @Test
    void cachedTokensAreReadFromOpenAisUsageField() throws Exception {
        JsonNode with = Transport.JSON.readTree("{\"prompt_tokens\":9,\"prompt_tokens_details\":{\"cached_tokens\":7}}");
        assertEquals(7, ChatTransport.cachedTokens(with));
        assertEquals(-1, ChatTransport.cachedTokens(Transport.JSON.readTree("{\"prompt_tokens\":9}")));
        assertEquals(-1, ChatTransport.cachedTokens(Transport.JSON.readTree("{\"prompt_tokens_details\":null}")));
        assertEquals(-1, ChatTransport.cachedTokens(Transport.JSON.readTree("{\"prompt_tokens_details\":{}}")));
        assertEquals(-1, ChatTransport.cachedTokens(null));
    }

    @Test
    void theSystemPromptIsSharedAndUserMessagesAreFresh() {
        List<Conversation> cs = Conversation.generate(3, 4, 12, 5, 42);
        assertEquals(cs.get(0).system(), cs.get(2).system());
        assertEquals(12, cs.get(0).system().split(" ").length);
        assertEquals(cs.get(0).system(), Conversation.generate(1, 1, 12, 5, 42).getFirst().system(), "seeded");
        assertNotEquals(cs.get(0).system(), Conversation.generate(1, 1, 12, 5, 43).getFirst().system());
        assertNotEquals(cs.get(0).messages(1).get(1), cs.get(1).messages(1).get(1), "conversations differ");
        List<String> users = new ArrayList<>();
        Conversation c = cs.get(0);
        for (int t = 1; t <= 4; t++) {
            String u = c.messages(t).getLast().content();
            assertEquals(5, u.split(" ").length);
            users.add(u);
            c.answer("answer " + t);
        }
        assertEquals(4, users.stream().distinct().count(), "fresh words every turn");
    }

    @Test
    void turnKSendsTheUserMessagesAndAnswersOfTurns1ToKMinus1() {
        Conversation c = Conversation.generate(1, 3, 4, 3, 1).getFirst();
        List<ChatTransport.Message> t1 = c.messages(1);
        assertEquals(List.of("system", "user"), t1.stream().map(ChatTransport.Message::role).toList());
        assertThrows(IllegalStateException.class, () -> c.messages(2), "no answer to turn 1 yet");
        c.answer(" first answer");
        List<ChatTransport.Message> t2 = c.messages(2);
        assertEquals(List.of("system", "user", "assistant", "user"), t2.stream().map(ChatTransport.Message::role).toList());
        assertEquals(t1, t2.subList(0, 2), "turn 2 starts with turn 1's messages");
        assertEquals(" first answer", t2.get(2).content(), "the answer as streamed, untouched");
        c.answer("second\nanswer");
        List<ChatTransport.Message> t3 = c.messages(3);
        assertEquals(6, t3.size());
        assertEquals(t2, t3.subList(0, 4), "turn 3 starts with turn 2's messages");
        assertEquals("second\nanswer", t3.get(4).content());
        c.answer("third");
        assertThrows(IllegalStateException.class, () -> c.answer("fourth"));
    }

    @Test
    void aConversationSendsItsGrowingHistoryAndStopsAfterAFailedTurn() {
        List<List<ChatTransport.Message>> sent = new ArrayList<>();
        ChatTransport fake = new ChatTransport() {
            @Override
            public String name() {
                return "fake";
            }

            @Override
            public ChatReply chat(List<Message> messages, int maxTokens) {
                sent.add(messages);
                int turn = sent.size();
                if (turn == 3) {
                    return new ChatReply(RequestResult.failed("fake", 0, new long[0], "http_4xx", "too long"), "", -1);
                }
                long ms = 1_000_000;
                RequestResult r = new RequestResult("fake", 0, new long[] {10 * turn * ms, 11 * turn * ms}, 20 * turn * ms,
                        2, 100 * turn, null, null);
                return new ChatReply(r, "answer " + turn, 50 * (turn - 1));
            }
        };
        List<ChatStats.Turn> rows = new ArrayList<>();
        ChatRun.converse(Conversation.generate(1, 5, 4, 3, 1).getFirst(), fake, 2, rows::add);
        assertEquals(3, sent.size(), "no turn is sent after a failed one");
        assertEquals("answer 1", sent.get(1).get(2).content());
        assertEquals("answer 2", sent.get(2).get(4).content());
        assertEquals(List.of(1, 2, 3, 4, 5), rows.stream().map(ChatStats.Turn::turn).toList());
        assertEquals(10, rows.get(0).ttftMs(), 1e-9);
        assertEquals(20, rows.get(1).ttftMs(), 1e-9);
        assertEquals(50, rows.get(1).cachedTokens());
        assertEquals(200, rows.get(1).promptTokens());
        assertEquals("http_4xx", rows.get(2).error());
        assertEquals("skipped", rows.get(3).error());
        assertEquals("skipped", rows.get(4).error());
    }

    @Test
    void onOffComparisonRatiosPerTurnAndPooled() {
        List<ChatStats.Turn> off = List.of(
                ok(0, 1, 100, 200, 0), ok(1, 1, 120, 200, 0),
                ok(0, 2, 200, 400, 0), ok(1, 2, 220, 400, 0),
                ok(0, 3, 300, 600, 0), ok(1, 3, 340, 600, 0));
        List<ChatStats.Turn> on = List.of(
                ok(0, 1, 100, 200, 0), ok(1, 1, 110, 200, 100),
                ok(0, 2, 20, 400, 300), ok(1, 2, 24, 400, 300),
                ok(0, 3, 30, 600, 500), ok(1, 3, 36, 600, 500));
        List<ChatStats.CompareRow> rows = ChatStats.compare(on, off);
        assertEquals(List.of("1", "2", "3", "2–3", "all"), rows.stream().map(ChatStats.CompareRow::turns).toList());
        assertEquals(105.0 / 110, rows.get(0).ratio(), 1e-9);
        assertEquals(22.0 / 210, rows.get(1).ratio(), 1e-9);
        assertEquals(33.0 / 320, rows.get(2).ratio(), 1e-9);
        // Pooled turns 2–3: on 20 24 30 36 → p50 27; off 200 220 300 340 → p50 260.
        ChatStats.CompareRow later = rows.get(3);
        assertEquals(27, later.ttftP50A(), 1e-9);
        assertEquals(260, later.ttftP50B(), 1e-9);
        assertEquals(27.0 / 260, later.ratio(), 1e-9);
        assertEquals(1600.0 / 2000, later.cachedShareA(), 1e-9);
        assertEquals(0, later.cachedShareB(), 1e-9);
        assertEquals(500, later.promptTokensMeanA(), 1e-9);

        String md = ChatStats.markdownCompare("cache on", "cache off", rows, 0.15);
        assertTrue(md.contains("| 2–3 | 27.0 | 260 | 0.104 | 80.0% | 0.0% | 500 / 500 | 4 / 4 |"), md);
        assertTrue(md.contains("Turns 2–3 pooled: TTFT p50 cache on / cache off = 0.104 (target ≤ 0.150: met)."), md);
        assertTrue(!md.contains("reported"), "both runs reported, and the baseline cached nothing: no note");
        assertTrue(ChatStats.markdownCompare("on", "off", rows, 0.1).contains("not met"));
        assertTrue(!ChatStats.markdownCompare("on", "off", rows, Double.NaN).contains("target"));
    }

    @Test
    void aComparisonIsRecomputedFromTwoChatJsonFiles(@TempDir Path dir) throws Exception {
        List<ChatStats.Turn> on = List.of(ok(0, 1, 100, 200, 0), ok(0, 2, 10, 400, 300),
                new ChatStats.Turn(1, 1, "ws", Double.NaN, Double.NaN, -1, -1, 0, "timeout"), ChatStats.Turn.skipped(1, 2, "ws"));
        List<ChatStats.Turn> off = List.of(ok(0, 1, 100, 200, -1), ok(0, 2, 200, 400, -1));
        Path a = write(dir.resolve("on"), "cache on", on);
        Path b = write(dir.resolve("off"), "", off);
        assertEquals(on, ChatRun.turns(Transport.JSON.readTree(a.toFile())), "rows survive JSON, NaN included");
        String md = ChatRun.compare(a, b, 0.15, dir.resolve("cmp"));
        assertTrue(md.contains("# Chat scenario: cache on vs off"), "label, else the folder's name: " + md);
        assertTrue(md.contains("| 2 | 10.0 | 200 | 0.050 |"), md);
        assertTrue(md.contains("| 1 / 1 |"), "ok counts: the failed and skipped turns of A are not in them");
        assertTrue(md.contains("| 2 | 10.0 | 200 | 0.050 | 75.0% | not reported |"), md);
        String swapped = ChatRun.compare(b, a, Double.NaN, null);
        assertTrue(swapped.contains("off: the server reported no cached tokens"), swapped);
        assertTrue(swapped.contains("cache on: the server reported cached tokens (75.0% of"), swapped);
        assertEquals(md, Files.readString(dir.resolve("cmp/chat-compare.md")));
        JsonNode json = Transport.JSON.readTree(dir.resolve("cmp/chat-compare.json").toFile());
        assertEquals(0.05, json.path("rows").get(1).path("ratio").asDouble(), 1e-9);
    }

    private static Path write(Path dir, String label, List<ChatStats.Turn> turns) throws Exception {
        Files.createDirectories(dir);
        Path f = dir.resolve("chat.json");
        Transport.JSON.writeValue(f.toFile(), Map.of("label", label, "options", Map.of(), "turns", turns));
        return f;
    }

    /** The chat stream's parsing, against a canned SSE answer in the shape docs/api.md gives. */
    @Test
    void theChatStreamGivesTextTokensAndCachedTokens() throws Exception {
        String sse = """
                data: {"choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}

                data: {"choices":[{"index":0,"delta":{"content":" Hello"},"finish_reason":null}]}

                data: {"choices":[{"index":0,"delta":{"content":""},"finish_reason":null}]}

                data: {"choices":[{"index":0,"delta":{"content":" world"},"finish_reason":null}]}

                data: {"choices":[{"index":0,"delta":{"content":null},"finish_reason":"length"}]}

                data: {"choices":[],"usage":{"prompt_tokens":9,"completion_tokens":3,"total_tokens":12,"prompt_tokens_details":{"cached_tokens":8}}}

                data: [DONE]

                """;
        HttpServer server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        List<String> bodies = new ArrayList<>();
        server.createContext("/v1/chat/completions", ex -> {
            bodies.add(new String(ex.getRequestBody().readAllBytes(), StandardCharsets.UTF_8));
            byte[] b = sse.getBytes(StandardCharsets.UTF_8);
            ex.getResponseHeaders().add("Content-Type", "text/event-stream");
            ex.sendResponseHeaders(200, b.length);
            try (OutputStream o = ex.getResponseBody()) {
                o.write(b);
            }
        });
        server.start();
        try {
            URI base = URI.create("http://127.0.0.1:" + server.getAddress().getPort());
            ChatTransport t = ChatTransport.of("openai", base, "m", Duration.ofSeconds(10), HttpClient.newHttpClient());
            ChatTransport.ChatReply r = t.chat(List.of(new ChatTransport.Message("user", "Hi")), 3);
            assertTrue(r.result().ok(), String.valueOf(r.result().errorDetail()));
            assertEquals(" Hello world", r.text(), "a null content adds nothing to the history");
            assertEquals(8, r.cachedTokens());
            assertEquals(9, r.result().promptTokens());
            assertEquals(3, r.result().outputTokens());
            assertEquals(3, r.result().tokenNanos().length, "the role chunk is not a token; a held-back one is");
            ObjectNode body = (ObjectNode) Transport.JSON.readTree(bodies.getFirst());
            assertEquals("[{\"role\":\"user\",\"content\":\"Hi\"}]", body.get("messages").toString());
            assertTrue(body.get("stream").asBoolean() && body.get("ignore_eos").asBoolean());
            assertTrue(body.path("stream_options").path("include_usage").asBoolean());
            assertEquals(3, body.get("max_tokens").asInt());
        } finally {
            server.stop(0);
        }
        assertThrows(IllegalArgumentException.class,
                () -> ChatTransport.of("tgi", URI.create("http://x"), "m", Duration.ofSeconds(1), HttpClient.newHttpClient()));
    }
}
