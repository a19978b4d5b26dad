package io.spindle.api.ws;

import io.quarkus.websockets.next.OnBinaryMessage;
import io.quarkus.websockets.next.OnClose;
import io.smallrye.mutiny.Uni;
import io.quarkus.websockets.next.OnError;
import io.quarkus.websockets.next.OnTextMessage;
import io.quarkus.websockets.next.WebSocket;
import io.quarkus.websockets.next.WebSocketConnection;
import io.spindle.api.dto.WsGenerate;
import io.spindle.api.dto.WsMessages;
import io.spindle.api.error.ApiError;
import io.spindle.api.rest.Json;
import io.spindle.api.rest.OpenAiMapping;
import io.spindle.engine.request.SpindleException;
import io.spindle.generation.Generation;
import io.spindle.generation.GenerationEvent;
import io.spindle.generation.GenerationFinish;
import io.spindle.generation.GenerationService;
import io.spindle.generation.Transport;
import jakarta.inject.Inject;
import org.jboss.logging.Logger;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Spindle's WebSocket protocol at {@code /v1/ws} (docs/api.md): several generations per socket, each
 * tagged with the client's {@code id}; {@code cancel} stops one, closing the socket stops all.
 */
@WebSocket(path = "/v1/ws")
public class GenerationSocket {
    private static final Logger LOG = Logger.getLogger(GenerationSocket.class);
    /** Generations one socket may run at once; more get an error frame. */
    static final int MAX_ACTIVE_PER_SOCKET = 32;

    @Inject
    GenerationService service;

    /** Active generations by connection id, then by client id. */
    private final Map<String, Map<String, Generation>> active = new ConcurrentHashMap<>();

    @OnTextMessage
    public void onMessage(String frame, WebSocketConnection connection) {
        WsGenerate msg;
        try {
            msg = Json.read(frame, WsGenerate.class);
        } catch (SpindleException e) {
            send(connection, ApiError.ws(null, e));
            return;
        }
        String id = msg.id();
        try {
            if (id == null || id.isBlank()) {
                throw SpindleException.invalid("id", "every message needs a non-empty 'id'");
            }
            switch (msg.type() == null ? "" : msg.type()) {
                case "generate" -> generate(connection, id, msg);
                case "cancel" -> cancel(id, connection);
                default -> throw SpindleException.invalid("type", "'type' must be 'generate' or 'cancel'");
            }
        } catch (SpindleException | IllegalArgumentException e) {
            send(connection, ApiError.ws(id, ApiError.classify(e)));
        }
    }

    /** The protocol is JSON text; a binary frame gets an error frame and the socket stays open. */
    @OnBinaryMessage
    public void onBinary(io.vertx.core.buffer.Buffer frame, WebSocketConnection connection) {
        send(connection, ApiError.ws(null, SpindleException.invalid(null,
                "binary frames are not part of this protocol; send JSON text frames")));
    }

    /**
     * A frame over {@code quarkus.websockets-next.server.max-frame-size} makes the transport close
     * the socket (status 1009, message too big); that is the client's doing, not a server failure.
     */
    @OnError
    public void onError(io.netty.handler.codec.http.websocketx.CorruptedWebSocketFrameException e,
                        WebSocketConnection connection) {
        LOG.debugf("closing WebSocket %s: %s", connection.id(), e.getMessage());
    }

    @OnClose
    public void onClose(WebSocketConnection connection) {
        Map<String, Generation> gens = active.remove(connection.id());
        if (gens != null) {
            gens.values().forEach(Generation::cancel);
        }
    }

    private void generate(WebSocketConnection connection, String id, WsGenerate msg) {
        Map<String, Generation> gens = active.computeIfAbsent(connection.id(), k -> new ConcurrentHashMap<>());
        if (gens.containsKey(id)) {
            throw SpindleException.invalid("id", "a generation with id '" + id + "' is still running on this socket");
        }
        if (gens.size() >= MAX_ACTIVE_PER_SOCKET) {
            throw SpindleException.invalid("id", "at most " + MAX_ACTIVE_PER_SOCKET + " generations may run on one socket");
        }
        Generation gen = service.start(OpenAiMapping.ws(msg), Transport.WS);
        gens.put(id, gen);
        // A client that stops reading fills the socket; past the limit it loses the socket (and so
        // every generation on it, which the close cancels).
        gen.onSlowReader(() -> {
            if (connection.isOpen()) {
                connection.close().subscribe().with(ok -> {
                }, failure -> LOG.debugf("closing a websocket failed: %s", failure.getMessage()));
            }
        });
        // One event at a time, the next only once the previous frames are written: a slow reader
        // holds back the generation's stream instead of growing the socket's write queue.
        gen.events().onItem().transformToUniAndConcatenate(ev -> {
                    if (ev instanceof GenerationEvent.Done) {
                        // Free the id before the client can read "done" and reuse it.
                        gens.remove(id);
                    }
                    return onEvent(connection, id, ev);
                })
                .subscribe().with(
                ignored -> {
                },
                failure -> {
                    gens.remove(id);
                    send(connection, ApiError.ws(id, ApiError.classify(failure)));
                },
                () -> gens.remove(id));
    }

    private void cancel(String id, WebSocketConnection connection) {
        Map<String, Generation> gens = active.get(connection.id());
        Generation gen = gens == null ? null : gens.get(id);
        if (gen == null) {
            throw SpindleException.invalid("id", "no running generation with id '" + id + "'");
        }
        gen.cancel();
    }

    /** Sends an event's frames; the Uni completes once they are written (or could not be). */
    private Uni<Void> onEvent(WebSocketConnection connection, String id, GenerationEvent ev) {
        return switch (ev) {
            case GenerationEvent.KeepAlive k -> Uni.createFrom().voidItem();
            case GenerationEvent.Token t -> written(connection,
                    new WsMessages.Token(id, t.index(), t.text(), t.tokenId(), t.logprob()));
            case GenerationEvent.Done d -> {
                GenerationEvent.Token t = d.lastToken();
                Uni<Void> last = t == null ? Uni.createFrom().voidItem()
                        : written(connection, new WsMessages.Token(id, t.index(), d.text(), t.tokenId(), t.logprob()));
                yield last.chain(() -> written(connection, new WsMessages.Done(id, finishReason(d.finish()),
                        OpenAiMapping.usage(d.usage()), OpenAiMapping.timings(d.timings()))));
            }
        };
    }

    private static Uni<Void> written(WebSocketConnection connection, Object message) {
        if (!connection.isOpen()) {
            return Uni.createFrom().voidItem();
        }
        return connection.sendText(Json.write(message)).onFailure().recoverWithItem(failure -> {
            LOG.debugf("websocket send failed: %s", failure.getMessage());
            return null;
        });
    }

    static String finishReason(GenerationFinish f) {
        return switch (f) {
            case EOS_TOKEN, STOP_SEQUENCE -> "stop";
            case LENGTH -> "length";
            case CANCELLED -> "cancelled";
        };
    }

    private static void send(WebSocketConnection connection, Object message) {
        if (!connection.isOpen()) {
            return;
        }
        connection.sendText(Json.write(message)).subscribe().with(ok -> {
        }, failure -> LOG.debugf("websocket send failed: %s", failure.getMessage()));
    }
}
