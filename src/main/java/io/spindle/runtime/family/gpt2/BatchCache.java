package io.spindle.runtime.family.gpt2;

import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import io.spindle.engine.exec.StepInput;
import io.spindle.runtime.onnx.GatherRewrite;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.LongBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * One batch's KV cache and the forward pass over it (the layout is described on {@link Gpt2Runner}):
 * two alternating sets of Spindle-owned direct buffers, the rows they hold, and the attention mask.
 * Confined to the engine thread.
 */
final class BatchCache {
    /**
     * Room a growing buffer gets beyond what the step needs, in positions of one sequence (spread
     * over the rows, at least one each). Growth by 1.5× alone reallocated each buffer about ten times
     * over a 256-token stream at batch 1, and native memory is zeroed and faulted in on every
     * allocation: 2–3% of a batch-1 decode step in a JFR profile.
     */
    static final int HEADROOM_POSITIONS = 64;
    /** Left padding every row may share before a repack shortens the batch (see planSlots). */
    static final int MAX_COMMON_PADDING = 64;

    private static int withHeadroom(int rows, int len) {
        return len + Math.max(1, HEADROOM_POSITIONS / Math.max(1, rows));
    }
    /** Where sequences that are not in this batch keep their cache: detached blocks, or another batch. */
    interface Elsewhere {
        /** Takes sequence {@code in}'s cache out of wherever it is; null when it has none; checks its length. */
        byte[][] take(StepInput in);

        /** Keeps a sequence that leaves this batch alive. */
        void keep(long id, byte[][] blocks, int length);

        /**
         * When another batch holds sequence {@code in}, moves its cache straight into row {@code row}
         * of {@code dst} (right-aligned at {@code len}, padding zeroed), takes it out of that batch and
         * returns true; false when it is not held there (then {@link #take}).
         */
        boolean moveInto(StepInput in, ByteBuffer[] dst, int batch, int row, int len);
    }

    /**
     * Buffers a batch that keeps them when empty holds at most (the prefill batch: a 16-token prompt's
     * two sets are 12 MB on the 124M shape). Above it, or when the runner is idle, they go.
     */
    static final long KEPT_WHEN_EMPTY = 64L << 20;

    private final Gpt2Runner.Shared s;
    private final Elsewhere elsewhere;
    private final ByteBuffer[][] sets;
    /** The native memory behind {@code sets}, freed as soon as a buffer is replaced or dropped. */
    private final NativeBuffer[][] owners;
    private int cur = -1;
    /** Tensor views of the cache as the last pass wrote it; they become the next pass's past. */
    private OnnxTensor[] curTensors;
    // Rows (-1 once released), real lengths, total length T, 0/1 mask [rows × T].
    private long[] rowIds = new long[0];
    private int[] rowValid = new int[0];
    private int total;
    private byte[] mask = new byte[0];
    /** The cache row (slot) each row of the last forward's batch used. */
    private int[] slotOfRow = new int[0];
    /** How many tokens each row of the last forward's batch fed (right-aligned in the logits). */
    private int[] fedOfRow = new int[0];
    /** Which logits each row of the last forward's batch asked for. */
    private StepInput.Logits[] wantsOfRow = new StepInput.Logits[0];
    /**
     * On a graph that gathers its logits: the entry of the gathered logits holding each row's first
     * requested position (its last fed position for {@code LAST}, its first for {@code EVERY}).
     */
    private int[] gatheredOfRow = new int[0];
    private long[] gatherIndex = new long[0];
    private int numGathered;
    /** Repacks so far; for tests and benchmarks. */
    private long numRepacks;

    private final Map<String, OnnxTensor> inputs = new HashMap<>();
    private final Map<String, OnnxTensor> pinned = new HashMap<>();
    private NativeBuffer logitsOwner;
    private ByteBuffer logits = ByteBuffer.allocate(0);
    private int logitsRowStride;
    private int logitsSeq;

    /**
     * Whether the buffers stay when the last row leaves (up to {@link #KEPT_WHEN_EMPTY}): the prefill
     * batch empties at every arrival under load (its one prompt moves to the decode batch), and
     * releasing and remaking its 49 buffers each time (each a shared arena to close) cost the joining
     * step about 10 ms on the 124M shape.
     */
    private final boolean keepsBuffersWhenEmpty;

