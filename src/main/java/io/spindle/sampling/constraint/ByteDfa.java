package io.spindle.sampling.constraint;

import dk.brics.automaton.Automaton;
import dk.brics.automaton.State;
import dk.brics.automaton.Transition;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A minimal DFA over UTF-8 bytes, as a dense table, made from a brics automaton over UTF-16 chars.
 *
 * <p>brics works on Java chars; tokens are bytes, and a byte-level BPE token may end in the middle of
 * a character. So each char transition becomes the UTF-8 byte sequences of its code points (the
 * classic range split: one chain of byte ranges per run of code points with the same encoded length
 * and shared leading bytes), a high-surrogate transition followed by a low-surrogate one becomes the
 * supplementary code points they encode, lone surrogates (not encodable) are dropped, and brics
 * determinizes and minimizes the result with bytes 0–255 as chars \u0000–\u00ff. Every state kept can
 * still reach acceptance. Immutable.
 */
final class ByteDfa {
    static final int DEAD = -1;

    final int numStates;
    /** {@code next[state * 256 + byte]}: the state after that byte, or {@link #DEAD}. State 0 is the start. */
    final int[] next;
    final boolean[] accept;
    /** Whether any byte leads on: an accepting state without one is complete. */
    final boolean[] hasOutgoing;
    /** The fewest bytes from the state to an accepting one. */
    final int[] distance;
    /** The largest {@link #distance} of any state: with more bytes than this left, no byte needs steering. */
    final int maxDistance;

    private ByteDfa(int numStates, int[] next, boolean[] accept) {
        this.numStates = numStates;
        this.next = next;
        this.accept = accept;
        this.distance = distances(numStates, next, accept);
        int max = 0;
        for (int d : distance) {
            if (d != Integer.MAX_VALUE) {
                max = Math.max(max, d);
            }
        }
        this.maxDistance = max;
        this.hasOutgoing = new boolean[numStates];
        for (int s = 0; s < numStates; s++) {
            for (int b = 0; b < 256; b++) {
                int t = next[s * 256 + b];
                if (t != DEAD && distance[t] == Integer.MAX_VALUE) {
                    next[s * 256 + b] = DEAD;
                } else if (t != DEAD) {
                    hasOutgoing[s] = true;
                }
            }
        }
    }

    int step(int state, int b) {
        return next[state * 256 + (b & 0xFF)];
    }

    static ByteDfa fromChars(Automaton chars) {
        Automaton source = chars.clone();
        source.minimize();
        Map<State, State> mapped = new HashMap<>();
        for (State s : source.getStates()) {
            State n = new State();
            n.setAccept(s.isAccept());
            mapped.put(s, n);
        }
        for (State s : source.getStates()) {
            State from = mapped.get(s);
            for (Transition t : s.getTransitions()) {
                int lo = t.getMin();
                int hi = t.getMax();
                State to = mapped.get(t.getDest());
                addCodePoints(from, to, lo, Math.min(hi, 0xD7FF));
                addCodePoints(from, to, Math.max(lo, 0xE000), hi);
                int hlo = Math.max(lo, 0xD800);
                int hhi = Math.min(hi, 0xDBFF);
                if (hlo <= hhi) {
                    for (Transition low : t.getDest().getTransitions()) {
                        addPairs(from, mapped.get(low.getDest()), hlo, hhi, low.getMin(), low.getMax());
                    }
                }
            }
        }
        Automaton bytes = new Automaton();
        bytes.setInitialState(mapped.get(source.getInitialState()));
        bytes.setDeterministic(false);
        bytes.restoreInvariant();
        bytes.minimize();
        bytes.removeDeadTransitions();
        if (bytes.isEmpty()) {
            throw new ConstraintException("the constraint cannot match any text (no UTF-8 string satisfies it)");
        }
        return table(bytes);
    }

    /** High surrogates [hlo, hhi] then low surrogates [llo, lhi]: the supplementary code points they encode. */
    private static void addPairs(State from, State to, int hlo, int hhi, int llo, int lhi) {
        llo = Math.max(llo, 0xDC00);
        lhi = Math.min(lhi, 0xDFFF);
        if (llo > lhi) {
            return;
        }
        if (llo == 0xDC00 && lhi == 0xDFFF) {
            addCodePoints(from, to, Character.toCodePoint((char) hlo, (char) llo), Character.toCodePoint((char) hhi, (char) lhi));
            return;
        }
        for (int h = hlo; h <= hhi; h++) {
            addCodePoints(from, to, Character.toCodePoint((char) h, (char) llo), Character.toCodePoint((char) h, (char) lhi));
        }
    }

