package io.spindle.sampling.constraint;

/**
 * One sequence's progress through a {@link CompiledConstraint}: before each sampling step it says
 * which token ids may come next, and {@link #advance} moves it on the sampled one. Confined to the
 * thread that samples the sequence (the engine thread); costs per step: the first visit of a DFA state
 * builds its mask (one pass over the vocabulary), later visits are a lookup, and {@link #maskLogits}
 * is one pass over the logits. The first token walks the vocabulary's first-token view (what the
 * decoder makes of a token that starts the output), every later one its plain bytes.
 */
public final class ConstraintState {
    private final CompiledConstraint compiled;
    private final ByteDfa dfa;
    private int state;
    /** No token has been taken yet: the next one is the output's first. */
    private boolean first = true;
    private boolean ended;

    ConstraintState(CompiledConstraint compiled) {
        this.compiled = compiled;
        this.dfa = compiled.dfa();
        this.state = 0;
    }

    /**
     * The allowed token ids as a bit set over the vocabulary (bit {@code id & 63} of word {@code id >>> 6}),
     * EOS included exactly when {@link #allowsEos()}; only EOS once {@link #isComplete()}. Shared with other
     * sequences: read only.
     */
    public long[] allowedTokens() {
        if (isComplete()) {
            return eosOnly();
        }
        return first ? compiled.firstMask() : compiled.mask(state);
    }

    public boolean isAllowed(int tokenId) {
        long[] m = allowedTokens();
        return tokenId >= 0 && tokenId < compiled.vocabulary().size() && (m[tokenId >>> 6] & (1L << tokenId)) != 0;
    }

    /**
     * The allowed token ids when at most {@code remainingTokens} more may be generated (this one
     * included, and an EOS if one is needed): with few left, only tokens after which the output can
     * still become a whole match in time, so that a sequence ends valid rather than cut at its limit.
     * Without such steering a model that never closes a string or stops adding digits (any model with
     * random weights; a real one now and then) runs into {@code max_tokens} with broken JSON.
     *
     * <p>Bytes bound tokens (every byte is walked by at least a single-byte token in byte-level and
     * byte-fallback vocabularies), so if the start state's distance fits the budget every output can
     * end in time. When nothing qualifies (a budget too small from the start), the plain set is used.
     * Costs a pass over the vocabulary per step, only while some allowed token could leave more bytes
     * to go than tokens left (the last few tokens of a sequence, unless its limit was tight from the start).
     * The returned set may be a per-sequence buffer, valid until the next call: read only.
     */
    public long[] allowedTokens(int remainingTokens) {
        if (isComplete() || (first && compiled.hasOwnFirstMask())) {
            // A first token with its own view (a SentencePiece decoder drops its leading space) is not
            // steered: steering follows the plain bytes, and a limit that small is the request's.
            return allowedTokens();
        }
        // A token is fine when, after it, the bytes still needed fit the tokens left minus the EOS slot.
        int budget = remainingTokens - 2;
        if (budget >= dfa.maxDistance || budget >= compiled.maxDistanceAfter(state)) {
            return compiled.mask(state);
        }
        if (bounded == null) {
            bounded = new long[(compiled.vocabulary().size() + 63) >>> 6];
        }
        compiled.boundedMask(state, budget, bounded);
        for (long w : bounded) {
            if (w != 0) {
                return bounded;
            }
        }
        return compiled.mask(state);
    }

    /** Sets every disallowed logit of {@code logits[0, n)} to −∞, so that any sampler picks an allowed token. */
    public void maskLogits(float[] logits, int n) {
        mask(allowedTokens(), logits, n);
    }

    /**
     * As {@link #maskLogits(float[], int)}, steering to a whole match within {@code remainingTokens}
     * (see {@link #allowedTokens(int)}).
     */
    public void maskLogits(float[] logits, int n, int remainingTokens) {
        mask(allowedTokens(remainingTokens), logits, n);
    }

    private static void mask(long[] m, float[] logits, int n) {
        for (int w = 0; w < m.length; w++) {
            long word = m[w];
            if (word == -1L) {
                continue;
            }
            int base = w << 6;
            int end = Math.min(n, base + 64);
            for (int i = base; i < end; i++) {
                if ((word & (1L << i)) == 0) {
                    logits[i] = Float.NEGATIVE_INFINITY;
                }
            }
        }
        for (int i = m.length << 6; i < n; i++) {
            logits[i] = Float.NEGATIVE_INFINITY;
        }
    }

    /** The output so far is a whole match: EOS may come now. */
    public boolean allowsEos() {
        return dfa.accept[state];
    }

    /** The output is a whole match and nothing may follow: the next token must be EOS (or the sequence stops here). */
    public boolean isComplete() {
        return dfa.accept[state] && !(first ? compiled.firstLeadsOn() : compiled.leadsOn(state));
    }

    /** The current DFA state (0 is the start), for diagnostics and tests. */
    int dfaState() {
        return state;
    }

    /** An EOS token has been accepted. */
    public boolean hasEnded() {
        return ended;
    }

    /** The fewest bytes still needed before EOS may come (0 when it may come now); e.g. to warn near max_tokens. */
    public int bytesToCompletion() {
        return dfa.distance[state];
    }

    /**
     * Moves on {@code tokenId}, which must be allowed (the caller masked the logits with this state).
     *
     * @throws IllegalStateException if the token is not allowed here (a bug in the caller, not the request)
     */
    public void advance(int tokenId) {
        if (ended) {
            throw new IllegalStateException("the constrained output has already ended");
        }
        if (compiled.vocabulary().isEos(tokenId)) {
            if (!allowsEos()) {
                throw new IllegalStateException("end of sequence before the constraint is satisfied");
            }
            ended = true;
            return;
        }
        if (!isAllowed(tokenId)) {
            throw new IllegalStateException("token " + tokenId + " is not allowed in this state");
        }
        TokenVocabulary v = compiled.vocabulary();
        state = CompiledConstraint.walk(dfa, state, first ? v.firstBytes(tokenId) : v.bytes(tokenId));
        first = false;
    }

    private long[] eosOnly() {
        long[] m = eosMask;
        if (m == null) {
            m = new long[(compiled.vocabulary().size() + 63) >>> 6];
            for (int eos : compiled.vocabulary().eosIdsShared()) {
                m[eos >>> 6] |= 1L << eos;
            }
            eosMask = m;
        }
        return m;
    }

    private long[] eosMask;
    /** The steered set near the end of the budget, rebuilt per step (allocated on first need). */
    private long[] bounded;
}