    BatchCache(Gpt2Runner.Shared shared, Elsewhere elsewhere, boolean keepsBuffersWhenEmpty) {
        this.s = shared;
        this.elsewhere = elsewhere;
        this.keepsBuffersWhenEmpty = keepsBuffersWhenEmpty;
        this.sets = new ByteBuffer[2][shared.graph().pastNames().size()];
        this.owners = new NativeBuffer[2][sets[0].length];
    }

    /** One forward pass over {@code batch}; afterwards this cache holds exactly its rows. */
    void forward(List<StepInput> batch) throws OrtException {
        Gpt2Graph graph = s.graph();
        OrtEnvironment env = s.env();
        List<OnnxTensor> owned = new ArrayList<>();
        OnnxTensor[] presents = null;
        try {
            int rows = batch.size();
            int seq = 0;
            for (StepInput in : batch) {
                seq = Math.max(seq, in.length());
            }
            OnnxTensor[] past;
            int pastLen;
            byte[] newMask;
            int pastSet;
            int[] slots = planSlots(batch, seq);
            if (slots != null) {
                // Steady decode, possibly with holes left by sequences that finished and new
                // sequences moved into them or added after the last row: the presents carry over,
                // only new rows are copied in.
                int needed = rowIds.length;
                for (int slot : slots) {
                    needed = Math.max(needed, slot + 1);
                }
                if (needed > rowIds.length) {
                    appendRows(needed);
                }
                rows = rowIds.length;
                past = curTensors;
                owned.addAll(Arrays.asList(past));
                curTensors = null;
                pastLen = total;
                newMask = extendMask(rows);
                placeNewRows(batch, slots, newMask);
                pastSet = cur;
            } else {
                slots = identity(rows);
                pastSet = cur == 0 ? 1 : 0;
                pastLen = repack(batch, pastSet);
                past = views(pastSet, rows, pastLen);
                owned.addAll(Arrays.asList(past));
                newMask = newMask(batch, pastLen, seq);
            }
            int newTotal = pastLen + seq;
            fillIdsAndPositions(batch, slots, rows, seq);
            OrtSession session = pastLen == 0 && s.noPast() != null ? s.noPast() : s.withPast();
            inputs.clear();
            OnnxTensor idsTensor = s.ids().tensor(env, rows, seq);
            owned.add(idsTensor);
            inputs.put("input_ids", idsTensor);
            HostBuffer maskInput = s.maskInput();
            maskInput.reset(rows * newTotal);
            for (int i = 0; i < rows * newTotal; i++) {
                maskInput.put(i, newMask[i]);
            }
            OnnxTensor maskTensor = maskInput.tensor(env, rows, newTotal);
            owned.add(maskTensor);
            inputs.put("attention_mask", maskTensor);
            if (graph.hasPositionIds()) {
                OnnxTensor pos = s.positions().tensor(env, rows, seq);
                owned.add(pos);
                inputs.put("position_ids", pos);
            }
            if (session == s.withPast()) {
                for (int i = 0; i < past.length; i++) {
                    inputs.put(graph.pastNames().get(i), past[i]);
                }
                if (graph.hasUseCacheBranch()) {
                    OnnxTensor branch = OnnxTensor.createTensor(env, new boolean[] {pastLen > 0});
                    owned.add(branch);
                    inputs.put("use_cache_branch", branch);
                }
            }
            if (graph.gathersLogits()) {
                OnnxTensor index = gatherIndex(batch, slots, seq);
                owned.add(index);
                inputs.put(GatherRewrite.INPUT, index);
            }
            int presentSet = 1 - pastSet;
            presents = views(presentSet, rows, newTotal);
            OnnxTensor logitsTensor = pinLogits(rows, seq);
            owned.add(logitsTensor);
            pinned.clear();
            pinned.put("logits", logitsTensor);
            for (int i = 0; i < presents.length; i++) {
                pinned.put(graph.presentNames().get(i), presents[i]);
            }
            session.run(inputs, Set.of(), pinned).close();

            cur = presentSet;
            curTensors = presents;
            presents = null;
            total = newTotal;
            mask = newMask;
            long[] ids = new long[rows];
            int[] valid = new int[rows];
            Arrays.fill(ids, -1);
            for (int r = 0; r < batch.size(); r++) {
                ids[slots[r]] = batch.get(r).sequenceId();
                valid[slots[r]] = batch.get(r).to();
            }
            rowIds = ids;
            rowValid = valid;
            slotOfRow = slots;
            if (fedOfRow.length < batch.size()) {
                fedOfRow = new int[batch.size()];
            }
            if (wantsOfRow.length < batch.size()) {
                wantsOfRow = new StepInput.Logits[batch.size()];
            }
            for (int r = 0; r < batch.size(); r++) {
                fedOfRow[r] = batch.get(r).length();
                wantsOfRow[r] = batch.get(r).logits();
            }
        } catch (OrtException | RuntimeException e) {
            // The runner drops both batches once the tensors below are closed.
            closeAll(presents);
            throw e;
        } finally {
            for (OnnxTensor t : owned) {
                t.close();
            }
        }
    }

