package io.spindle.load;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.net.http.WebSocket;
import java.time.Duration;
import java.util.Iterator;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * One way of asking Spindle for a stream of tokens. {@link #run} blocks (callers use virtual threads)
 * and never throws: every failure becomes a {@link RequestResult} with an error kind.
 */
public abstract sealed class Transport permits Transport.OpenAiSse, Transport.TgiSse, Transport.Ws {
    static final ObjectMapper JSON = new ObjectMapper();

    protected final URI base;
    protected final String model;
    protected final Duration timeout;
    protected final HttpClient http;

    protected Transport(URI base, String model, Duration timeout, HttpClient http) {
        this.base = base;
        this.model = model;
        this.timeout = timeout;
        this.http = http;
    }

    public abstract String name();

    public abstract RequestResult run(Workload.Item item);

    public static Transport of(String name, URI base, String model, Duration timeout, HttpClient http) {
        return switch (name) {
            case "openai" -> new OpenAiSse(base, model, timeout, http);
            case "tgi" -> new TgiSse(base, model, timeout, http);
            case "ws" -> new Ws(base, model, timeout, http);
            default -> throw new IllegalArgumentException("unknown transport '" + name + "' (openai, tgi, ws)");
        };
    }

    /** Collects token arrival times without boxing. */
    static final class Times {
        private long[] t = new long[64];
        private int n;

        void add(long nanos) {
            if (n == t.length) {
                t = java.util.Arrays.copyOf(t, n * 2);
            }
            t[n++] = nanos;
        }

        long[] toArray() {
            return java.util.Arrays.copyOf(t, n);
        }

        int size() {
            return n;
        }
    }

    static String httpError(int status) {
        return status == 429 ? "http_429" : status == 503 ? "http_503" : status >= 500 ? "http_5xx" : "http_4xx";
    }

    /** POSTs {@code body} and feeds each SSE data payload to {@code onData} with its arrival time. */
    RequestResult streamSse(String path, ObjectNode body, SseHandler handler) {
        Times times = new Times();
        long send = System.nanoTime();
        HttpRequest req = HttpRequest.newBuilder(base.resolve(path)).timeout(timeout)
                .header("Content-Type", "application/json").header("Accept", "text/event-stream")
                .POST(HttpRequest.BodyPublishers.ofString(body.toString())).build();
        try {
            HttpResponse<Stream<String>> resp = http.send(req, HttpResponse.BodyHandlers.ofLines());
            try (Stream<String> lines = resp.body()) {
                if (resp.statusCode() != 200) {
                    String text = String.join("\n", lines.toList());
                    return RequestResult.failed(name(), send, times.toArray(), httpError(resp.statusCode()), text);
                }
                Iterator<String> it = lines.iterator();
                while (it.hasNext()) {
                    String line = it.next();
                    if (!line.startsWith("data:")) {
                        continue;
                    }
                    long now = System.nanoTime();
                    RequestResult end = handler.onData(line.substring(5).strip(), now, send, times);
                    if (end != null) {
                        return end;
                    }
                }
            }
            return RequestResult.failed(name(), send, times.toArray(), "incomplete", "stream ended without a final event");
        } catch (HttpTimeoutException e) {
            return RequestResult.failed(name(), send, times.toArray(), "timeout", e.getMessage());
        } catch (IOException e) {
            return RequestResult.failed(name(), send, times.toArray(), times.size() == 0 ? "connect" : "incomplete",
                    String.valueOf(e.getMessage()));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return RequestResult.failed(name(), send, times.toArray(), "interrupted", "");
        }
    }

    @FunctionalInterface
    interface SseHandler {
        /** Returns the request's result once the stream is over, else null. */
        RequestResult onData(String data, long now, long send, Times times) throws IOException;
    }

    /**
     * {@code POST /v1/completions} (and, for chat, {@code /v1/chat/completions}) with {@code stream: true};
     * ends at {@code [DONE]}.
     */
    static final class OpenAiSse extends Transport implements ChatTransport {
        OpenAiSse(URI base, String model, Duration timeout, HttpClient http) {
            super(base, model, timeout, http);
        }

        @Override
        public String name() {
            return "openai";
        }

        @Override
        public RequestResult run(Workload.Item item) {
            ObjectNode body = JSON.createObjectNode().put("model", model).put("prompt", item.prompt())
                    .put("max_tokens", item.maxTokens()).put("stream", true).put("ignore_eos", true)
                    .put("temperature", 0);
            body.putObject("stream_options").put("include_usage", true);
            return stream("/v1/completions", body, new StringBuilder(), new int[1]);
        }

        @Override
        public ChatReply chat(java.util.List<ChatTransport.Message> messages, int maxTokens) {
            ObjectNode body = JSON.createObjectNode().put("model", model).put("max_tokens", maxTokens)
                    .put("stream", true).put("ignore_eos", true).put("temperature", 0);
            body.set("messages", JSON.valueToTree(messages));
            body.putObject("stream_options").put("include_usage", true);
            StringBuilder text = new StringBuilder();
            int[] cached = {-1};
            RequestResult r = stream("/v1/chat/completions", body, text, cached);
            return new ChatReply(r, text.toString(), cached[0]);
        }

        /**
         * One handler for both routes: a completions choice carries {@code text}, a chat choice
         * {@code delta.content}; chat's role chunk (sent with the first token) is not a token of its own.
         */
        private RequestResult stream(String path, ObjectNode body, StringBuilder text, int[] cached) {
            int[] usage = {-1, -1};
            boolean[] finished = {false};
            return streamSse(path, body, (data, now, send, times) -> {
                if (data.equals("[DONE]")) {
                    return finished[0]
                            ? new RequestResult(name(), send, times.toArray(), now,
                            usage[1] >= 0 ? usage[1] : times.size(), usage[0], null, null)
                            : RequestResult.failed(name(), send, times.toArray(), "in_band_error", "no finish_reason before [DONE]");
                }
                JsonNode n = JSON.readTree(data);
                if (n.has("error")) {
                    return RequestResult.failed(name(), send, times.toArray(), "in_band_error", n.get("error").toString());
                }
                JsonNode choices = n.path("choices");
                if (choices.size() > 0) {
                    JsonNode c = choices.get(0);
                    boolean finish = !c.path("finish_reason").isNull() && !c.path("finish_reason").isMissingNode();
                    boolean roleOnly = c.path("delta").has("role");
                    String piece = c.has("delta") ? c.path("delta").path("content").asText("") : c.path("text").asText("");
                    if (!roleOnly && (!piece.isEmpty() || !finish)) {
                        times.add(now);
                    }
                    text.append(piece);
                    finished[0] |= finish;
                }
                if (n.hasNonNull("usage")) {
                    usage[0] = n.get("usage").path("prompt_tokens").asInt(-1);
                    usage[1] = n.get("usage").path("completion_tokens").asInt(-1);
                    cached[0] = ChatTransport.cachedTokens(n.get("usage"));
                }
                return null;
            });
        }
    }

    /** TGI's {@code POST /generate_stream}; ends with the event that carries {@code generated_text}. */
    static final class TgiSse extends Transport {
        TgiSse(URI base, String model, Duration timeout, HttpClient http) {
            super(base, model, timeout, http);
        }

        @Override
        public String name() {
            return "tgi";
        }

        @Override
        public RequestResult run(Workload.Item item) {
            ObjectNode body = JSON.createObjectNode().put("inputs", item.prompt());
            body.putObject("parameters").put("max_new_tokens", item.maxTokens()).put("details", true);
            return streamSse("/generate_stream", body, (data, now, send, times) -> {
                JsonNode n = JSON.readTree(data);
                if (n.has("error")) {
                    return RequestResult.failed(name(), send, times.toArray(), "in_band_error", n.get("error").asText());
                }
                if (n.has("token")) {
                    times.add(now);
                }
                if (n.hasNonNull("generated_text")) {
                    int generated = n.path("details").path("generated_tokens").asInt(times.size());
                    return new RequestResult(name(), send, times.toArray(), now, generated, -1, null, null);
                }
                return null;
            });
        }
    }

    /**
     * Spindle's WebSocket protocol on {@code /v1/ws}: one socket per request, timed from the generate
     * frame; chat sends the conversation as {@code messages}, which the server renders with the model's
     * chat template exactly as {@code /v1/chat/completions} does.
     */
    static final class Ws extends Transport implements ChatTransport {
        Ws(URI base, String model, Duration timeout, HttpClient http) {
            super(base, model, timeout, http);
        }

        @Override
        public String name() {
            return "ws";
        }

        @Override
        public RequestResult run(Workload.Item item) {
            return exchange(generateFrame().put("prompt", item.prompt()).put("max_tokens", item.maxTokens()),
                    new StringBuilder(), new int[1]);
        }

        @Override
        public ChatReply chat(java.util.List<ChatTransport.Message> messages, int maxTokens) {
            ObjectNode gen = generateFrame().put("max_tokens", maxTokens);
            gen.set("messages", JSON.valueToTree(messages));
            StringBuilder text = new StringBuilder();
            int[] cached = {-1};
            RequestResult r = exchange(gen, text, cached);
            return new ChatReply(r, text.toString(), cached[0]);
        }

        private ObjectNode generateFrame() {
            return JSON.createObjectNode().put("type", "generate").put("id", "g").put("model", model)
                    .put("ignore_eos", true).put("temperature", 0);
        }

        /** Sends {@code gen} on a fresh socket and waits for its done or error frame. */
        private RequestResult exchange(ObjectNode gen, StringBuilder text, int[] cached) {
            URI uri = URI.create(base.toString().replaceFirst("^http", "ws")).resolve("/v1/ws");
            Times times = new Times();
            CompletableFuture<RequestResult> result = new CompletableFuture<>();
            long[] send = {System.nanoTime()};
            WebSocket.Listener listener = new WebSocket.Listener() {
                private final StringBuilder partial = new StringBuilder();

                @Override
                public CompletionStage<?> onText(WebSocket ws, CharSequence data, boolean last) {
                    partial.append(data);
                    if (last) {
                        long now = System.nanoTime();
                        String frame = partial.toString();
                        partial.setLength(0);
                        try {
                            JsonNode n = JSON.readTree(frame);
                            switch (n.path("type").asText()) {
                                case "token" -> {
                                    times.add(now);
                                    text.append(n.path("text").asText(""));
                                }
                                case "done" -> {
                                    cached[0] = ChatTransport.cachedTokens(n.path("usage"));
                                    result.complete(new RequestResult(name(), send[0], times.toArray(), now,
                                            n.path("usage").path("completion_tokens").asInt(times.size()),
                                            n.path("usage").path("prompt_tokens").asInt(-1), null, null));
                                }
                                case "error" -> result.complete(RequestResult.failed(name(), send[0], times.toArray(),
                                        "in_band_error", n.path("error").toString()));
                                default -> { }
                            }
                        } catch (IOException e) {
                            result.complete(RequestResult.failed(name(), send[0], times.toArray(), "in_band_error", frame));
                        }
                    }
                    ws.request(1);
                    return null;
                }

                @Override
                public CompletionStage<?> onClose(WebSocket ws, int status, String reason) {
                    result.complete(RequestResult.failed(name(), send[0], times.toArray(), "incomplete",
                            "socket closed: " + status + " " + reason));
                    return null;
                }

                @Override
                public void onError(WebSocket ws, Throwable error) {
                    result.complete(RequestResult.failed(name(), send[0], times.toArray(), "incomplete", error.toString()));
                }
            };
            WebSocket socket = null;
            try {
                socket = http.newWebSocketBuilder().connectTimeout(Duration.ofSeconds(10)).buildAsync(uri, listener)
                        .get(10, TimeUnit.SECONDS);
                send[0] = System.nanoTime();
                socket.sendText(gen.toString(), true).get(10, TimeUnit.SECONDS);
                return result.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
            } catch (java.util.concurrent.TimeoutException e) {
                return RequestResult.failed(name(), send[0], times.toArray(), "timeout", "no final frame in " + timeout);
            } catch (java.util.concurrent.ExecutionException e) {
                return RequestResult.failed(name(), send[0], times.toArray(), "connect", String.valueOf(e.getCause()));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return RequestResult.failed(name(), send[0], times.toArray(), "interrupted", "");
            } finally {
                if (socket != null) {
                    socket.sendClose(WebSocket.NORMAL_CLOSURE, "").exceptionally(t -> null);
                }
            }
        }
    }
}
