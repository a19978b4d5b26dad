package io.spindle.engine.request;

/** What the engine tells a sequence's listener: tokens, then exactly one {@link Finished} or {@link Failed}. */
public sealed interface TokenEvent {
    /**
     * One generated token; {@code index} counts generated tokens from 0. {@code last} is true when the
     * engine ends the sequence with this token (a {@link Finished} follows at once), so transports can
     * put the finish reason on the same frame.
     */
    record Token(int tokenId, float logprob, int index, boolean last) implements TokenEvent {
    }

    record Finished(FinishReason reason, SequenceStats stats) implements TokenEvent {
    }

    record Failed(SpindleException error, SequenceStats stats) implements TokenEvent {
    }
}
