package io.spindle.sampling.constraint;

import java.util.concurrent.atomic.AtomicReferenceArray;

/**
 * A constraint compiled against one vocabulary: the byte DFA plus, per DFA state, the set of tokens
 * whose bytes it can walk (built the first time a sequence reaches that state, then shared by every
 * sequence and thread; one pass over the vocabulary sorted by bytes, reusing the walk of each
 * token's common prefix with the previous one). Thread-safe: an index computed twice by a race is
 * identical, so either copy may win.
 */
public final class CompiledConstraint {
    private final ConstraintSpec spec;
    private final TokenVocabulary vocabulary;
    private final ByteDfa dfa;
    private final AtomicReferenceArray<long[]> masks;
    /**
     * Per state, once its mask is built: the largest distance to acceptance (bytes) after any allowed
     * token. Written before the mask is published, read after it; racing builds write equal values.
     */
    private final int[] maxDistanceAfter;
    private final long compileNanos;

    CompiledConstraint(ConstraintSpec spec, TokenVocabulary vocabulary, ByteDfa dfa, long compileNanos) {
        this.spec = spec;
        this.vocabulary = vocabulary;
        this.dfa = dfa;
        this.masks = new AtomicReferenceArray<>(dfa.numStates);
        this.maxDistanceAfter = new int[dfa.numStates];
        this.compileNanos = compileNanos;
    }

    /** A fresh per-sequence state at the start of the output. */
    public ConstraintState start() {
        return new ConstraintState(this);
    }

    public ConstraintSpec spec() {
        return spec;
    }

    public TokenVocabulary vocabulary() {
        return vocabulary;
    }

    /** Number of DFA states (each may hold one vocabulary-sized mask once visited). */
    public int numStates() {
        return dfa.numStates;
    }

    /** How long compiling took (regex/schema → DFA), not counting the token index, which is built lazily. */
    public long compileNanos() {
        return compileNanos;
    }

    /** Number of states whose token mask has been built so far. */
    public int numIndexedStates() {
        int n = 0;
        for (int i = 0; i < masks.length(); i++) {
            n += masks.get(i) != null ? 1 : 0;
        }
        return n;
    }

    /** Builds every state's mask now (off the engine thread, if a caller wants no first-visit cost while decoding). */
    public void indexAllStates() {
        for (int s = 0; s < dfa.numStates; s++) {
            mask(s);
        }
    }

    ByteDfa dfa() {
        return dfa;
    }

    /**
     * The tokens allowed in {@code state} as a bit set over the vocabulary ({@code size()/64} words,
     * bit {@code id & 63} of word {@code id >>> 6}); the EOS ids are set exactly when the state accepts.
     * Shared: never modify it.
     */
    long[] mask(int state) {
        long[] m = masks.get(state);
        if (m == null) {
            m = buildMask(state);
            masks.compareAndSet(state, null, m);
            m = masks.get(state);
        }
        return m;
    }

    /**
     * The most bytes that can still be needed to reach acceptance after one allowed token from
     * {@code state}: with more tokens left than this (plus the EOS), no token needs steering.
     */
    int maxDistanceAfter(int state) {
        mask(state);
        return maxDistanceAfter[state];
    }

    private long[] buildMask(int state) {
        long[] m = new long[(vocabulary.size() + 63) >>> 6];
        maxDistanceAfter[state] = fill(state, Integer.MAX_VALUE, m);
        return m;
    }

    /**
     * Into {@code m} (cleared first): the tokens allowed in {@code state} after which an accepting
     * state is at most {@code budget} bytes away, or which complete the output; the EOS ids when the
     * state accepts. One pass over the vocabulary, like a first visit; for steering near the end of a
     * sequence's token budget, not cached.
     */
    void boundedMask(int state, int budget, long[] m) {
        java.util.Arrays.fill(m, 0L);
        fill(state, budget, m);
    }

    /** Sets the allowed tokens' bits; returns the largest distance after one of them. */
    private int fill(int state, int budget, long[] m) {
        int maxAfter = 0;
        int[] sorted = vocabulary.sorted;
        int[] lcp = vocabulary.lcp;
        // walk[k]: the DFA state after the first k bytes of the previous token; valid bytes of it: alive.
        int[] walk = new int[64];
        walk[0] = state;
        int alive = 0;
        boolean previousDied = false;
        for (int i = 0; i < sorted.length; i++) {
            int id = sorted[i];
            byte[] b = vocabulary.bytes(id);
            int shared = lcp[i];
            if (previousDied && shared > alive) {
                continue; // shares the byte on which the previous token died
            }
            if (walk.length <= b.length) {
                walk = java.util.Arrays.copyOf(walk, Math.max(walk.length * 2, b.length + 1));
            }
            int k = Math.min(shared, alive);
            int s = walk[k];
            boolean died = false;
            for (; k < b.length; k++) {
                s = dfa.step(s, b[k]);
                if (s == ByteDfa.DEAD) {
                    died = true;
                    break;
                }
                walk[k + 1] = s;
            }
            alive = k;
            previousDied = died;
            if (!died && (dfa.distance[s] <= budget || (dfa.accept[s] && !dfa.hasOutgoing[s]))) {
                m[id >>> 6] |= 1L << id;
                maxAfter = Math.max(maxAfter, dfa.distance[s]);
            }
        }
        if (dfa.accept[state]) {
            for (int eos : vocabulary.eosIdsShared()) {
                m[eos >>> 6] |= 1L << eos;
            }
        }
        return maxAfter;
    }
}
