package io.spindle.kvcache;

import java.util.HashMap;
import java.util.Map;

/**
 * Accounting for the KV cache, in tokens: a sequence reserves its worst case (prompt + max new
 * tokens) before it is admitted and gives it back when it leaves, so the cache can never outgrow
 * the budget however the sequences progress. Cached prefixes ({@link Evictable}) live in what no
 * sequence reserves: a reservation that needs their room evicts them first, so they never refuse a
 * request nor take the budget past its capacity.
 * Confined to the engine thread.
 */
public final class KvCacheBudget {
    /** Tokens held that may be dropped to make room: the prefix cache. */
    public interface Evictable {
        int evictableTokens();

        /** Drops held tokens until at most {@code tokens} remain. */
        void evictTo(int tokens);
    }

    private static final Evictable NOTHING = new Evictable() {
        @Override
        public int evictableTokens() {
            return 0;
        }

        @Override
        public void evictTo(int tokens) {
        }
    };

    private final int capacityTokens;
    private Evictable evictable = NOTHING;
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

    public void setEvictable(Evictable evictable) {
        this.evictable = evictable;
    }

    /**
     * Reserves {@code tokens} for a sequence if they are free, evicting cached prefixes when only they
     * stand in the way; a sequence holds at most one reservation.
     */
    public boolean tryReserve(long sequenceId, int tokens) {
        if (reservations.containsKey(sequenceId)) {
            throw new IllegalStateException("sequence " + sequenceId + " already holds a reservation");
        }
        if (usedTokens + tokens > capacityTokens) {
            return false;
        }
        if (usedTokens + tokens + evictable.evictableTokens() > capacityTokens) {
            evictable.evictTo(capacityTokens - usedTokens - tokens);
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

    /** Tokens the prefix cache may hold now: its share of the capacity, within what no sequence reserves. */
    public int roomForEvictable(double maxShare) {
        return (int) Math.max(0, Math.min((long) (capacityTokens * maxShare), capacityTokens - usedTokens));
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
