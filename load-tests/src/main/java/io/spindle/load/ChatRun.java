package io.spindle.load;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.io.PrintStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The multi-turn chat scenario: {@code conversations} clients start together, each holding one
 * conversation of {@code turns} turns and sending turn k + 1 as soon as turn k's answer is in, with
 * the whole history as chat messages (load-tests/README.md, "The chat scenario"). Writes chat.json
 * (options, the per-turn table, every turn's figures) and chat.md; {@link #compare} sets two runs'
 * chat.json side by side.
 */
final class ChatRun {
    /** The scenario's sizes; lengths are in words of one GPT-2 token each. */
    record Options(int conversations, int turns, int systemTokens, int userTokens, int outputTokens, int warmup,
                   long seed) {
        static Options of(Map<String, String> o) {
            return new Options(Integer.parseInt(o.getOrDefault("conversations", "8")),
                    Integer.parseInt(o.getOrDefault("turns", "6")),
                    Integer.parseInt(o.getOrDefault("system-tokens", "128")),
                    Integer.parseInt(o.getOrDefault("user-tokens", "64")),
                    Integer.parseInt(o.getOrDefault("output-tokens", "64")),
                    Integer.parseInt(o.getOrDefault("warmup", "2")),
                    Long.parseLong(o.getOrDefault("seed", "1")));
        }
    }

    private ChatRun() {
    }

    /** Runs the scenario and writes chat.json and chat.md into {@code out}; returns the turns' rows. */
    static List<ChatStats.Turn> run(URI base, String model, HttpClient http, List<ChatTransport> transports, Options opt,
                                    Map<String, String> rawOptions, Path out, PrintStream progress) throws Exception {
        int context = contextLength(http, base, model);
        int estimate = estimateLastPrompt(http, base, model, opt);
        if (context > 0 && estimate > 0 && estimate + opt.outputTokens() > context) {
            throw new IllegalArgumentException(String.format(Locale.ROOT, "turn %d's prompt would be about %d tokens "
                    + "(the server's count of this conversation with %d-word answers) + %d output tokens, past the "
                    + "model's context of %d: lower --turns, --system-tokens, --user-tokens or --output-tokens",
                    opt.turns(), estimate, opt.outputTokens(), opt.outputTokens(), context));
        }
        if (context > 0 && estimate > 0 && estimate + opt.outputTokens() + 2 * opt.turns() > context) {
            // Generated text re-encodes to a few tokens more than was generated, now and then.
            System.err.printf(Locale.ROOT, "warning: turn %d's prompt is about %d tokens + %d output tokens, within "
                    + "%d of the context (%d): a turn may be refused if the answers re-encode longer%n", opt.turns(),
                    estimate, opt.outputTokens(), context - estimate - opt.outputTokens(), context);
        }
        warmUp(transports, opt);
        Map<String, Double> before = ServerMetrics.scrape(http, base, model);
        List<Conversation> conversations = Conversation.generate(opt.conversations(), opt.turns(), opt.systemTokens(),
                opt.userTokens(), opt.seed());
        List<ChatStats.Turn> rows = Collections.synchronizedList(new ArrayList<>());
        AtomicInteger done = new AtomicInteger();
        int total = opt.conversations() * opt.turns();
        long t0 = System.nanoTime();
        try (ExecutorService clients = Executors.newVirtualThreadPerTaskExecutor()) {
            for (Conversation c : conversations) {
                ChatTransport transport = transports.get(c.index() % transports.size());
                clients.submit(() -> converse(c, transport, opt.outputTokens(), r -> {
                    rows.add(r);
                    int d = done.incrementAndGet();
                    if (progress != null) {
                        progress.printf("\rchat  %d/%d turns  %.0fs ", d, total, (System.nanoTime() - t0) / 1e9);
                        progress.flush();
                    }
                }));
            }
        }
        if (progress != null) {
            progress.println();
        }
        double seconds = (System.nanoTime() - t0) / 1e9;
        ServerMetrics.View server = ServerMetrics.View.of(ServerMetrics.delta(before, ServerMetrics.scrape(http, base, model)));
        List<ChatStats.Turn> sorted = new ArrayList<>(rows);
        sorted.sort((a, b) -> a.conversation() != b.conversation() ? Integer.compare(a.conversation(), b.conversation())
                : Integer.compare(a.turn(), b.turn()));
        Map<String, Object> doc = new LinkedHashMap<>();
        doc.put("title", rawOptions.getOrDefault("title", "Multi-turn chat: " + model));
        doc.put("label", rawOptions.getOrDefault("label", ""));
        doc.put("machine", Report.machine());
        doc.put("options", rawOptions);
        doc.put("sizes", opt);
        doc.put("model_context", context);
        doc.put("estimated_last_turn_prompt_tokens", estimate);
        doc.put("seconds", Math.round(seconds * 1000) / 1000.0);
        ChatStats.Table table = ChatStats.table(sorted);
        doc.put("table", table);
        doc.put("server", server);
        doc.put("sample_errors", sorted.stream().filter(r -> !r.ok() && !"skipped".equals(r.error())).limit(5)
                .map(r -> "conversation " + r.conversation() + " turn " + r.turn() + " over " + r.transport() + ": "
                        + r.error()).toList());
        doc.put("turns", sorted);
        Files.createDirectories(out);
        Transport.JSON.copy().enable(SerializationFeature.INDENT_OUTPUT).writeValue(out.resolve("chat.json").toFile(), doc);
        Files.writeString(out.resolve("chat.md"), markdown(doc, table, opt, server));
        return sorted;
    }

    /** Drives one conversation turn by turn; after a failed turn the rest are skipped (no answer to build on). */
    static void converse(Conversation c, ChatTransport transport, int maxTokens,
                         java.util.function.Consumer<ChatStats.Turn> sink) {
        for (int turn = 1; turn <= c.turns(); turn++) {
            ChatTransport.ChatReply reply = transport.chat(c.messages(turn), maxTokens);
            ChatStats.Turn row = ChatStats.Turn.of(c.index(), turn, reply);
            sink.accept(row);
            if (!row.ok()) {
                for (int rest = turn + 1; rest <= c.turns(); rest++) {
                    sink.accept(ChatStats.Turn.skipped(c.index(), rest, transport.name()));
                }
                return;
            }
            c.answer(reply.text());
        }
    }

    /**
     * Unmeasured one-turn chats over every transport, with a system prompt of other words than the run's
     * (a different seed), so that they warm the server up without putting the run's prefix in a cache.
     */
    private static void warmUp(List<ChatTransport> transports, Options opt) {
        List<Conversation> w = Conversation.generate(opt.warmup(), 1, opt.systemTokens(), opt.userTokens(),
                opt.seed() + 0x5EED);
        for (int i = 0; i < w.size(); i++) {
            ChatTransport t = transports.get(i % transports.size());
            RequestResult r = t.chat(w.get(i).messages(1), Math.min(opt.outputTokens(), 8)).result();
            if (!r.ok()) {
                System.err.println("warm-up over " + t.name() + " failed: " + r.error() + " " + r.errorDetail());
            }
        }
    }

    static int contextLength(HttpClient http, URI base, String model) {
        try {
            HttpResponse<String> r = http.send(HttpRequest.newBuilder(base.resolve("/v1/models/" + model))
                    .timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
            return r.statusCode() == 200 ? Transport.JSON.readTree(r.body()).path("max_model_len").asInt(-1) : -1;
        } catch (IOException e) {
            return -1;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return -1;
        }
    }

    /**
     * The server's token count ({@code POST /tokenize}, the model's chat template) of the last turn's
     * messages, with answers of {@code outputTokens} words standing in for the generated ones; -1 when
     * the server cannot say.
     */
    static int estimateLastPrompt(HttpClient http, URI base, String model, Options opt) {
        Conversation c = Conversation.generate(1, opt.turns(), opt.systemTokens(), opt.userTokens(), opt.seed()).getFirst();
        java.util.Random rnd = new java.util.Random(opt.seed() + 1);
        for (int t = 1; t < opt.turns(); t++) {
            c.answer(Conversation.words(rnd, opt.outputTokens()));
        }
        ObjectNode body = Transport.JSON.createObjectNode().put("model", model);
        body.set("messages", Transport.JSON.valueToTree(c.messages(opt.turns())));
        try {
            HttpResponse<String> r = http.send(HttpRequest.newBuilder(base.resolve("/tokenize"))
                    .header("Content-Type", "application/json").timeout(Duration.ofSeconds(10))
                    .POST(HttpRequest.BodyPublishers.ofString(body.toString())).build(), HttpResponse.BodyHandlers.ofString());
            JsonNode n = r.statusCode() == 200 ? Transport.JSON.readTree(r.body()) : null;
            return n == null ? -1 : n.path("count").asInt(-1);
        } catch (IOException e) {
            return -1;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return -1;
        }
    }

    static String markdown(Map<String, Object> doc, ChatStats.Table table, Options opt, ServerMetrics.View server) {
        StringBuilder sb = new StringBuilder("# ").append(doc.get("title")).append("\n\n");
        @SuppressWarnings("unchecked")
        Map<String, Object> machine = (Map<String, Object>) doc.get("machine");
        sb.append("Machine: ").append(machine.get("cpu")).append(", ").append(machine.get("cores")).append(" cores, ")
                .append(machine.get("memory")).append("; ").append(machine.get("java")).append(".\n\n");
        sb.append("Options: `").append(doc.get("options")).append("`\n\n");
        sb.append(String.format(Locale.ROOT, "%d conversations × %d turns, started together. Every conversation opens "
                        + "with the same %d-word system prompt; each turn adds a user message of %d fresh words, and from "
                        + "turn 2 the previous answer as it was streamed; the whole history is sent as chat messages, "
                        + "max_tokens %d with ignore_eos, greedy. TTFT in ms (send → first token); prompt and cached "
                        + "tokens are the server's usage (`prompt_tokens`, `prompt_tokens_details.cached_tokens`); "
                        + "cached share = cached / prompt tokens, summed over the turn's requests. %s s in all.%n%n",
                opt.conversations(), opt.turns(), opt.systemTokens(), opt.userTokens(), opt.outputTokens(),
                doc.get("seconds")));
        sb.append(ChatStats.markdownTable(table));
        sb.append(String.format(Locale.ROOT, "%nServer (`/q/metrics` over the run): %s requests finished, %s tokens "
                        + "generated, mean TTFT %s ms, mean batch %s.%n", Report.f(server.finishedRequests()),
                Report.f(server.generatedTokens()), Report.f(server.meanTtftMs()), Report.f(server.meanBatchSize())));
        @SuppressWarnings("unchecked")
        List<String> errors = (List<String>) doc.get("sample_errors");
        if (!errors.isEmpty()) {
            sb.append("\nErrors (first ").append(errors.size()).append("):\n\n");
            errors.forEach(e -> sb.append("- ").append(e).append('\n'));
        }
        return sb.toString();
    }

    /** A chat.json's label, else the name of its folder. */
    static String label(JsonNode doc, Path file) {
        String l = doc.path("label").asText("");
        Path dir = file.toAbsolutePath().getParent();
        return !l.isEmpty() ? l : dir == null ? file.toString() : dir.getFileName().toString();
    }

    static List<ChatStats.Turn> turns(JsonNode doc) {
        List<ChatStats.Turn> rows = new ArrayList<>();
        doc.path("turns").forEach(n -> rows.add(ChatStats.Turn.fromJson(n)));
        return rows;
    }

    /**
     * Sets run A (e.g. cache on) beside run B (cache off) from their chat.json files; writes
     * chat-compare.md and chat-compare.json into {@code out} when it is not null; returns the Markdown.
     */
    static String compare(Path a, Path b, double target, Path out) throws IOException {
        JsonNode da = Transport.JSON.readTree(a.toFile());
        JsonNode db = Transport.JSON.readTree(b.toFile());
        String la = label(da, a);
        String lb = label(db, b);
        List<ChatStats.CompareRow> rows = ChatStats.compare(turns(da), turns(db));
        String md = "# Chat scenario: " + la + " vs " + lb + "\n\n"
                + "A: `" + a + "` " + da.path("options") + "\n\nB: `" + b + "` " + db.path("options") + "\n\n"
                + "TTFT p50 per turn index; the turns-2.. row pools every request after the first turn of its "
                + "conversation (the p50 of those requests, not a mean of the per-turn p50s).\n\n"
                + ChatStats.markdownCompare(la, lb, rows, target);
        if (out != null) {
            Files.createDirectories(out);
            Map<String, Object> doc = new LinkedHashMap<>();
            doc.put("a", Map.of("file", a.toString(), "label", la));
            doc.put("b", Map.of("file", b.toString(), "label", lb));
            doc.put("target_later_turns_ratio", target);
            doc.put("rows", rows);
            Transport.JSON.copy().enable(SerializationFeature.INDENT_OUTPUT)
                    .writeValue(out.resolve("chat-compare.json").toFile(), doc);
            Files.writeString(out.resolve("chat-compare.md"), md);
        }
        return md;
    }
}