    /**
     * Where each row of a steady decode step goes without a repack, or null when it needs one.
     * Every live row must continue (one token, from its cached length); a row new to this batch may
     * take a hole (a slot whose sequence left) when its cache fits right-aligned in the current
     * length. A repack happens anyway once holes exceed a quarter of the slots, or once every row is
     * padded by more than {@link #MAX_COMMON_PADDING} positions, so that neither wasted rows nor
     * padding grow without bound.
     */
    private int[] planSlots(List<StepInput> batch, int seq) {
        if (curTensors == null || seq != 1) {
            return null;
        }
        int slotsCount = rowIds.length;
        int[] slots = new int[batch.size()];
        boolean[] taken = new boolean[slotsCount];
        int live = 0;
        for (long id : rowIds) {
            live += id >= 0 ? 1 : 0;
        }
        int continuing = 0;
        int longest = 0;
        int appended = 0;
        for (int r = 0; r < batch.size(); r++) {
            StepInput in = batch.get(r);
            int slot = rowOf(in.sequenceId());
            if (slot >= 0) {
                if (rowValid[slot] != in.from()) {
                    return null;
                }
                continuing++;
            } else if (in.from() > total) {
                return null;
            }
            slots[r] = slot;
            if (slot >= 0) {
                taken[slot] = true;
            }
            longest = Math.max(longest, in.from());
        }
        if (continuing != live || total - longest > MAX_COMMON_PADDING) {
            return null;
        }
        int hole = 0;
        for (int r = 0; r < batch.size(); r++) {
            if (slots[r] >= 0) {
                continue;
            }
            while (hole < slotsCount && (taken[hole] || rowIds[hole] >= 0)) {
                hole++;
            }
            if (hole < slotsCount) {
                slots[r] = hole;
                taken[hole] = true;
            } else if (s.graph().cacheOuter() == 1) {
                // Rows are the outermost dimension: a row added after the last leaves every live row
                // where it is, where a repack would copy them all (under load, streams join one or
                // two a step, and each join copied the whole batch).
                slots[r] = slotsCount + appended++;
            } else {
                return null;
            }
        }
        int holes = slotsCount + appended - batch.size();
        return holes * 4 > slotsCount + appended ? null : slots;
    }

    /**
     * Makes room for rows {@code [rowIds.length, rows)} after the last row of the current set,
     * keeping every live row in place: the set's buffers grow (realloc), the past's views are taken
     * again, and the new rows start as holes until {@link #placeNewRows} fills them.
     */
    private void appendRows(int rows) throws OrtException {
        int old = rowIds.length;
        KvLayout kv = s.kvLayout();
        long bytes = kv.batchBytes(rows, total);
        // The views go before their memory may move.
        closeAll(curTensors);
        curTensors = null;
        for (int c = 0; c < sets[cur].length; c++) {
            if (sets[cur][c].capacity() < bytes) {
                owners[cur][c].grow(Math.min(Integer.MAX_VALUE,
                        Math.max(kv.batchBytes(rows, withHeadroom(rows, total)), sets[cur][c].capacity() * 3L / 2)));
                sets[cur][c] = owners[cur][c].buffer();
            }
        }
        curTensors = views(cur, rows, total);
        rowIds = Arrays.copyOf(rowIds, rows);
        Arrays.fill(rowIds, old, rows, -1);
        rowValid = Arrays.copyOf(rowValid, rows);
        mask = Arrays.copyOf(mask, rows * total);
    }

