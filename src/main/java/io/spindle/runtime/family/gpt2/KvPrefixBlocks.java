package io.spindle.runtime.family.gpt2;

import io.spindle.kvcache.PrefixCache;

import java.nio.ByteBuffer;

/**
 * A GPT-2 runner's cached prefixes: per block one native buffer holding, for each cache tensor c at
 * {@code c × blockBytes()}, its compact [outer, heads, block, head_dim] slice. Native like the
 * runners' caches, so that the KV budget, not the Java heap, bounds it. Both runners keep their
 * cache differently (batches that repack, slots that stay); this is what they share: the blocks,
 * when one is worth adding, and their accounting. Confined to the engine thread.
 */
final class KvPrefixBlocks {
    /** Copies tensor {@code tensor}'s positions [from, to) of a sequence into {@code into} at {@code offset}. */
    interface Slices {
        void copy(int tensor, int from, int to, ByteBuffer into, int offset);
    }

    private final PrefixCache<NativeBuffer> cache;
    private final int blockBytes;
    private final int numTensors;

    KvPrefixBlocks(int blockSize, KvLayout layout, int numTensors) {
        this.cache = new PrefixCache<>(blockSize, NativeBuffer::close);
        this.blockBytes = layout.compactBytes(blockSize);
        this.numTensors = numTensors;
    }

    int blockSize() {
        return cache.blockSize();
    }

    /** Bytes one cache tensor takes in a block. */
    int blockBytes() {
        return blockBytes;
    }

    PrefixCache.Hit<NativeBuffer> lookup(int[] tokens, int maxTokens) {
        return cache.lookup(tokens, maxTokens);
    }

    /**
     * Whether {@code tokens[0, n)} would add a whole block; when not, the blocks already cached are
     * refreshed (a use, for eviction) and the caller need not gather its cache.
     */
    boolean addsBlock(int[] tokens, int n) {
        if (n - cache.cachedTokens(tokens, n) < cache.blockSize()) {
            cache.lookup(tokens, n);
            return false;
        }
        return true;
    }

    /** Tokens of {@code tokens[0, n)} already cached, whole blocks. */
    int cachedTokens(int[] tokens, int n) {
        return cache.cachedTokens(tokens, n);
    }

    /** Adds the whole blocks of {@code tokens[0, upTo)} not cached yet, each gathered by {@code slices}. */
    void insert(int[] tokens, int upTo, Slices slices) {
        cache.insert(tokens, upTo, (from, to) -> {
            NativeBuffer block = NativeBuffer.allocate((long) numTensors * blockBytes);
            for (int c = 0; c < numTensors; c++) {
                slices.copy(c, from, to, block.buffer(), c * blockBytes);
            }
            return block;
        });
    }

    int tokens() {
        return cache.numTokens();
    }

    void evictTo(int tokens) {
        cache.shrinkTo(tokens / cache.blockSize());
    }

    long bytes() {
        return (long) cache.numBlocks() * numTensors * blockBytes;
    }

    void clear() {
        cache.clear();
    }
}
