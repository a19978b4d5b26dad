package io.spindle.load;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.WebSocket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The chaos scenario: requests arriving faster than the server can serve them, over OpenAI SSE,
 * TGI SSE, WebSocket and non-streaming HTTP, of which some clients disconnect at a random point,
 * some cancel over WebSocket, some send hostile or malformed input and some ask for more tokens than
 * the context holds. Every request is classified by what the client saw; the verdict counts the
 * violations: streams that ended without a final or error event, and 5xx answers to client input.
 * HTTP is spoken over raw sockets ({@code Connection: close}) so that a disconnect is a real one.
 */
public final class Chaos {
    /** What a request was meant to do. */
    enum Kind { NORMAL, DISCONNECT, WS_CANCEL, HOSTILE, OVER_CONTEXT }

    /** What the client saw. */
    record Seen(Kind kind, String transport, String outcome, long nanos, String detail) {
    }

    private static final String[] HOSTILE = {
            "{\"model\":\"demo-gpt2\",\"prompt\":",
            "[1,2,3]",
            "{\"model\":\"demo-gpt2\",\"prompt\":\"x\",\"temperature\":-1}",
            "{\"model\":\"demo-gpt2\",\"prompt\":\"x\",\"max_tokens\":2147483647}",
            "{\"model\":\"demo-gpt2\",\"prompt\":\"x\",\"max_tokens\":\"ten\"}",
            "{\"model\":\"no-such-model\",\"prompt\":\"x\"}",
            "{\"model\":\"demo-gpt2\",\"prompt\":\"\"}",
            "{\"model\":\"demo-gpt2\",\"prompt\":[1,99999999]}",
            "{\"model\":\"demo-gpt2\",\"prompt\":\"x\",\"top_p\":NaN}",
            "{\"model\":\"demo-gpt2\",\"prompt\":\"x\",\"stop\":[" + "\"s\",".repeat(100) + "\"s\"]}",
            "{\"model\":\"demo-gpt2\",\"prompt\":\"\\ud800 lone surrogate\",\"max_tokens\":2}",
            "{\"model\":\"demo-gpt2\",\"prompt\":\"x\",\"seed\":1e999}",
            "{\"model\":\"demo-gpt2\",\"prompt\":\"x\",\"extra\":" + "[".repeat(2000) + "]".repeat(2000) + "}",
    };

    private final URI base;
    private final String model;
    private final int contextLength;
    private final HttpClient http;
    private final Random seeds;

    public Chaos(URI base, String model, int contextLength, HttpClient http, long seed) {
        this.base = base;
        this.model = model;
        this.contextLength = contextLength;
        this.http = http;
        this.seeds = new Random(seed);
    }

    /** Sends {@code count} requests at {@code rate}/s (Poisson), at most {@code maxInFlight} at once. */
    public List<Seen> run(int count, double rate, int maxInFlight, Duration timeLimit) throws InterruptedException {
        List<Seen> seen = Collections.synchronizedList(new ArrayList<>());
        Semaphore slots = new Semaphore(maxInFlight);
        AtomicInteger done = new AtomicInteger();
        long deadline = System.nanoTime() + timeLimit.toNanos();
        try (ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
            long due = System.nanoTime();
            for (int i = 0; i < count && System.nanoTime() < deadline; i++) {
                due += (long) (-Math.log(1 - seeds.nextDouble()) / rate * 1e9);
                long wait = due - System.nanoTime();
                if (wait > 0) {
                    TimeUnit.NANOSECONDS.sleep(wait);
                }
                slots.acquire();
                long seed = seeds.nextLong();
                pool.submit(() -> {
                    try {
                        seen.add(one(new Random(seed)));
                    } finally {
                        slots.release();
                        done.incrementAndGet();
                    }
                });
            }
        }
        return seen;
    }

    private Seen one(Random rnd) {
        double p = rnd.nextDouble();
        Kind kind = p < 0.2 ? Kind.DISCONNECT : p < 0.3 ? Kind.WS_CANCEL : p < 0.4 ? Kind.HOSTILE
                : p < 0.45 ? Kind.OVER_CONTEXT : Kind.NORMAL;
        String transport = kind == Kind.WS_CANCEL ? "ws"
                : List.of("openai", "tgi", "ws", "http").get(rnd.nextInt(4));
        long t0 = System.nanoTime();
        String outcome;
        String[] detail = {""};
        try {
            outcome = transport.equals("ws") ? websocket(kind, rnd, detail) : overHttp(kind, transport, rnd, detail);
        } catch (IOException e) {
            outcome = "connect_error";
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            outcome = "interrupted";
        }
        return new Seen(kind, transport, outcome, System.nanoTime() - t0, detail[0]);
    }

