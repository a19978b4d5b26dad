package io.spindle.runtime.family.gpt2;

import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import io.spindle.engine.exec.ModelExecutionException;
import io.spindle.engine.exec.ModelRunner;
import io.spindle.engine.exec.StepInput;
import io.spindle.engine.exec.StepOutput;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Runs a GPT-2-family decoder graph for a batch of sequences, keeping their KV caches.
 *
 * <p>Cache layout: the batch's cache lives in direct buffers Spindle owns, [batch, heads, T, head_dim]
 * per tensor, into which ONNX Runtime writes the present outputs (pinned outputs), with an
 * attention-mask row per sequence saying which of the T positions are real. Two sets of buffers
 * alternate: one holds the past the step reads, the other receives the presents it writes, so
 * nothing is copied to carry the cache from one step to the next. While the batch's composition is
 * unchanged and every row feeds one token (steady decode), the presents are fed straight back as the
 * next past and the mask grows by one column. When the composition changes (a sequence joins,
 * leaves or prefills), the batch is repacked: each remaining sequence's real positions are copied
 * once, straight from the old buffers into the other set, right-aligned to the longest (padding
 * zeroed and masked), so positions and masks stay exact for rows of different lengths; new tokens are
 * right-aligned too, so every row's last fed token is at the last position. A sequence that leaves
 * the batch alive is kept in a compact heap block until it returns.
 * Confined to the engine thread.
 */
public final class Gpt2Runner implements ModelRunner {
    private final OrtEnvironment env;
    private final OrtSession withPast;
    private final OrtSession noPast;
    private final Gpt2Graph graph;
    private final int contextLength;
    private final KvLayout kvLayout;
    private final HostBuffer ids;
    private final HostBuffer positions;
    private final HostBuffer maskInput;
    private final Map<String, OnnxTensor> inputs = new HashMap<>();
    private final Map<String, OnnxTensor> pinned = new HashMap<>();

    /** Sequences evicted from the batch while still alive, as compact blocks per cache tensor. */
    private final Map<Long, byte[][]> detached = new HashMap<>();
    private final Map<Long, Integer> detachedLength = new HashMap<>();

    /** Two sets of cache buffers, one per cache tensor each; {@code cur} holds the batch cache (-1: none). */
    private final ByteBuffer[][] sets;
    private int cur = -1;
    /** Tensor views of the batch cache as the last step wrote it; they become the next step's past. */
    private OnnxTensor[] curTensors;
    // The current batch: row ids (-1 once released), real lengths, total length T, 0/1 mask [rows × T].
    private long[] rowIds = new long[0];
    private int[] rowValid = new int[0];
    private int total;
    private byte[] mask = new byte[0];

    private ByteBuffer logits = ByteBuffer.allocateDirect(0);
    private int logitsRowStride;
    private int logitsSeq;

    public Gpt2Runner(OrtEnvironment env, OrtSession withPast, OrtSession noPast, Gpt2Graph graph, int contextLength) {
        this.env = env;
        this.withPast = withPast;
        this.noPast = noPast;
        this.graph = graph;
        this.contextLength = contextLength;
        int width = graph.kvType() == OnnxJavaType.FLOAT16 ? 2 : 4;
        this.kvLayout = new KvLayout(graph.cacheOuter(), graph.numHeads(), graph.headDim(), width);
        this.ids = new HostBuffer(graph.idsType());
        this.positions = new HostBuffer(graph.idsType());
        this.maskInput = new HostBuffer(graph.maskType());
        this.sets = new ByteBuffer[2][graph.pastNames().size()];
    }

    public Gpt2Graph graph() {
        return graph;
    }

    @Override
    public int vocabSize() {
        return graph.vocabSize();
    }

    @Override
    public int contextLength() {
        return contextLength;
    }

    @Override
    public long kvBytesPerToken() {
        return graph.kvBytesPerToken();
    }

