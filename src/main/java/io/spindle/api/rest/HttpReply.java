package io.spindle.api.rest;

import io.smallrye.mutiny.Multi;
import io.smallrye.mutiny.Uni;
import io.spindle.api.error.ApiDialect;
import io.spindle.api.error.ApiError;
import io.spindle.engine.request.SpindleException;
import org.jboss.resteasy.reactive.RestMulti;

import io.spindle.generation.Generation;
import io.spindle.generation.GenerationEvent;
import io.spindle.generation.Transport;

import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.function.Supplier;

/**
 * A response whose status and headers are known before its body streams: SSE streams are 200 with
 * event-stream headers, and a non-streaming answer gets its status once generation has ended, so a
 * failure there is still a proper error response. Resources return {@link #toMulti(Uni)}; Quarkus
 * writes each body item as it comes, and cancels the stream when the client goes away.
 */
public record HttpReply(int status, Map<String, List<String>> headers, Multi<String> body) {
    static final String EVENT_STREAM = "text/event-stream";

    /** An SSE response: no caching, no proxy buffering (X-Accel-Buffering: no). */
    public static HttpReply sse(Multi<String> frames) {
        return new HttpReply(200, Map.of("Content-Type", List.of(EVENT_STREAM),
                "Cache-Control", List.of("no-cache"), "X-Accel-Buffering", List.of("no")), frames);
    }

    public static HttpReply json(Object body) {
        return new HttpReply(200, Map.of("Content-Type", List.of("application/json")),
                Multi.createFrom().item(Json.write(body)));
    }

    public static HttpReply error(ApiDialect dialect, Throwable t) {
        SpindleException e = ApiError.classify(t);
        Map<String, List<String>> headers = ApiError.hasRetryAfter(e.kind())
                ? Map.of("Content-Type", List.of("application/json"), "Retry-After", List.of(String.valueOf(ApiError.retryAfter(e))))
                : Map.of("Content-Type", List.of("application/json"));
        return new HttpReply(ApiError.status(dialect, e), headers,
                Multi.createFrom().item(Json.write(ApiError.body(dialect, e))));
    }

    public static Multi<String> toMulti(Uni<HttpReply> reply) {
        return RestMulti.fromUniResponse(reply, HttpReply::body, HttpReply::headers, HttpReply::status);
    }

    /**
     * The response of a generation endpoint: the SSE {@code frames} when {@code stream}, else one
     * JSON answer built by {@code whole} once the generation has ended (or an error in the dialect).
     */
    public static Multi<String> of(ApiDialect dialect, Generation gen, boolean stream, Supplier<Multi<String>> frames,
                                   Function<List<GenerationEvent>, HttpReply> whole) {
        if (stream) {
            return toMulti(Uni.createFrom().item(sse(frames.get())));
        }
        return toMulti(gen.events().collect().asList().map(whole)
                .onFailure().recoverWithItem(t -> error(dialect, t)));
    }

    /**
     * A client that stops reading a stream loses it: the connection is closed (an HTTP/2 stream is
     * reset) once the generation's untaken events pass the limit.
     */
    public static void dropOnSlowReader(Generation gen, io.vertx.core.http.HttpServerRequest request) {
        gen.onSlowReader(() -> request.response().reset());
    }

    /** The transport an OpenAI-style {@code stream} flag selects. */
    public static Transport transport(Boolean stream) {
        return Boolean.TRUE.equals(stream) ? Transport.SSE : Transport.HTTP;
    }

    /** SSE data frame of an error that happened after the stream started. */
    public static String errorFrame(ApiDialect dialect, Throwable t) {
        return data(ApiError.body(dialect, ApiError.classify(t)));
    }

    /** One SSE event carrying {@code json} as its data. */
    public static String data(Object json) {
        return "data: " + Json.write(json) + "\n\n";
    }

    public static final String DONE = "data: [DONE]\n\n";
    public static final String KEEP_ALIVE = ": keep-alive\n\n";
}
