package io.spindle.load;

/**
 * What the client saw of one request. Times are {@link System#nanoTime()} values.
 *
 * @param sendNanos    when the request was sent (for WebSocket: when the generate frame was sent)
 * @param tokenNanos   arrival time of each streamed token, in order (a chunk carries one token)
 * @param endNanos     when the final event (or the error) arrived
 * @param outputTokens tokens the server reports generating (usage), or the chunk count when it says none
 * @param promptTokens prompt tokens the server reports, or -1
 * @param error        null on success, else a short kind: http_429, http_503, http_4xx, http_5xx,
 *                     in_band_error, incomplete (no final event), connect, timeout
 */
public record RequestResult(String transport, long sendNanos, long[] tokenNanos, long endNanos, int outputTokens,
                            int promptTokens, String error, String errorDetail) {

    public boolean ok() {
        return error == null;
    }

    public static RequestResult failed(String transport, long sendNanos, long[] tokenNanos, String error, String detail) {
        return new RequestResult(transport, sendNanos, tokenNanos, System.nanoTime(), tokenNanos.length, -1, error, detail);
    }
}
