package io.spindle.kvcache;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The prefix tree's bookkeeping, with block payloads that name their positions. */
class PrefixCacheTest {
    private final List<String> evicted = new ArrayList<>();
    private final PrefixCache<String> cache = new PrefixCache<>(4, evicted::add);

    private void offer(int[] tokens, int n, String name) {
        cache.insert(tokens, n, (from, to) -> name + "[" + from + "," + to + ")");
    }

    @Test
    void wholeBlocksOnlyAndExactPrefixes() {
        int[] a = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
        offer(a, a.length, "a");
        assertEquals(2, cache.numBlocks(), "10 tokens hold two whole blocks of 4");
        PrefixCache.Hit<String> hit = cache.lookup(new int[] {1, 2, 3, 4, 5, 6, 7, 8, 0}, 100);
        assertEquals(8, hit.tokens());
        assertEquals(List.of("a[0,4)", "a[4,8)"), hit.blocks());
        // The same second block after a different first block is a different prefix.
        assertEquals(0, cache.lookup(new int[] {9, 9, 9, 9, 5, 6, 7, 8}, 100).tokens());
        assertEquals(4, cache.lookup(new int[] {1, 2, 3, 4, 5, 6, 7, 0}, 100).tokens(), "a block differing in its last token misses");
        assertEquals(4, cache.lookup(a, 7).tokens(), "at most maxTokens, in whole blocks");
        // Offering again adds nothing and computes no payload.
        cache.insert(a, 8, (from, to) -> {
            throw new AssertionError("block " + from + " is cached already");
        });
        assertEquals(2, cache.numBlocks());
    }

    @Test
    void evictionTakesLeastRecentlyUsedLeavesAndFreesThem() {
        int[] shared = {1, 1, 1, 1};
        int[] x = {1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3};
        int[] y = {1, 1, 1, 1, 5, 5, 5, 5};
        offer(x, x.length, "x");
        offer(y, y.length, "y");
        assertEquals(4, cache.numBlocks(), "the shared first block is stored once");
        cache.lookup(y, 100);
        // x's chain is older; its last block goes first, then its middle; the shared root stays.
        cache.shrinkTo(3);
        assertEquals(List.of("x[8,12)"), evicted);
        cache.shrinkTo(2);
        assertEquals(List.of("x[8,12)", "x[4,8)"), evicted);
        assertEquals(8, cache.lookup(y, 100).tokens());
        assertEquals(4, cache.lookup(shared, 100).tokens());
        cache.shrinkTo(0);
        assertEquals(0, cache.numBlocks());
        assertEquals(4, evicted.size());
        assertTrue(evicted.indexOf("x[0,4)") == 3, "a parent goes only after its children: " + evicted);
        assertEquals(4, cache.evictedBlocks());
    }

    @Test
    void clearFreesEveryBlock() {
        offer(new int[] {1, 2, 3, 4, 5, 6, 7, 8}, 8, "a");
        cache.clear();
        assertEquals(2, evicted.size());
        assertEquals(0, cache.numTokens());
    }
}
