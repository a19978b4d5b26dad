package io.spindle.engine.request;

/**
 * Receives a sequence's events. Called on the engine thread: implementations must hand the event
 * off (to a queue or an emitter) and return at once, never block or detokenize there.
 */
@FunctionalInterface
public interface TokenListener {
    void onEvent(TokenEvent event);
}
