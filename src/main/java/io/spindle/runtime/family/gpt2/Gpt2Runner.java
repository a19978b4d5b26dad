package io.spindle.runtime.family.gpt2;

import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import io.spindle.engine.exec.ModelExecutionException;
import io.spindle.engine.exec.StepInput;
import io.spindle.engine.exec.StepOutput;
import io.spindle.kvcache.PrefixCache;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Runs a GPT-2-family decoder graph for a batch of sequences, keeping their KV caches.
 *
 * <p>Cache layout ({@link BatchCache}): a batch's cache lives in direct buffers Spindle owns,
 * [batch, heads, T, head_dim] per tensor, into which ONNX Runtime writes the present outputs (pinned
 * outputs), with an attention-mask row per sequence saying which of the T positions are real. Two
 * sets of buffers alternate: one holds the past the step reads, the other receives the presents it
 * writes, so nothing is copied to carry the cache from one step to the next. While the batch's
 * composition is unchanged and every row feeds one token (steady decode), the presents are fed
 * straight back as the next past and the mask grows by one column; a sequence that leaves a decoding
 * batch leaves a hole, and one that joins takes a hole or is added after the last row (see
 * {@link BatchCache}). Otherwise, when the composition changes, the batch is repacked: each
 * remaining sequence's real positions are copied once, straight from the old buffers into the
 * other set, right-aligned to the longest (padding zeroed and masked), so positions and masks stay
 * exact for rows of different lengths; new tokens are right-aligned too, so every row's last fed
 * token is at the last position. A sequence that leaves a batch alive is kept in a compact heap
 * block until it returns.
 *
 * <p>Two batches: one graph call computes {@code rows × longest chunk} positions, so a prompt chunk
 * of n tokens in the same call as k decoding rows would cost k × n positions instead of k + n (at 31
 * decoding rows and a 32-token prompt, 16 times the work of the step). A step that mixes decoding
 * rows with prompt chunks therefore runs two graph calls: the decoding rows in the decode batch
 * (whose composition, and so its cache, usually carries over unchanged), and the prompt chunks in a
 * prefill batch of their own. A sequence moves from the prefill batch into the decode batch when it
 * starts decoding. Steps of only one kind run in the decode batch alone.
 * Confined to the engine thread.
 */
public final class Gpt2Runner implements Gpt2Decoder {
    /** What both batches share: the sessions, the graph's facts and the host-side input buffers. */
    record Shared(OrtEnvironment env, OrtSession withPast, OrtSession noPast, Gpt2Graph graph, KvLayout kvLayout,
                  HostBuffer ids, HostBuffer positions, HostBuffer maskInput) {
    }

    private final Shared shared;
    private final int contextLength;
    /** Sequences in neither batch while still alive, as compact blocks per cache tensor. */
    private final Map<Long, byte[][]> detached = new HashMap<>();
    private final Map<Long, Integer> detachedLength = new HashMap<>();
    private final BatchCache decode;
    private final BatchCache prefill;
    // Which batch, and which row of it, each row of the last step's input went to.
    private BatchCache[] rowBatch = new BatchCache[0];
    private int[] rowIndex = new int[0];
    private final List<StepInput> decodeRows = new ArrayList<>();
    private final List<StepInput> prefillRows = new ArrayList<>();
    /** Cached prefixes, null when off. */
    private KvPrefixBlocks prefixes;

    public Gpt2Runner(OrtEnvironment env, OrtSession withPast, OrtSession noPast, Gpt2Graph graph, int contextLength) {
        int width = graph.kvType() == OnnxJavaType.FLOAT16 ? 2 : 4;
        this.shared = new Shared(env, withPast, noPast, graph,
                new KvLayout(graph.cacheOuter(), graph.numHeads(), graph.headDim(), width),
                new HostBuffer(graph.idsType()), new HostBuffer(graph.idsType()), new HostBuffer(graph.maskType()));
        this.contextLength = contextLength;
        this.decode = new BatchCache(shared, new Elsewhere(false), false);
        this.prefill = new BatchCache(shared, new Elsewhere(true), true);
    }

    @Override
    public Gpt2Graph graph() {
        return shared.graph();
    }

    @Override
    public int vocabSize() {
        return shared.graph().vocabSize();
    }

    @Override
    public int contextLength() {
        return contextLength;
    }