    @Override
    public StepOutput execute(List<StepInput> batch) throws ModelExecutionException {
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
            if (canReusePresents(batch, seq)) {
                past = curTensors;
                owned.addAll(Arrays.asList(past));
                curTensors = null;
                pastLen = total;
                newMask = extendMask(rows);
                pastSet = cur;
            } else {
                pastSet = cur == 0 ? 1 : 0;
                pastLen = repack(batch, pastSet);
                past = views(pastSet, rows, pastLen);
                owned.addAll(Arrays.asList(past));
                newMask = newMask(batch, pastLen, seq);
            }
            int newTotal = pastLen + seq;
            fillIdsAndPositions(batch, seq);
            OrtSession session = pastLen == 0 && noPast != null ? noPast : withPast;
            inputs.clear();
            OnnxTensor idsTensor = ids.tensor(env, rows, seq);
            owned.add(idsTensor);
            inputs.put("input_ids", idsTensor);
            maskInput.reset(rows * newTotal);
            for (int i = 0; i < rows * newTotal; i++) {
                maskInput.put(i, newMask[i]);
            }
            OnnxTensor maskTensor = maskInput.tensor(env, rows, newTotal);
            owned.add(maskTensor);
            inputs.put("attention_mask", maskTensor);
            if (graph.hasPositionIds()) {
                OnnxTensor pos = positions.tensor(env, rows, seq);
                owned.add(pos);
                inputs.put("position_ids", pos);
            }
            if (session == withPast) {
                for (int i = 0; i < past.length; i++) {
                    inputs.put(graph.pastNames().get(i), past[i]);
                }
                if (graph.hasUseCacheBranch()) {
                    OnnxTensor branch = OnnxTensor.createTensor(env, new boolean[] {pastLen > 0});
                    owned.add(branch);
                    inputs.put("use_cache_branch", branch);
                }
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
            rowIds = new long[rows];
            rowValid = new int[rows];
            for (int r = 0; r < rows; r++) {
                rowIds[r] = batch.get(r).sequenceId();
                rowValid[r] = batch.get(r).to();
            }
            return this::copyLogits;
        } catch (OrtException | RuntimeException e) {
            // The engine fails every sequence of this batch; start the next step from an empty batch.
            closeAll(presents);
            dropBatch();
            throw new ModelExecutionException("forward pass of " + batch.size() + " row(s) failed: " + e.getMessage(), e);
        } finally {
            for (OnnxTensor t : owned) {
                t.close();
            }
        }
    }

