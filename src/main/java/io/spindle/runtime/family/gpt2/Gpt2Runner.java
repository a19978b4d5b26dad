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
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Runs a GPT-2-family decoder graph for a batch of sequences, keeping their KV caches.
 *
 * <p>Cache layout: the batch's cache is the graph's own present outputs, [batch, heads, T, head_dim]
 * per tensor, with an attention-mask row per sequence saying which of the T positions are real. While
 * the batch's composition is unchanged and every row feeds one token (steady decode), the presents
 * are fed straight back as the next past with no copy and the mask grows by one column. When the
 * composition changes (a sequence joins, leaves or prefills), the batch is repacked: each sequence's
 * real positions are gathered and laid out left-padded to the longest, so positions and masks stay
 * exact for rows of different lengths; new tokens are right-aligned so every row's last fed token is
 * at the last position.
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
    private final Set<String> requestedOutputs;
    private final Map<String, OnnxTensor> inputs = new HashMap<>();

    /** Sequences evicted from the batch while still alive, as compact blocks per cache tensor. */
    private final Map<Long, byte[][]> detached = new HashMap<>();
    private final Map<Long, Integer> detachedLength = new HashMap<>();

    // The current batch: row ids (-1 once released), total length T, 0/1 mask [rows × T], presents.
    private long[] rowIds = new long[0];
    private int[] rowValid = new int[0];
    private int total;
    private byte[] mask = new byte[0];
    private OrtSession.Result lastResult;
    private OnnxTensor[] presents;

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
        this.requestedOutputs = new LinkedHashSet<>(graph.presentNames());
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
        OrtSession.Result result = null;
        try {
            int rows = batch.size();
            int seq = 0;
            for (StepInput in : batch) {
                seq = Math.max(seq, in.length());
            }
            OnnxTensor[] past;
            int pastLen;
            byte[] newMask;
            if (canReusePresents(batch, seq)) {
                past = presents;
                pastLen = total;
                newMask = extendMask(rows);
            } else {
                Packed packed = repack(batch, seq);
                past = packed.past;
                owned.addAll(Arrays.asList(past));
                pastLen = packed.pastLen;
                newMask = packed.mask;
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
            OnnxTensor logitsTensor = pinLogits(rows, seq);
            owned.add(logitsTensor);
            result = session.run(inputs, requestedOutputs, Map.of("logits", logitsTensor));

            OnnxTensor[] newPresents = new OnnxTensor[graph.presentNames().size()];
            for (int i = 0; i < newPresents.length; i++) {
                newPresents[i] = (OnnxTensor) result.get(graph.presentNames().get(i)).orElseThrow();
            }
            closeLastResult();
            lastResult = result;
            result = null;
            presents = newPresents;
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
            throw new ModelExecutionException("forward pass of " + batch.size() + " row(s) failed: " + e.getMessage(), e);
        } finally {
            for (OnnxTensor t : owned) {
                t.close();
            }
            if (result != null) {
                result.close();
            }
        }
    }

    private boolean canReusePresents(List<StepInput> batch, int seq) {
        if (lastResult == null || seq != 1 || batch.size() != rowIds.length) {
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

    private record Packed(OnnxTensor[] past, int pastLen, byte[] mask) {
    }

    /** Rebuilds the past tensors for a new batch composition (see the class comment). */
    private Packed repack(List<StepInput> batch, int seq) throws OrtException {
        detachLiveRows();
        int rows = batch.size();
        int pastLen = 0;
        for (StepInput in : batch) {
            pastLen = Math.max(pastLen, in.from());
        }
        byte[][][] blocks = new byte[rows][][];
        for (int r = 0; r < rows; r++) {
            StepInput in = batch.get(r);
            blocks[r] = takeCompact(in);
        }
        closeLastResult();
        int numTensors = graph.pastNames().size();
        OnnxTensor[] past = new OnnxTensor[numTensors];
        OnnxJavaType kvType = graph.kvType();
        for (int c = 0; c < numTensors; c++) {
            ByteBuffer buf = ByteBuffer.allocateDirect(kvLayout.compactBytes(pastLen) * rows).order(ByteOrder.nativeOrder());
            for (int r = 0; r < rows; r++) {
                int n = batch.get(r).from();
                if (n > 0) {
                    kvLayout.scatter(blocks[r][c], n, buf, rows, r, pastLen);
                }
            }
            long[] shape = graph.cacheOuter() == 1
                    ? new long[] {rows, graph.numHeads(), pastLen, graph.headDim()}
                    : new long[] {2, rows, graph.numHeads(), pastLen, graph.headDim()};
            past[c] = OnnxTensor.createTensor(env, buf, shape, kvType);
        }
        int t = pastLen + seq;
        byte[] m = new byte[rows * t];
        for (int r = 0; r < rows; r++) {
            StepInput in = batch.get(r);
            Arrays.fill(m, r * t + pastLen - in.from(), r * t + pastLen, (byte) 1);
            Arrays.fill(m, r * t + t - in.length(), r * t + t, (byte) 1);
        }
        return new Packed(past, pastLen, m);
    }

    /** Moves every live row of the current batch into compact form; the next batch's rows take theirs back. */
    private void detachLiveRows() {
        if (lastResult == null) {
            return;
        }
        ByteBuffer[] src = null;
        for (int r = 0; r < rowIds.length; r++) {
            long id = rowIds[r];
            if (id < 0) {
                continue;
            }
            if (src == null) {
                src = new ByteBuffer[presents.length];
                for (int c = 0; c < presents.length; c++) {
                    src[c] = presents[c].getByteBuffer().order(ByteOrder.nativeOrder());
                }
            }
            byte[][] compact = new byte[presents.length][];
            for (int c = 0; c < presents.length; c++) {
                compact[c] = kvLayout.gather(src[c], rowIds.length, r, total, mask, r * total, rowValid[r]);
            }
            detached.put(id, compact);
            detachedLength.put(id, rowValid[r]);
        }
    }

    private byte[][] takeCompact(StepInput in) {
        byte[][] block = detached.remove(in.sequenceId());
        Integer len = detachedLength.remove(in.sequenceId());
        int have = len == null ? 0 : len;
        if (have != in.from()) {
            throw new IllegalStateException("sequence " + in.sequenceId() + " has " + have
                    + " cached tokens but the step starts at " + in.from());
        }
        return block;
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
            closeLastResult();
            rowIds = new long[0];
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

    private void closeLastResult() {
        if (lastResult != null) {
            lastResult.close();
            lastResult = null;
            presents = null;
        }
    }

    @Override
    public void close() {
        closeLastResult();
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