    /** Copies the caches of rows new to this batch into their holes of the current set, and masks them. */
    private void placeNewRows(List<StepInput> batch, int[] slots, byte[] newMask) {
        int rows = rowIds.length;
        int t = total + 1;
        for (int r = 0; r < batch.size(); r++) {
            StepInput in = batch.get(r);
            if (rowIds[slots[r]] == in.sequenceId()) {
                continue;
            }
            if (!elsewhere.moveInto(in, sets[cur], rows, slots[r], total)) {
                byte[][] block = elsewhere.take(in);
                for (int c = 0; c < sets[cur].length; c++) {
                    s.kvLayout().scatter(block == null ? null : block[c], in.from(), sets[cur][c], rows, slots[r], total);
                }
            }
            int at = slots[r] * t;
            Arrays.fill(newMask, at, at + t, (byte) 0);
            Arrays.fill(newMask, at + total - in.from(), at + t, (byte) 1);
        }
        // A hole computes a dummy token attending only to itself; its output is never read.
        for (int slot = 0; slot < rows; slot++) {
            if (!contains(slots, slot)) {
                Arrays.fill(newMask, slot * t, slot * t + total, (byte) 0);
                newMask[slot * t + total] = 1;
            }
        }
    }

    private static boolean contains(int[] a, int v) {
        for (int x : a) {
            if (x == v) {
                return true;
            }
        }
        return false;
    }

    private static int[] identity(int n) {
        int[] a = new int[n];
        for (int i = 0; i < n; i++) {
            a[i] = i;
        }
        return a;
    }

    private byte[] extendMask(int rows) {
        int t = total + 1;
        byte[] m = new byte[rows * t];
        for (int r = 0; r < rows; r++) {
            System.arraycopy(mask, r * total, m, r * t, total);
            m[r * t + total] = 1;
        }
        return m;
    }

    private static byte[] newMask(List<StepInput> batch, int pastLen, int seq) {
        int rows = batch.size();
        int t = pastLen + seq;
        byte[] m = new byte[rows * t];
        for (int r = 0; r < rows; r++) {
            StepInput in = batch.get(r);
            Arrays.fill(m, r * t + pastLen - in.from(), r * t + pastLen, (byte) 1);
            Arrays.fill(m, r * t + t - in.length(), r * t + t, (byte) 1);
        }
        return m;
    }

    /**
     * Lays the past of a new batch composition out in buffer set {@code target} and returns its
     * length. Rows of the old batch that do not continue are kept elsewhere; rows new to this batch
     * come from elsewhere. Afterwards the other set is free to receive the presents.
     */
    private int repack(List<StepInput> batch, int target) {
        numRepacks++;
        int rows = batch.size();
        int pastLen = 0;
        for (StepInput in : batch) {
            pastLen = Math.max(pastLen, in.from());
        }
        Map<Long, Integer> oldRow = new HashMap<>();
        for (int r = 0; r < rowIds.length; r++) {
            if (rowIds[r] >= 0) {
                oldRow.put(rowIds[r], r);
            }
        }
        Set<Long> next = new HashSet<>();
        for (StepInput in : batch) {
            next.add(in.sequenceId());
        }
        for (Map.Entry<Long, Integer> e : oldRow.entrySet()) {
            if (!next.contains(e.getKey())) {
                elsewhere.keep(e.getKey(), gather(e.getValue()), rowValid[e.getValue()]);
            }
        }
        int numTensors = sets[0].length;
        KvLayout kv = s.kvLayout();
        for (int c = 0; c < numTensors; c++) {
            ensure(target, c, kv.batchBytes(rows, pastLen), kv.batchBytes(rows, withHeadroom(rows, pastLen)));
        }
        for (int r = 0; r < rows; r++) {
            StepInput in = batch.get(r);
            Integer o = oldRow.get(in.sequenceId());
            if (o != null) {
                if (rowValid[o] != in.from()) {
                    throw new IllegalStateException("sequence " + in.sequenceId() + " has " + rowValid[o]
                            + " cached tokens but the step starts at " + in.from());
                }
                for (int c = 0; c < numTensors; c++) {
                    kv.move(sets[cur][c], rowIds.length, o, total, mask, o * total, sets[target][c], rows, r,
                            pastLen, in.from());
                }
            } else if (!elsewhere.moveInto(in, sets[target], rows, r, pastLen)) {
                byte[][] block = elsewhere.take(in);
                for (int c = 0; c < numTensors; c++) {
                    kv.scatter(block == null ? null : block[c], in.from(), sets[target][c], rows, r, pastLen);
                }
            }
        }
        closeAll(curTensors);
        curTensors = null;
        return pastLen;
    }