    private boolean canReusePresents(List<StepInput> batch, int seq) {
        if (curTensors == null || seq != 1 || batch.size() != rowIds.length) {
            return false;
        }
        for (int r = 0; r < rowIds.length; r++) {
            StepInput in = batch.get(r);
            if (rowIds[r] != in.sequenceId() || rowValid[r] != in.from() || in.length() != 1) {
                return false;
            }
        }
        return true;
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
     * Lays the past of a new batch composition out in buffer set {@code target} (see the class
     * comment) and returns its length. Afterwards the other set is free to receive the presents.
     */
    private int repack(List<StepInput> batch, int target) {
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
        Set<Long> next = new java.util.HashSet<>();
        for (StepInput in : batch) {
            next.add(in.sequenceId());
        }
        for (Map.Entry<Long, Integer> e : oldRow.entrySet()) {
            if (!next.contains(e.getKey())) {
                detach(e.getKey(), e.getValue());
            }
        }
        int numTensors = graph.pastNames().size();
        for (int c = 0; c < numTensors; c++) {
            ensure(target, c, kvLayout.batchBytes(rows, pastLen));
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
                    kvLayout.move(sets[cur][c], rowIds.length, o, total, mask, o * total, sets[target][c], rows, r,
                            pastLen, in.from());
                }
            } else {
                byte[][] block = takeDetached(in);
                for (int c = 0; c < numTensors; c++) {
                    kvLayout.scatter(block == null ? null : block[c], in.from(), sets[target][c], rows, r, pastLen);
                }
            }
        }
        closeAll(curTensors);
        curTensors = null;
        return pastLen;
    }

    /** Copies a live sequence that leaves the batch into a compact block. */
    private void detach(long id, int row) {
        byte[][] compact = new byte[sets[cur].length][];
        for (int c = 0; c < compact.length; c++) {
            compact[c] = kvLayout.gather(sets[cur][c], rowIds.length, row, total, mask, row * total, rowValid[row]);
        }
        detached.put(id, compact);
        detachedLength.put(id, rowValid[row]);
    }

    private byte[][] takeDetached(StepInput in) {
        byte[][] block = detached.remove(in.sequenceId());
        Integer len = detachedLength.remove(in.sequenceId());
        int have = len == null ? 0 : len;
        if (have != in.from()) {
            throw new IllegalStateException("sequence " + in.sequenceId() + " has " + have
                    + " cached tokens but the step starts at " + in.from());
        }
        return block;
    }

    /** Grows buffer {@code c} of set {@code set} to at least {@code bytes}; contents are not kept. */
    private void ensure(int set, int c, long bytes) {
        if (bytes > Integer.MAX_VALUE) {
            throw new IllegalStateException("a KV-cache tensor of " + bytes + " bytes exceeds what one buffer holds");
        }
        ByteBuffer b = sets[set][c];
        if (b == null || b.capacity() < bytes) {
            long grown = Math.min(Integer.MAX_VALUE, Math.max(bytes, b == null ? 0 : b.capacity() * 3L / 2));
            sets[set][c] = ByteBuffer.allocateDirect((int) grown).order(ByteOrder.nativeOrder());
        }
    }

    /** Tensor views, shaped for {@code rows} × {@code len}, over the buffers of a set (grown as needed). */
    private OnnxTensor[] views(int set, int rows, int len) throws OrtException {
        int numTensors = graph.pastNames().size();
        OnnxTensor[] out = new OnnxTensor[numTensors];
        long bytes = kvLayout.batchBytes(rows, len);
        long[] shape = graph.cacheOuter() == 1
                ? new long[] {rows, graph.numHeads(), len, graph.headDim()}
                : new long[] {2, rows, graph.numHeads(), len, graph.headDim()};
        try {
            for (int c = 0; c < numTensors; c++) {
                ensure(set, c, bytes);
                ByteBuffer view = sets[set][c].duplicate().order(ByteOrder.nativeOrder()).position(0).limit((int) bytes);
                out[c] = OnnxTensor.createTensor(env, view, shape, graph.kvType());
            }
            return out;
        } catch (OrtException | RuntimeException e) {
            closeAll(out);
            throw e;
        }
    }

    private void fillIdsAndPositions(List<StepInput> batch, int seq) {
        int rows = batch.size();
        ids.reset(rows * seq);
        positions.reset(rows * seq);
        for (int r = 0; r < rows; r++) {
            StepInput in = batch.get(r);
            int pad = seq - in.length();
            for (int j = 0; j < seq; j++) {
                boolean real = j >= pad;
                ids.put(r * seq + j, real ? in.tokens()[in.from() + j - pad] : 0);
                positions.put(r * seq + j, real ? in.from() + j - pad : 0);
            }
        }
    }

    private OnnxTensor pinLogits(int rows, int seq) throws OrtException {
        int width = graph.logitsType() == OnnxJavaType.FLOAT16 ? 2 : 4;
        int bytes = rows * seq * graph.vocabSize() * width;
        if (logits.capacity() < bytes) {
            logits = ByteBuffer.allocateDirect(bytes).order(ByteOrder.nativeOrder());
        }
        logitsSeq = seq;
        logitsRowStride = seq * graph.vocabSize();
        ByteBuffer view = logits.duplicate().order(ByteOrder.nativeOrder()).position(0).limit(bytes);
        return OnnxTensor.createTensor(env, view, new long[] {rows, seq, graph.vocabSize()}, graph.logitsType());
    }

    private void copyLogits(int row, float[] dst) {
        int v = graph.vocabSize();
        int offset = row * logitsRowStride + (logitsSeq - 1) * v;
        if (graph.logitsType() == OnnxJavaType.FLOAT16) {
            for (int i = 0; i < v; i++) {
                dst[i] = Float.float16ToFloat(logits.getShort((offset + i) * 2));
            }
        } else {
            logits.asFloatBuffer().get(offset, dst, 0, v);
        }
    }

    @Override
    public void release(long sequenceId) {
        detached.remove(sequenceId);
        detachedLength.remove(sequenceId);
        boolean anyLive = false;
        for (int r = 0; r < rowIds.length; r++) {
            if (rowIds[r] == sequenceId) {
                rowIds[r] = -1;
            }
            anyLive |= rowIds[r] >= 0;
        }
        if (!anyLive) {
            dropBatch();
        }
    }

    @Override
    public int numCachedSequences() {
        int n = detached.size();
        for (long id : rowIds) {
            n += id >= 0 ? 1 : 0;
        }
        return n;
    }

    /**
     * Forgets the batch cache and lets its buffers go, so an idle model holds no cache memory (a
     * later batch allocates afresh). Sequences detached from the batch are kept.
     */
    private void dropBatch() {
        closeAll(curTensors);
        curTensors = null;
        cur = -1;
        rowIds = new long[0];
        rowValid = new int[0];
        total = 0;
        mask = new byte[0];
        for (ByteBuffer[] set : sets) {
            Arrays.fill(set, null);
        }
    }

    private static void closeAll(OnnxTensor[] tensors) {
        if (tensors != null) {
            for (OnnxTensor t : tensors) {
                if (t != null) {
                    t.close();
                }
            }
        }
    }

    @Override
    public void close() {
        dropBatch();
        detached.clear();
        detachedLength.clear();
        try {
            withPast.close();
            if (noPast != null) {
                noPast.close();
            }
        } catch (OrtException e) {
            throw new IllegalStateException("closing ONNX Runtime sessions failed", e);
        }
    }
}
