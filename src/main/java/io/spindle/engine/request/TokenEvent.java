package io.spindle.engine.request;

import io.spindle.sampling.TopLogprobs;

/**
 * What the engine tells a sequence's listener: with prompt log-probabilities asked for, one
 * {@link PromptScores} first; then tokens; then exactly one {@link Finished} or {@link Failed}.
 */
public sealed interface TokenEvent {
    /** True for the event that ends the sequence ({@link Finished} or {@link Failed}). */
    default boolean isEnd() {
        return this instanceof Finished || this instanceof Failed;
    }
    /**
     * One generated token; {@code index} counts generated tokens from 0. {@code last} is true when the
     * engine ends the sequence with this token (a {@link Finished} follows at once), so transports can
     * put the finish reason on the same frame. {@code top} is null unless alternatives were asked for.
     */
    record Token(int tokenId, float logprob, int index, boolean last, TopLogprobs top) implements TokenEvent {
        public Token(int tokenId, float logprob, int index, boolean last) {
            this(tokenId, logprob, index, last, null);
        }
    }

    /**
     * The prompt's tokens scored by the model: {@code logprobs[i]} is prompt token i's
     * log-probability given the tokens before it (NaN for the first, which has no context);
     * {@code top[i]} the most likely tokens at that position (null entries when not asked for).
     */
    record PromptScores(float[] logprobs, TopLogprobs[] top) implements TokenEvent {
    }

    record Finished(FinishReason reason, SequenceStats stats) implements TokenEvent {
    }

    record Failed(SpindleException error, SequenceStats stats) implements TokenEvent {
    }
}
