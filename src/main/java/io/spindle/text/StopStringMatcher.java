package io.spindle.text;

import java.util.List;

/**
 * Finds stop strings in streamed text, even when one spans several deltas. Text that could still be
 * the start of a stop string is held back until it is known not to be; the stop string itself and
 * everything after it are never released. Not thread-safe; one per sequence.
 */
public final class StopStringMatcher {
    /** What to send for one delta, and whether a stop string ended the text. */
    public record Match(String text, boolean stopped) {
    }

    private final List<String> stops;
    private final StringBuilder held = new StringBuilder();
    private boolean stopped;

    public StopStringMatcher(List<String> stops) {
        this.stops = stops.stream().filter(s -> !s.isEmpty()).toList();
    }

    public Match push(String delta) {
        if (stopped) {
            return new Match("", true);
        }
        if (stops.isEmpty()) {
            return new Match(delta, false);
        }
        held.append(delta);
        int earliest = -1;
        for (String s : stops) {
            int i = held.indexOf(s);
            if (i >= 0 && (earliest < 0 || i < earliest)) {
                earliest = i;
            }
        }
        if (earliest >= 0) {
            stopped = true;
            String out = held.substring(0, earliest);
            held.setLength(0);
            return new Match(out, true);
        }
        int keep = longestSuffixThatStartsAStop();
        String out = held.substring(0, held.length() - keep);
        held.delete(0, held.length() - keep);
        return new Match(out, false);
    }

    /** Releases what was held back once the stream ends without a stop string. */
    public String flush() {
        String out = held.toString();
        held.setLength(0);
        return stopped ? "" : out;
    }

    private int longestSuffixThatStartsAStop() {
        int best = 0;
        for (String s : stops) {
            int max = Math.min(s.length() - 1, held.length());
            for (int k = max; k > best; k--) {
                if (endsWithPrefix(s, k)) {
                    best = k;
                    break;
                }
            }
        }
        return best;
    }

    private boolean endsWithPrefix(String stop, int k) {
        int start = held.length() - k;
        for (int i = 0; i < k; i++) {
            if (held.charAt(start + i) != stop.charAt(i)) {
                return false;
            }
        }
        return true;
    }
}
