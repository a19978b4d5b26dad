package io.spindle.kvcache;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The KV cache of token prefixes that sequences computed, kept after they leave so that a later prompt
 * starting with the same tokens (the next turn of a chat, a shared system prompt, a retry) copies them
 * instead of computing them again; the vLLM "automatic prefix caching" idea on dense tensors.
 *
 * <p>Prompts are cut into blocks of {@code blockSize} tokens. A block is keyed by its parent block and
 * its own tokens, compared exactly (no hash that could collide), so a block is found only after the
 * very same tokens before it: a chain of blocks is a path in a tree of prefixes (a radix tree with
 * one block per edge). Only whole blocks are cached. Eviction takes the least recently used block
 * that no cached block continues (a leaf), so a chain shrinks from its end and never leaves an
 * unreachable tail; a lookup refreshes a chain from its last block to its first, so that its first
 * blocks, which more prompts share, are the most recent.
 *
 * <p>Generic in the block's payload (the runner's copy of the block's keys and values).
 * Confined to the engine thread.
 *
 * @param <P> a block's payload
 */
public final class PrefixCache<P> {
    /** Makes the payload of one block of positions [from, to) of the sequence being offered. */
    @FunctionalInterface
    public interface BlockSource<P> {
        P block(int from, int to);
    }

    /** The cached blocks a prompt starts with, first to last, and how many tokens they hold. */
    public record Hit<P>(int tokens, List<P> blocks) {
    }

    private record Key(long parent, int[] tokens) {
        @Override
        public boolean equals(Object o) {
            return o instanceof Key k && k.parent == parent && Arrays.equals(k.tokens, tokens);
        }

        @Override
        public int hashCode() {
            return Long.hashCode(parent) * 31 + Arrays.hashCode(tokens);
        }
    }

    private static final class Node<P> {
        final long id;
        final Key key;
        final Node<P> parent;
        final P payload;
        int children;

        Node(long id, Key key, Node<P> parent, P payload) {
            this.id = id;
            this.key = key;
            this.parent = parent;
            this.payload = payload;
        }
    }

    /** The parent id of a prompt's first block. */
    private static final long ROOT = 0;

    private final int blockSize;
    private final Map<Key, Node<P>> index = new HashMap<>();
    /** Every node, least recently used first. */
    private final LinkedHashMap<Long, Node<P>> lru = new LinkedHashMap<>(16, 0.75f, true);
    private final java.util.function.Consumer<P> onEvict;
    private long nextId = ROOT + 1;
    private long evictedBlocks;

    /** @param onEvict called with each block's payload when the block leaves the cache (to free its memory) */
    public PrefixCache(int blockSize, java.util.function.Consumer<P> onEvict) {
        if (blockSize < 1) {
            throw new IllegalArgumentException("block size must be >= 1 token");
        }
        this.blockSize = blockSize;
        this.onEvict = onEvict;
    }

    public int blockSize() {
        return blockSize;
    }

    /** Cached blocks. */
    public int numBlocks() {
        return index.size();
    }

    /** Tokens held in cached blocks. */
    public int numTokens() {
        return index.size() * blockSize;
    }

    /** Blocks evicted so far. */
    public long evictedBlocks() {
        return evictedBlocks;
    }

    /**
     * The cached blocks {@code tokens} starts with, as many whole blocks as fit in {@code maxTokens},
     * refreshed as recently used.
     */
    public Hit<P> lookup(int[] tokens, int maxTokens) {
        List<Node<P>> chain = chain(tokens, Math.min(maxTokens, tokens.length));
        for (int i = chain.size() - 1; i >= 0; i--) {
            lru.get(chain.get(i).id);
        }
        List<P> payloads = new ArrayList<>(chain.size());
        chain.forEach(n -> payloads.add(n.payload));
        return new Hit<>(chain.size() * blockSize, payloads);
    }

    /** Tokens of {@code tokens[0, n)} already cached (whole blocks), without refreshing them. */
    public int cachedTokens(int[] tokens, int n) {
        return chain(tokens, n).size() * blockSize;
    }

    /**
     * Caches the whole blocks of {@code tokens[0, n)} that are not cached yet, taking their payloads
     * from {@code source}; refreshes the whole chain. Returns the blocks added.
     */
    public int insert(int[] tokens, int n, BlockSource<P> source) {
        List<Node<P>> chain = chain(tokens, n);
        Node<P> parent = chain.isEmpty() ? null : chain.getLast();
        int added = 0;
        for (int from = chain.size() * blockSize; from + blockSize <= n; from += blockSize) {
            Key key = new Key(parent == null ? ROOT : parent.id, Arrays.copyOfRange(tokens, from, from + blockSize));
            Node<P> node = new Node<>(nextId++, key, parent, source.block(from, from + blockSize));
            index.put(key, node);
            lru.put(node.id, node);
            if (parent != null) {
                parent.children++;
            }
            chain.add(node);
            parent = node;
            added++;
        }
        for (int i = chain.size() - 1; i >= 0; i--) {
            lru.get(chain.get(i).id);
        }
        return added;
    }

    /** Evicts least recently used leaf blocks until at most {@code maxBlocks} remain. Returns the blocks evicted. */
    public int shrinkTo(int maxBlocks) {
        int evicted = 0;
        while (index.size() > Math.max(0, maxBlocks)) {
            Iterator<Node<P>> it = lru.values().iterator();
            Node<P> victim = null;
            while (it.hasNext()) {
                Node<P> n = it.next();
                if (n.children == 0) {
                    victim = n;
                    it.remove();
                    break;
                }
            }
            if (victim == null) {
                throw new IllegalStateException("a non-empty prefix tree has no leaf");
            }
            index.remove(victim.key);
            if (victim.parent != null) {
                victim.parent.children--;
            }
            onEvict.accept(victim.payload);
            evicted++;
        }
        evictedBlocks += evicted;
        return evicted;
    }

    /** Forgets every block. */
    public void clear() {
        evictedBlocks += index.size();
        index.values().forEach(n -> onEvict.accept(n.payload));
        index.clear();
        lru.clear();
    }

    private List<Node<P>> chain(int[] tokens, int n) {
        List<Node<P>> chain = new ArrayList<>();
        long parent = ROOT;
        for (int from = 0; from + blockSize <= n; from += blockSize) {
            Node<P> node = index.get(new Key(parent, Arrays.copyOfRange(tokens, from, from + blockSize)));
            if (node == null) {
                break;
            }
            chain.add(node);
            parent = node.id;
        }
        return chain;
    }
}