    /** Copies row {@code row}'s real positions into compact blocks, one per cache tensor. */
    private byte[][] gather(int row) {
        byte[][] compact = new byte[sets[cur].length][];
        for (int c = 0; c < compact.length; c++) {
            compact[c] = s.kvLayout().gather(sets[cur][c], rowIds.length, row, total, mask, row * total, rowValid[row]);
        }
        return compact;
    }

    long numRepacks() {
        return numRepacks;
    }

    /** Whether this batch holds sequence {@code id}. */
    boolean holds(long id) {
        return rowOf(id) >= 0;
    }

    /** The cached length of a held sequence. */
    int lengthOf(long id) {
        return rowValid[rowOf(id)];
    }

    /** A copy of a held sequence's cache as compact blocks; the batch keeps the row. */
    byte[][] copy(long id) {
        return gather(rowOf(id));
    }

    /**
     * Reads a held sequence's positions straight from the batch for the prefix cache, or null when
     * they are not one run of the row (then {@link #copy} gathers them). An ending sequence offers
     * every block it computed: gathering its whole cache first doubled the bytes copied and made a
     * heap array of megabytes per sequence.
     */
    KvPrefixBlocks.Slices slices(long id) {
        int row = rowOf(id);
        int start = 0;
        while (start < total && mask[row * total + start] == 0) {
            start++;
        }
        int valid = rowValid[row];
        if (runOfOnes(row, start) != valid) {
            return null;
        }
        int first = start;
        int rows = rowIds.length;
        int len = total;
        ByteBuffer[] set = sets[cur];
        return (c, from, to, into, offset) -> s.kvLayout().sliceRowInto(set[c], rows, row, len, first + from,
                first + to, into, offset);
    }

    private int runOfOnes(int row, int from) {
        int p = from;
        while (p < total && mask[row * total + p] == 1) {
            p++;
        }
        return p - from;
    }

    /** Takes a held sequence out of this batch as compact blocks (the batch keeps its other rows). */
    byte[][] remove(long id) {
        int row = rowOf(id);
        byte[][] blocks = gather(row);
        release(id);
        return blocks;
    }

    private int rowOf(long id) {
        for (int r = 0; r < rowIds.length; r++) {
            if (rowIds[r] == id) {
                return r;
            }
        }
        return -1;
    }

    /**
     * Moves held sequence {@code id}'s cache into row {@code row} of {@code dst} (right-aligned at
     * {@code len}), then releases it here: one copy, buffer to buffer.
     */
    void moveOut(long id, ByteBuffer[] dst, int batch, int row, int len) {
        int from = rowOf(id);
        for (int c = 0; c < dst.length; c++) {
            s.kvLayout().move(sets[cur][c], rowIds.length, from, total, mask, from * total, dst[c], batch, row, len,
                    rowValid[from]);
        }
        release(id);
    }

    /**
     * Forgets a sequence's row; once no row is live, the buffers go (unless this batch keeps them,
     * see {@link #keepsBuffersWhenEmpty}).
     */
    void release(long id) {
        boolean anyLive = false;
        for (int r = 0; r < rowIds.length; r++) {
            if (rowIds[r] == id) {
                rowIds[r] = -1;
            }
            anyLive |= rowIds[r] >= 0;
        }
        if (!anyLive) {
            if (keepsBuffersWhenEmpty && allocatedBytes() <= KEPT_WHEN_EMPTY) {
                forgetRows();
            } else {
                drop();
            }
        }
    }

