package io.spindle.sampling.constraint;

import java.util.concurrent.atomic.AtomicReferenceArray;

/**
 * A constraint compiled against one vocabulary: the byte DFA plus, per DFA state, the set of tokens
 * whose bytes it can walk (built the first time a sequence reaches that state, then shared by every
 * sequence and thread; one pass over the vocabulary sorted by bytes, reusing the walk of each
 * token's common prefix with the previous one). Thread-safe: an index computed twice by a race is
 * identical, so either copy may win.
 *
 * <p>The output's first token walks the vocabulary's first-token view (a SentencePiece decoder drops
 * the first piece's {@code ▁}), so its mask is a separate one. A vocabulary that cannot spell every
 * byte (SentencePiece without byte fallback: T5 has no piece for "{" or "é") may reach DFA states
 * from which no token sequence finishes a match; then the tokens that can still lead to one are
 * worked out at compile time, masks allow only those, and a constraint the vocabulary cannot spell
 * at all is a {@link ConstraintException} instead of an output that gets stuck.
 */
public final class CompiledConstraint {
    /** Receives each token a DFA state can take and the state it leads to. */
    interface TokenStep {
        void accept(int tokenId, int target);
    }

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
    /**
     * Per DFA state, whether some token sequence from it ends in a match, and whether some token leads on
     * to such a state; null when the vocabulary spells every byte (then every DFA state is live, and a
     * state leads on exactly when it has an outgoing byte).
     */
    private final boolean[] live;
    private final boolean[] leadsOn;
    /** The first token's mask when the vocabulary has a first-token view, else null (the start state's mask). */
    private final long[] firstMask;
    private final boolean firstLeadsOn;

