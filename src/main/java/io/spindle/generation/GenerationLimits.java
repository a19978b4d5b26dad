package io.spindle.generation;

import java.time.Duration;

/**
 * Per-request limits of the generation layer.
 *
 * @param keepAliveEvery    how often a stream still waiting for its first token gets a keep-alive; zero for never
 * @param totalTimeout      a request's whole deadline, or zero for none
 * @param idleTimeout       the longest wait for the next token (or the first, queueing included), or zero
 * @param maxBufferedEvents events a stream may hold that its client has not taken yet (the transport
 *                          takes the next one only when the previous one is written); past it the
 *                          client counts as gone: the sequence is cancelled and the connection dropped
 */
public record GenerationLimits(Duration keepAliveEvery, Duration totalTimeout, Duration idleTimeout,
                               int maxBufferedEvents) {
    public GenerationLimits {
        if (maxBufferedEvents < 1) {
            throw new IllegalArgumentException("maxBufferedEvents must be >= 1, is " + maxBufferedEvents);
        }
    }
}
