package io.spindle.generation;

/** What a generation stream carries: keep-alives while queued, one {@link Token} per token, then {@link Done}. */
public sealed interface GenerationEvent {
    /** Nothing to send yet (waiting in the queue or prefilling); lets transports keep the connection open. */
    record KeepAlive() implements GenerationEvent {
    }

    /**
     * One generated token and the text it completes: UTF-8-safe, stop strings held back, possibly empty.
     *
     * @param textOffset offset of {@code text} in the generated text
     * @param last       no token follows; a {@link Done} comes next (transports may merge the two)
     */
    record Token(int tokenId, String text, float logprob, int index, boolean special, int textOffset, boolean last)
            implements GenerationEvent {
    }

    /**
     * The end. {@code tailText} is text released only at the end (held back for a possible stop
     * string, or an incomplete character); it follows the last token's text.
     */
    record Done(GenerationFinish finish, String tailText, Usage usage, Timings timings) implements GenerationEvent {
    }

    record Usage(int promptTokens, int completionTokens) {
        public int totalTokens() {
            return promptTokens + completionTokens;
        }
    }

    /** Milliseconds, and decode throughput after the first token. */
    record Timings(double queueMs, double timeToFirstTokenMs, double totalMs, double decodeTokensPerSecond) {
    }
}