    @Override
    public long kvBytesPerToken() {
        return shared.graph().kvBytesPerToken();
    }

    @Override
    public StepOutput execute(List<StepInput> batch) throws ModelExecutionException {
        int rows = batch.size();
        if (rowBatch.length != rows) {
            rowBatch = new BatchCache[rows];
            rowIndex = new int[rows];
        }
        decodeRows.clear();
        prefillRows.clear();
        boolean anyDecode = false;
        boolean anyChunk = false;
        for (StepInput in : batch) {
            anyDecode |= in.length() == 1;
            anyChunk |= in.length() > 1;
        }
        boolean split = anyDecode && anyChunk;
        for (int r = 0; r < rows; r++) {
            StepInput in = batch.get(r);
            boolean toPrefill = split && in.length() > 1;
            List<StepInput> target = toPrefill ? prefillRows : decodeRows;
            rowBatch[r] = toPrefill ? prefill : decode;
            rowIndex[r] = target.size();
            target.add(in);
        }
        try {
            decode.forward(decodeRows);
            if (!prefillRows.isEmpty()) {
                prefill.forward(prefillRows);
            }
        } catch (OrtException | RuntimeException e) {
            // The engine fails every sequence of this step; start the next from empty batches.
            decode.drop();
            prefill.drop();
            throw new ModelExecutionException("forward pass of " + rows + " row(s) failed: " + e.getMessage(), e);
        }
        return new StepOutput.EveryPosition() {
            @Override
            public void copyLogits(int row, float[] dst) {
                rowBatch[row].copyLogits(rowIndex[row], dst);
            }

            @Override
            public void copyLogits(int row, int position, float[] dst) {
                rowBatch[row].copyLogits(rowIndex[row], position, dst);
            }
        };
    }

    /** How one batch finds, and keeps, the caches of sequences it does not hold. */
    private final class Elsewhere implements BatchCache.Elsewhere {
        private final boolean forPrefill;

        Elsewhere(boolean forPrefill) {
            this.forPrefill = forPrefill;
        }

        private BatchCache other() {
            return forPrefill ? decode : prefill;
        }

        @Override
        public byte[][] take(StepInput in) {
            long id = in.sequenceId();
            byte[][] block;
            int have;
            if (detached.containsKey(id)) {
                block = detached.remove(id);
                have = detachedLength.remove(id);
            } else if (other().holds(id)) {
                have = other().lengthOf(id);
                block = other().remove(id);
            } else {
                block = null;
                have = 0;
            }
            if (have != in.from()) {
                throw new IllegalStateException("sequence " + id + " has " + have
                        + " cached tokens but the step starts at " + in.from());
            }
            return block;
        }

        @Override
        public void keep(long id, byte[][] blocks, int length) {
            detached.put(id, blocks);
            detachedLength.put(id, length);
        }

        @Override
        public boolean moveInto(StepInput in, java.nio.ByteBuffer[] dst, int batch, int row, int len) {
            long id = in.sequenceId();
            if (!other().holds(id)) {
                return false;
            }
            if (other().lengthOf(id) != in.from()) {
                throw new IllegalStateException("sequence " + id + " has " + other().lengthOf(id)
                        + " cached tokens but the step starts at " + in.from());
            }
            other().moveOut(id, dst, batch, row, len);
            return true;
        }
    }

    /** The child's copy is kept detached; it joins a batch at its first step like any returning sequence. */
    @Override
    public void fork(long parentId, long childId) {
        Compact parent = compactOf(parentId);
        if (parent == null) {
            throw new IllegalStateException("sequence " + parentId + " has no cache to fork");
        }
        byte[][] blocks = parent.blocks();
        if (detached.get(parentId) == blocks) {
            // The parent keeps its detached blocks: the child gets its own.
            blocks = new byte[blocks.length][];
            for (int i = 0; i < blocks.length; i++) {
                blocks[i] = parent.blocks()[i].clone();
            }
        }
        detached.put(childId, blocks);
        detachedLength.put(childId, parent.length());
    }

    /** A sequence's cache as compact blocks, one per cache tensor, and its length. */
    private record Compact(byte[][] blocks, int length) {
    }