    CompiledConstraint(ConstraintSpec spec, TokenVocabulary vocabulary, ByteDfa dfa, long compileNanos) {
        this.spec = spec;
        this.vocabulary = vocabulary;
        this.dfa = dfa;
        this.masks = new AtomicReferenceArray<>(dfa.numStates);
        this.maxDistanceAfter = new int[dfa.numStates];
        if (vocabulary.spellsEveryByte()) {
            this.live = null;
            this.leadsOn = null;
        } else {
            boolean[][] l = liveness(dfa, vocabulary);
            this.live = l[0];
            this.leadsOn = l[1];
        }
        this.firstMask = vocabulary.hasFirstTokenView() || live != null ? buildFirstMask() : null;
        this.firstLeadsOn = firstMask != null ? leadsOnFrom(firstMask) : dfa.hasOutgoing[0];
        if (!firstLeadsOn && !dfa.accept[0]) {
            throw new ConstraintException(spec.kind() + ": this model's vocabulary cannot spell any text the constraint "
                    + "allows: no sequence of its tokens decodes to a match (its tokenizer lacks pieces, and byte fallback, for "
                    + "some of the characters needed)");
        }
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

    /** The first token's allowed set (the start state's mask unless the vocabulary has a first-token view). */
    long[] firstMask() {
        return firstMask != null ? firstMask : mask(0);
    }

    /** Whether some token may follow in {@code state} (an accepting state where none may is complete). */
    boolean leadsOn(int state) {
        return leadsOn != null ? leadsOn[state] : dfa.hasOutgoing[state];
    }

    /** Whether the first token's mask is not the start state's (a first-token view, or unspellable states pruned). */
    boolean hasOwnFirstMask() {
        return firstMask != null;
    }

    /** Whether some token may be the first of the output. */
    boolean firstLeadsOn() {
        return firstLeadsOn;
    }

    /** The tokens whose first-token bytes walk from the start into a live state, and EOS if the empty text matches. */
    private long[] buildFirstMask() {
        long[] m = new long[(vocabulary.size() + 63) >>> 6];
        for (int id = 0; id < vocabulary.size(); id++) {
            int t = walk(dfa, 0, vocabulary.firstBytes(id));
            if (t != ByteDfa.DEAD && (live == null || live[t])) {
                m[id >>> 6] |= 1L << id;
            }
        }
        if (dfa.accept[0]) {
            setEos(m);
        }
        return m;
    }

    private boolean leadsOnFrom(long[] mask) {
        long[] copy = mask.clone();
        for (int eos : vocabulary.eosIdsShared()) {
            copy[eos >>> 6] &= ~(1L << eos);
        }
        for (long w : copy) {
            if (w != 0) {
                return true;
            }
        }
        return false;
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

    /** Sets the allowed tokens' bits (live targets within {@code budget}); returns the largest distance after one. */
    private int fill(int state, int budget, long[] m) {
        boolean[] l = live;
        int[] maxAfter = {0};
        forEachToken(dfa, vocabulary, state, (id, target) -> {
            if ((l == null || l[target]) && (dfa.distance[target] <= budget || (dfa.accept[target] && !leadsOn(target)))) {
                m[id >>> 6] |= 1L << id;
                maxAfter[0] = Math.max(maxAfter[0], dfa.distance[target]);
            }
        });
        if (dfa.accept[state]) {
            setEos(m);
        }
        return maxAfter[0];
    }

    private void setEos(long[] m) {
        for (int eos : vocabulary.eosIdsShared()) {
            m[eos >>> 6] |= 1L << eos;
        }
    }

    /** The state after walking {@code bytes} from {@code state}; DEAD if it dies or there are no bytes. */
    static int walk(ByteDfa dfa, int state, byte[] bytes) {
        if (bytes == null || bytes.length == 0) {
            return ByteDfa.DEAD;
        }
        int s = state;
        for (int k = 0; k < bytes.length && s != ByteDfa.DEAD; k++) {
            s = dfa.step(s, bytes[k]);
        }
        return s;
    }

    /**
     * Calls {@code step} for every token whose bytes {@code state} can walk, with the state it ends in: one pass
     * over the vocabulary sorted by bytes, resuming each token's walk after the prefix it shares with the previous
     * one and skipping tokens that share the byte on which the previous one died.
     */
    static void forEachToken(ByteDfa dfa, TokenVocabulary vocabulary, int state, TokenStep step) {
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
            if (!died) {
                step.accept(id, s);
            }
        }
    }

    /**
     * For a vocabulary that cannot spell every byte: explores the DFA states that token walks reach from the
     * output's first token, then marks live the accepting ones and, backwards, every state with a token leading
     * to a live one. One pass over the vocabulary per reachable state, at compile time.
     *
     * @return {@code [live, leadsOn]} indexed by DFA state
     */
    private static boolean[][] liveness(ByteDfa dfa, TokenVocabulary vocabulary) {
        int n = dfa.numStates;
        java.util.List<java.util.List<Integer>> predecessors = new java.util.ArrayList<>(n);
        int[][] successors = new int[n][];
        for (int s = 0; s < n; s++) {
            predecessors.add(new java.util.ArrayList<>());
        }
        java.util.ArrayDeque<Integer> queue = new java.util.ArrayDeque<>();
        boolean[] explored = new boolean[n];
        for (int id = 0; id < vocabulary.size(); id++) {
            int t = walk(dfa, 0, vocabulary.firstBytes(id));
            if (t != ByteDfa.DEAD && !explored[t]) {
                explored[t] = true;
                queue.add(t);
            }
        }
        boolean[] seen = new boolean[n];
        while (!queue.isEmpty()) {
            int s = queue.poll();
            java.util.Arrays.fill(seen, false);
            int[] count = {0};
            int[] targets = new int[n];
            forEachToken(dfa, vocabulary, s, (id, t) -> {
                if (!seen[t]) {
                    seen[t] = true;
                    targets[count[0]++] = t;
                }
            });
            successors[s] = java.util.Arrays.copyOf(targets, count[0]);
            for (int t : successors[s]) {
                predecessors.get(t).add(s);
                if (!explored[t]) {
                    explored[t] = true;
                    queue.add(t);
                }
            }
        }
        boolean[] live = new boolean[n];
        for (int s = 0; s < n; s++) {
            if (explored[s] && dfa.accept[s]) {
                live[s] = true;
                queue.add(s);
            }
        }
        while (!queue.isEmpty()) {
            for (int p : predecessors.get(queue.poll())) {
                if (!live[p]) {
                    live[p] = true;
                    queue.add(p);
                }
            }
        }
        boolean[] leadsOn = new boolean[n];
        for (int s = 0; s < n; s++) {
            for (int t : successors[s] == null ? new int[0] : successors[s]) {
                leadsOn[s] |= live[t];
            }
        }
        return new boolean[][] {live, leadsOn};
    }
}
