package io.spindle.kvcache;

import java.util.HashMap;
import java.util.Map;

/**
 * Accounting for the KV cache, in tokens: a sequence reserves its worst case (prompt + max new
 * tokens) before it is admitted and gives it back when it leaves, so the cache can never outgrow
 * the budget however the sequences progress.
 * Confined to the engine thread.
 */
public final class KvCacheBudget {
    private final int capacityTokens;
    private final Map<Long, Integer> reservations = new HashMap<>();
    private int usedTokens;

    public KvCacheBudget(int capacityTokens) {
        if (capacityTokens < 1) {
            throw new IllegalArgumentException("KV-cache capacity must be >= 1 token");
        }
        this.capacityTokens = capacityTokens;
    }

    /** True when a request of this size could ever be admitted, i.e. fits an empty cache. */
    public boolean canEverFit(int tokens) {
        return tokens <= capacityTokens;
    }

    /** Reserves {@code tokens} for a sequence if they are free; a sequence holds at most one reservation. */
    public boolean tryReserve(long sequenceId, int tokens) {
        if (reservations.containsKey(sequenceId)) {
            throw new IllegalStateException("sequence " + sequenceId + " already holds a reservation");
        }
        if (usedTokens + tokens > capacityTokens) {
            return false;
        }
        reservations.put(sequenceId, tokens);
        usedTokens += tokens;
        return true;
    }

    /** Returns a sequence's reservation; a no-op for one without. */
    public void release(long sequenceId) {
        Integer tokens = reservations.remove(sequenceId);
        if (tokens != null) {
            usedTokens -= tokens;
        }
    }

    public int usedTokens() {
        return usedTokens;
    }

    public int capacityTokens() {
        return capacityTokens;
    }

    public int numReservations() {
        return reservations.size();
    }
}