    private String body(Kind kind, String transport, Random rnd) {
        if (kind == Kind.HOSTILE) {
            return HOSTILE[rnd.nextInt(HOSTILE.length)];
        }
        int max = kind == Kind.OVER_CONTEXT ? contextLength + 1 + rnd.nextInt(1000) : 4 + rnd.nextInt(60);
        if (transport.equals("tgi")) {
            ObjectNode b = Transport.JSON.createObjectNode().put("inputs", "The quick brown fox " + rnd.nextInt(1000));
            b.putObject("parameters").put("max_new_tokens", max).put("details", true);
            return b.toString();
        }
        return Transport.JSON.createObjectNode().put("model", model).put("prompt", "Once upon a time " + rnd.nextInt(1000))
                .put("max_tokens", max).put("ignore_eos", true).put("stream", !transport.equals("http")).toString();
    }

    /** One request over a raw socket; a DISCONNECT closes it at a random point. */
    private String overHttp(Kind kind, String transport, Random rnd, String[] detail) throws IOException {
        String path = transport.equals("tgi") ? "/generate_stream" : "/v1/completions";
        String json = body(kind, transport, rnd);
        detail[0] = json.length() > 120 ? json.substring(0, 120) + "…" : json;
        byte[] body = json.getBytes(StandardCharsets.UTF_8);
        int disconnectAfter = kind == Kind.DISCONNECT ? rnd.nextInt(3) * rnd.nextInt(12) : -1;
        try (Socket s = new Socket(base.getHost(), base.getPort())) {
            s.setSoTimeout(120_000);
            OutputStream out = s.getOutputStream();
            out.write(("POST " + path + " HTTP/1.1\r\nHost: " + base.getHost() + "\r\nContent-Type: application/json\r\n"
                    + "Connection: close\r\nContent-Length: " + body.length + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
            out.write(body);
            out.flush();
            if (disconnectAfter == 0) {
                return "disconnected";
            }
            InputStream in = s.getInputStream();
            StringBuilder text = new StringBuilder();
            byte[] buf = new byte[8192];
            int events = 0;
            for (int n; (n = in.read(buf)) > 0; ) {
                String chunk = new String(buf, 0, n, StandardCharsets.UTF_8);
                text.append(chunk);
                events += count(chunk, "data:");
                if (disconnectAfter > 0 && events >= disconnectAfter) {
                    return "disconnected";
                }
            }
            String outcome = classifyHttp(text.toString(), transport, kind);
            if (outcome.equals("no_final_event") || outcome.equals("no_status")) {
                detail[0] += " → " + text.substring(Math.max(0, text.length() - 300));
            }
            return outcome;
        }
    }

    static String classifyHttp(String response, String transport, Kind kind) {
        int status = response.length() >= 12 ? Integer.parseInt(response.substring(9, 12)) : -1;
        if (status == 429) {
            return "overloaded_429";
        }
        if (status == 503) {
            return "unavailable_503";
        }
        if (status >= 500) {
            return "server_error_" + status;
        }
        if (status >= 400) {
            return "rejected_4xx";
        }
        if (status != 200) {
            return "no_status";
        }
        boolean inBandError = response.contains("\"error\":");
        String head = response.substring(0, Math.max(0, response.indexOf("\r\n\r\n"))).toLowerCase(java.util.Locale.ROOT);
        boolean sse = head.contains("content-type: text/event-stream");
        // What ends a response depends on what the server answered, not on what was asked.
        boolean ended = !sse ? response.contains("\"usage\":") || response.contains("\"generated_text\":") || inBandError
                : transport.equals("tgi") ? response.contains("\"generated_text\":\"") || inBandError
                : response.contains("data: [DONE]");
        if (!ended) {
            return "no_final_event";
        }
        return inBandError ? "in_band_error" : "completed";
    }

    static String wsErrorOutcome(String type) {
        return switch (type) {
            case "invalid_request_error", "not_found_error" -> "rejected_4xx";
            case "overloaded_error" -> "overloaded_429";
            case "unavailable_error" -> "unavailable_503";
            default -> "server_error_ws_" + type;
        };
    }

    private static int count(String s, String marker) {
        int n = 0;
        for (int i = s.indexOf(marker); i >= 0; i = s.indexOf(marker, i + 1)) {
            n++;
        }
        return n;
    }

    private String websocket(Kind kind, Random rnd, String[] detail) throws InterruptedException, IOException {
        URI uri = URI.create(base.toString().replaceFirst("^http", "ws")).resolve("/v1/ws");
        CompletableFuture<String> end = new CompletableFuture<>();
        int cancelAfter = kind == Kind.WS_CANCEL ? 1 + rnd.nextInt(8) : -1;
        int disconnectAfter = kind == Kind.DISCONNECT ? rnd.nextInt(8) : -1;
        AtomicInteger tokens = new AtomicInteger();
        WebSocket[] socket = new WebSocket[1];
        WebSocket.Listener listener = new WebSocket.Listener() {
            private final StringBuilder partial = new StringBuilder();

            @Override
            public CompletionStage<?> onText(WebSocket ws, CharSequence data, boolean last) {
                partial.append(data);
                if (last) {
                    String frame = partial.toString();
                    partial.setLength(0);
                    try {
                        JsonNode f = Transport.JSON.readTree(frame);
                        switch (f.path("type").asText()) {
                            case "token" -> {
                                int n = tokens.incrementAndGet();
                                if (n == cancelAfter) {
                                    ws.sendText("{\"type\":\"cancel\",\"id\":\"c\"}", true);
                                }
                                if (n == disconnectAfter) {
                                    ws.abort();
                                    end.complete("disconnected");
                                }
                            }
                            case "done" -> end.complete(cancelAfter > 0
                                    ? "cancelled".equals(f.path("finish_reason").asText()) ? "cancel_confirmed"
                                    : "completed_before_cancel" : "completed");
                            case "error" -> end.complete(wsErrorOutcome(f.path("error").path("type").asText("")));
                            default -> { }
                        }
                    } catch (IOException e) {
                        end.complete("bad_frame");
                    }
                }
                ws.request(1);
                return null;
            }

            @Override
            public CompletionStage<?> onClose(WebSocket ws, int status, String reason) {
                end.complete("no_final_event");
                return null;
            }

            @Override
            public void onError(WebSocket ws, Throwable error) {
                end.complete("no_final_event");
            }
        };
        try {
            socket[0] = http.newWebSocketBuilder().buildAsync(uri, listener).get(10, TimeUnit.SECONDS);
            String payload = kind == Kind.HOSTILE ? HOSTILE[rnd.nextInt(HOSTILE.length)]
                    .replaceFirst("^\\{", "{\"type\":\"generate\",\"id\":\"c\",") : Transport.JSON.createObjectNode()
                    .put("type", "generate").put("id", "c").put("model", model).put("prompt", "Hello " + rnd.nextInt(99))
                    .put("max_tokens", kind == Kind.OVER_CONTEXT ? contextLength + 5 : 8 + rnd.nextInt(60))
                    .put("ignore_eos", true).toString();
            detail[0] = payload.length() > 120 ? payload.substring(0, 120) + "…" : payload;
            socket[0].sendText(payload, true).get(10, TimeUnit.SECONDS);
            if (disconnectAfter == 0) {
                socket[0].abort();
                return "disconnected";
            }
            return end.get(120, TimeUnit.SECONDS);
        } catch (java.util.concurrent.ExecutionException e) {
            throw new IOException(e.getCause());
        } catch (java.util.concurrent.TimeoutException e) {
            return "no_final_event";
        } finally {
            if (socket[0] != null && !socket[0].isOutputClosed()) {
                socket[0].sendClose(WebSocket.NORMAL_CLOSURE, "").exceptionally(t -> null);
            }
        }
    }

    /** Outcome counts per request kind. */
    static Map<String, Map<String, Integer>> tally(List<Seen> seen) {
        Map<String, Map<String, Integer>> t = new TreeMap<>();
        for (Seen s : seen) {
            t.computeIfAbsent(s.kind().name().toLowerCase(), k -> new TreeMap<>()).merge(s.outcome(), 1, Integer::sum);
        }
        return t;
    }

    /** Streams that ended without a final or error event: every such outcome is a server fault. */
    static long withoutFinalEvent(List<Seen> seen) {
        return seen.stream().filter(s -> s.outcome().equals("no_final_event") || s.outcome().equals("no_status")).count();
    }

    /** 5xx answers (and in-band server errors) to requests the client broke on purpose. */
    static long serverErrorsForClientInput(List<Seen> seen) {
        return seen.stream().filter(s -> s.kind() == Kind.HOSTILE || s.kind() == Kind.OVER_CONTEXT)
                .filter(s -> s.outcome().startsWith("server_error") || s.outcome().startsWith("in_band_error")).count();
    }
}