    private void forgetRows() {
        closeAll(curTensors);
        curTensors = null;
        cur = -1;
        rowIds = new long[0];
        rowValid = new int[0];
        slotOfRow = new int[0];
        total = 0;
        mask = new byte[0];
    }

    /** Bytes of this batch's buffers: both cache sets and the logits buffer. */
    long allocatedBytes() {
        long n = logits.capacity();
        for (ByteBuffer[] set : sets) {
            for (ByteBuffer b : set) {
                n += b == null ? 0 : b.capacity();
            }
        }
        return n;
    }

    int numLive() {
        int n = 0;
        for (long id : rowIds) {
            n += id >= 0 ? 1 : 0;
        }
        return n;
    }

    /** Forgets the cache and lets its buffers go, so an idle model holds no cache memory. */
    void drop() {
        forgetRows();
        for (int set = 0; set < 2; set++) {
            for (int c = 0; c < sets[set].length; c++) {
                free(set, c);
            }
        }
        // A long prompt's logits ([rows, tokens, vocab]) can be a hundred megabytes: not kept idle.
        if (logitsOwner != null) {
            logitsOwner.close();
            logitsOwner = null;
        }
        logits = ByteBuffer.allocate(0);
    }

    private void free(int set, int c) {
        if (owners[set][c] != null) {
            owners[set][c].close();
            owners[set][c] = null;
        }
        sets[set][c] = null;
    }

    /**
     * Grows buffer {@code c} of set {@code set} to at least {@code bytes}, allocating at least
     * {@code growTo} when it must grow; contents are not kept.
     */
    private void ensure(int set, int c, long bytes, long growTo) {
        if (bytes > Integer.MAX_VALUE) {
            throw new IllegalStateException("a KV-cache tensor of " + bytes + " bytes exceeds what one buffer holds");
        }
        ByteBuffer b = sets[set][c];
        if (b == null || b.capacity() < bytes) {
            long grown = Math.min(Integer.MAX_VALUE, Math.max(growTo, b == null ? 0 : b.capacity() * 3L / 2));
            // No tensor views this set now (see forward): its old buffer can go at once.
            free(set, c);
            owners[set][c] = NativeBuffer.allocate(grown);
            sets[set][c] = owners[set][c].buffer();
        }
    }

    /** Tensor views, shaped for {@code rows} × {@code len}, over the buffers of a set (grown as needed). */
    private OnnxTensor[] views(int set, int rows, int len) throws OrtException {
        Gpt2Graph graph = s.graph();
        int numTensors = sets[set].length;
        OnnxTensor[] out = new OnnxTensor[numTensors];
        long bytes = s.kvLayout().batchBytes(rows, len);
        long[] shape = graph.cacheOuter() == 1
                ? new long[] {rows, graph.numHeads(), len, graph.headDim()}
                : new long[] {2, rows, graph.numHeads(), len, graph.headDim()};
        try {
            for (int c = 0; c < numTensors; c++) {
                ensure(set, c, bytes, s.kvLayout().batchBytes(rows, withHeadroom(rows, len)));
                ByteBuffer view = sets[set][c].duplicate().order(ByteOrder.nativeOrder()).position(0).limit((int) bytes);
                out[c] = OnnxTensor.createTensor(s.env(), view, shape, graph.kvType());
            }
            return out;
        } catch (OrtException | RuntimeException e) {
            closeAll(out);
            throw e;
        }
    }

    /** Ids and positions of {@code rows} slots; a slot no batch row uses (a hole) gets token 0 at position 0. */
    private void fillIdsAndPositions(List<StepInput> batch, int[] slots, int rows, int seq) {
        HostBuffer ids = s.ids();
        HostBuffer positions = s.positions();
        ids.reset(rows * seq);
        positions.reset(rows * seq);
        for (int i = 0; i < rows * seq; i++) {
            ids.put(i, 0);
            positions.put(i, 0);
        }
        for (int b = 0; b < batch.size(); b++) {
            StepInput in = batch.get(b);
            int r = slots[b];
            int pad = seq - in.length();
            for (int j = pad; j < seq; j++) {
                ids.put(r * seq + j, in.tokens()[in.from() + j - pad]);
                positions.put(r * seq + j, in.from() + j - pad);
            }
        }
    }