    /**
     * Sequence {@code id}'s cache as compact blocks: its detached blocks themselves (not a copy), or a
     * copy gathered from the batch that holds it; null when the runner holds none.
     */
    private Compact compactOf(long id) {
        if (detached.containsKey(id)) {
            return new Compact(detached.get(id), detachedLength.get(id));
        }
        for (BatchCache batch : List.of(decode, prefill)) {
            if (batch.holds(id)) {
                return new Compact(batch.copy(id), batch.lengthOf(id));
            }
        }
        return null;
    }

    @Override
    public void enablePrefixCache(int blockSize) {
        prefixes = new KvPrefixBlocks(blockSize, shared.kvLayout(), shared.graph().pastNames().size());
    }

    @Override
    public int restorePrefix(long sequenceId, int[] tokens, int maxTokens) {
        if (prefixes == null || holds(sequenceId)) {
            return 0;
        }
        PrefixCache.Hit<NativeBuffer> hit = prefixes.lookup(tokens, maxTokens);
        if (hit.tokens() == 0) {
            return 0;
        }
        int numTensors = shared.graph().pastNames().size();
        byte[][] blocks = new byte[numTensors][];
        List<java.nio.ByteBuffer> parts = new ArrayList<>(hit.blocks().size());
        for (NativeBuffer block : hit.blocks()) {
            parts.add(block.buffer());
        }
        for (int c = 0; c < numTensors; c++) {
            blocks[c] = shared.kvLayout().concat(parts, c * prefixes.blockBytes(), prefixes.blockSize());
        }
        detached.put(sequenceId, blocks);
        detachedLength.put(sequenceId, hit.tokens());
        return hit.tokens();
    }

    private boolean holds(long id) {
        return detached.containsKey(id) || decode.holds(id) || prefill.holds(id);
    }

    @Override
    public void offerPrefix(long sequenceId, int[] tokens, int n) {
        // Without a whole block to add, the cache is not gathered.
        if (prefixes == null || !prefixes.addsBlock(tokens, n)) {
            return;
        }
        for (BatchCache batch : List.of(decode, prefill)) {
            if (batch.holds(sequenceId)) {
                KvPrefixBlocks.Slices direct = batch.slices(sequenceId);
                if (direct != null) {
                    prefixes.insert(tokens, Math.min(n, batch.lengthOf(sequenceId)), direct);
                    return;
                }
            }
        }
        Compact held = compactOf(sequenceId);
        if (held == null) {
            return;
        }
        byte[][] compact = held.blocks();
        int length = held.length();
        KvLayout kv = shared.kvLayout();
        prefixes.insert(tokens, Math.min(n, length),
                (c, from, to, into, offset) -> kv.sliceInto(compact[c], length, from, to, into, offset));
    }

    @Override
    public int prefixCacheTokens() {
        return prefixes == null ? 0 : prefixes.tokens();
    }

    @Override
    public void evictPrefixesTo(int tokens) {
        if (prefixes != null) {
            prefixes.evictTo(tokens);
        }
    }

    @Override
    public long prefixCacheBytes() {
        return prefixes == null ? 0 : prefixes.bytes();
    }

    /** Bytes the prefill batch holds (kept while others decode, even with no row); for tests. */
    long prefillBatchBytes() {
        return prefill.allocatedBytes();
    }

    /** Repacks of the decode batch so far (steady steps and steps that reuse holes do none); for tests. */
    long decodeRepacks() {
        return decode.numRepacks();
    }

    @Override
    public void release(long sequenceId) {
        detached.remove(sequenceId);
        detachedLength.remove(sequenceId);
        decode.release(sequenceId);
        prefill.release(sequenceId);
        if (numCachedSequences() == 0) {
            // The prefill batch keeps its buffers while others decode; an idle runner holds none.
            prefill.drop();
        }
    }

    @Override
    public int numCachedSequences() {
        return detached.size() + decode.numLive() + prefill.numLive();
    }

    @Override
    public long allocatedBytes() {
        long n = decode.allocatedBytes() + prefill.allocatedBytes();
        for (byte[][] blocks : detached.values()) {
            for (byte[] b : blocks) {
                n += b.length;
            }
        }
        return n;
    }

    @Override
    public void close() {
        decode.drop();
        prefill.drop();
        detached.clear();
        detachedLength.clear();
        if (prefixes != null) {
            prefixes.clear();
        }
        try {
            shared.withPast().close();
            if (shared.noPast() != null) {
                shared.noPast().close();
            }
        } catch (OrtException e) {
            throw new IllegalStateException("closing ONNX Runtime sessions failed", e);
        }
    }
}
