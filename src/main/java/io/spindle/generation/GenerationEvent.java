package io.spindle.generation;

/** What a generation stream carries: keep-alives while queued, one {@link Token} per token, then {@link Done}. */
public sealed interface GenerationEvent {
    /** Nothing to send yet (waiting in the queue or prefilling); lets transports keep the connection open. */
    record KeepAlive() implements GenerationEvent {
    }

    /**
     * One generated token and the text it completes: UTF-8-safe, stop strings held back, possibly empty.
     *
     * @param logprob    the token's log-probability under the model's raw distribution; NaN unless asked for
     * @param textOffset offset of {@code text} in the generated text
     * @param top        the most likely tokens at this position, most likely first; null unless asked for
     */
    record Token(int tokenId, String text, float logprob, int index, boolean special, int textOffset,
                 java.util.List<Alternative> top) implements GenerationEvent {
    }

    /** A token as logprob displays show it: its own text (U+FFFD for part of a character). */
    record Alternative(int tokenId, String text, float logprob) {
    }

    /**
     * A prompt token scored by the model: its log-probability given the tokens before it (NaN for the
     * first) and the most likely tokens at its position (null when not asked for or for the first).
     */
    record ScoredToken(int tokenId, String text, float logprob, java.util.List<Alternative> top) {
    }

    /**
     * The end, carrying the last token (null when the generation was cancelled or failed between
     * tokens) so that transports put the finish reason on the same frame as the last token.
     * {@code tailText} is text released only at the end (held back for a possible stop string, or an
     * incomplete character); it follows the last token's text.
     */
    record Done(GenerationFinish finish, Token lastToken, String tailText, Usage usage, Timings timings)
            implements GenerationEvent {
        /** The last token's text followed by the tail. */
        public String text() {
            return (lastToken == null ? "" : lastToken.text()) + tailText;
        }
    }

    /** @param cachedPromptTokens prompt tokens whose keys and values came from the prefix cache */
    record Usage(int promptTokens, int completionTokens, int cachedPromptTokens) {
        public int totalTokens() {
            return promptTokens + completionTokens;
        }
    }

    /** Milliseconds, and decode throughput after the first token. */
    record Timings(double queueMs, double timeToFirstTokenMs, double totalMs, double decodeTokensPerSecond,
                   int cachedPromptTokens) {
    }
}