    /**
     * The flat positions ({@code slot · seq + position}) whose logits the batch's rows asked for, in
     * row order; remembers where each row's start. A pass that needs none still computes one
     * position, so that no tensor of the head is empty.
     */
    private OnnxTensor gatherIndex(List<StepInput> batch, int[] slots, int seq) throws OrtException {
        int n = 0;
        for (StepInput in : batch) {
            n += switch (in.logits()) {
                case NONE -> 0;
                case LAST -> 1;
                case EVERY -> in.length();
            };
        }
        if (gatherIndex.length < Math.max(1, n)) {
            gatherIndex = new long[Math.max(1, n)];
        }
        if (gatheredOfRow.length < batch.size()) {
            gatheredOfRow = new int[batch.size()];
        }
        int at = 0;
        for (int r = 0; r < batch.size(); r++) {
            StepInput in = batch.get(r);
            long rowStart = (long) slots[r] * seq;
            gatheredOfRow[r] = at;
            switch (in.logits()) {
                case NONE -> { }
                case LAST -> gatherIndex[at++] = rowStart + seq - 1;
                case EVERY -> {
                    for (int p = seq - in.length(); p < seq; p++) {
                        gatherIndex[at++] = rowStart + p;
                    }
                }
            }
        }
        if (at == 0) {
            gatherIndex[at++] = 0;
        }
        numGathered = at;
        return OnnxTensor.createTensor(s.env(), LongBuffer.wrap(gatherIndex, 0, at), new long[] {1, at});
    }

    private OnnxTensor pinLogits(int rows, int seq) throws OrtException {
        Gpt2Graph graph = s.graph();
        int width = graph.logitsType() == OnnxJavaType.FLOAT16 ? 2 : 4;
        if (graph.gathersLogits()) {
            // [1, n, vocab]: one entry per requested position, in gatherIndex's order.
            rows = 1;
            seq = numGathered;
        }
        int bytes = rows * seq * graph.vocabSize() * width;
        if (logits.capacity() < bytes) {
            if (logitsOwner != null) {
                logitsOwner.close();
            }
            logitsOwner = NativeBuffer.allocate(bytes);
            logits = logitsOwner.buffer();
        }
        logitsSeq = seq;
        logitsRowStride = seq * graph.vocabSize();
        ByteBuffer view = logits.duplicate().order(ByteOrder.nativeOrder()).position(0).limit(bytes);
        return OnnxTensor.createTensor(s.env(), view, new long[] {rows, seq, graph.vocabSize()}, graph.logitsType());
    }

    /** The last fed position's logits of row {@code row} of the last pass's batch. */
    void copyLogits(int row, float[] dst) {
        copyLogits(row, fedOfRow[row] - 1, dst);
    }

    /** The logits after the {@code position}-th token that row {@code row} fed in the last pass. */
    void copyLogits(int row, int position, float[] dst) {
        Gpt2Graph graph = s.graph();
        int v = graph.vocabSize();
        int offset;
        if (graph.gathersLogits()) {
            StepInput.Logits wants = wantsOfRow[row];
            boolean computed = wants == StepInput.Logits.EVERY
                    || (wants == StepInput.Logits.LAST && position == fedOfRow[row] - 1);
            if (!computed) {
                throw new IllegalStateException("row " + row + " asked for " + wants + " logits, not position " + position);
            }
            offset = (gatheredOfRow[row] + (wants == StepInput.Logits.EVERY ? position : 0)) * v;
        } else {
            offset = slotOfRow[row] * logitsRowStride + (logitsSeq - fedOfRow[row] + position) * v;
        }
        if (graph.logitsType() == OnnxJavaType.FLOAT16) {
            for (int i = 0; i < v; i++) {
                dst[i] = Float.float16ToFloat(logits.getShort((offset + i) * 2));
            }
        } else {
            logits.asFloatBuffer().get(offset, dst, 0, v);
        }
    }

    static void closeAll(OnnxTensor[] tensors) {
        if (tensors != null) {
            for (OnnxTensor t : tensors) {
                if (t != null) {
                    t.close();
                }
            }
        }
    }
}