    private static void addCodePoints(State from, State to, int lo, int hi) {
        if (lo > hi) {
            return;
        }
        List<int[]> sequences = new ArrayList<>();
        utf8Ranges(lo, hi, sequences);
        for (int[] seq : sequences) {
            State cur = from;
            for (int i = 0; i < seq.length; i += 2) {
                State nxt = i + 2 == seq.length ? to : new State();
                cur.addTransition(new Transition((char) seq[i], (char) seq[i + 1], nxt));
                cur = nxt;
            }
        }
    }

    /**
     * Splits code points [lo, hi] (no surrogates) into sequences of byte ranges, {lo0, hi0, lo1, hi1, …},
     * each matching exactly the UTF-8 encodings of a sub-range (as Go's and Rust's regex compilers do).
     */
    static void utf8Ranges(int lo, int hi, List<int[]> out) {
        if (lo > hi) {
            return;
        }
        for (int bound : new int[] {0x7F, 0x7FF, 0xFFFF}) {
            if (lo <= bound && hi > bound) {
                utf8Ranges(lo, bound, out);
                utf8Ranges(bound + 1, hi, out);
                return;
            }
        }
        if (hi <= 0x7F) {
            out.add(new int[] {lo, hi});
            return;
        }
        int n = encode(lo).length;
        for (int i = 1; i < n; i++) {
            int m = (1 << (6 * i)) - 1;
            if ((lo & ~m) != (hi & ~m)) {
                if ((lo & m) != 0) {
                    utf8Ranges(lo, lo | m, out);
                    utf8Ranges((lo | m) + 1, hi, out);
                    return;
                }
                if ((hi & m) != m) {
                    utf8Ranges(lo, (hi & ~m) - 1, out);
                    utf8Ranges(hi & ~m, hi, out);
                    return;
                }
            }
        }
        byte[] a = encode(lo);
        byte[] b = encode(hi);
        int[] seq = new int[2 * n];
        for (int i = 0; i < n; i++) {
            seq[2 * i] = a[i] & 0xFF;
            seq[2 * i + 1] = b[i] & 0xFF;
        }
        out.add(seq);
    }

    private static byte[] encode(int cp) {
        return new String(Character.toChars(cp)).getBytes(java.nio.charset.StandardCharsets.UTF_8);
    }

    private static ByteDfa table(Automaton bytes) {
        List<State> states = new ArrayList<>(bytes.getStates());
        State initial = bytes.getInitialState();
        states.remove(initial);
        states.addFirst(initial);
        Map<State, Integer> ids = new HashMap<>();
        for (int i = 0; i < states.size(); i++) {
            ids.put(states.get(i), i);
        }
        int n = states.size();
        int[] next = new int[n * 256];
        Arrays.fill(next, DEAD);
        boolean[] accept = new boolean[n];
        for (int i = 0; i < n; i++) {
            State s = states.get(i);
            accept[i] = s.isAccept();
            for (Transition t : s.getTransitions()) {
                int dest = ids.get(t.getDest());
                for (int c = t.getMin(); c <= Math.min(t.getMax(), 0xFF); c++) {
                    next[i * 256 + c] = dest;
                }
            }
        }
        return new ByteDfa(n, next, accept);
    }

    private static int[] distances(int n, int[] next, boolean[] accept) {
        List<List<Integer>> reverse = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            reverse.add(new ArrayList<>());
        }
        for (int s = 0; s < n; s++) {
            for (int b = 0; b < 256; b++) {
                int t = next[s * 256 + b];
                if (t != DEAD) {
                    reverse.get(t).add(s);
                }
            }
        }
        int[] dist = new int[n];
        Arrays.fill(dist, Integer.MAX_VALUE);
        ArrayDeque<Integer> queue = new ArrayDeque<>();
        for (int s = 0; s < n; s++) {
            if (accept[s]) {
                dist[s] = 0;
                queue.add(s);
            }
        }
        while (!queue.isEmpty()) {
            int t = queue.poll();
            for (int s : reverse.get(t)) {
                if (dist[s] == Integer.MAX_VALUE) {
                    dist[s] = dist[t] + 1;
                    queue.add(s);
                }
            }
        }
        return dist;
    }
}
