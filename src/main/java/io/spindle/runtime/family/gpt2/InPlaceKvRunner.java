package io.spindle.runtime.family.gpt2;

import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import io.spindle.engine.exec.ModelExecutionException;
import io.spindle.engine.exec.StepInput;
import io.spindle.engine.exec.StepOutput;
import io.spindle.kvcache.PrefixCache;
import io.spindle.runtime.onnx.GatherRewrite;
import io.spindle.runtime.onnx.OrtRuntime;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Runs a GPT-2 graph in Spindle's in-place KV form ({@link Gpt2Graph#inPlaceKv()}: GroupQueryAttention
 * per block, past and present bound to the same buffer) so that a step writes only its new positions
 * into a cache that never moves (issue 17).
 *
 * <p>Cache ({@link SlotCache}): one native buffer per cache tensor, [slots, heads, maxLen, head_dim];
 * a sequence owns one slot for its life, its positions left-aligned from 0. ONNX Runtime's CPU kernel
 * (1.29) writes a row's new tokens at [seqlens_k + 1 − S, seqlens_k + 1) and attends causally over
 * [0, seqlens_k + 1): no mask, no padding, nothing copied from one step to the next.
 *
 * <p>A step runs as graph calls the kernel accepts:
 * <ul>
 *   <li><b>One decode call</b> for every row that feeds one token (decode rows, and 1-token prompt
 *   chunks), over slots [0, highest such slot]. Each row computes in its own slot; a slot in that
 *   range that no row of this call uses (a hole: a free slot, or a live sequence that is not
 *   decoding this step) computes a dummy token that nobody reads, written at that slot's first
 *   invalid position (its length), so no valid position is touched.</li>
 *   <li><b>One call per group of first chunks</b> (a prompt's chunk from position 0, more than one
 *   token) whose slots one range covers without a live sequence outside the group: a first prompt for
 *   the kernel (sequence length = total length), right-padded to the longest chunk, so k arriving
 *   prompts read the weights once instead of k times. Arrivals of a step get adjacent slots where
 *   that costs the decode call nothing ({@link #place}); padding per call saved is bounded
 *   ({@link #PADDING_PER_CALL_SAVED}).</li>
 *   <li><b>One call per other prompt chunk</b> of more than one token (one continuing a cached
 *   prefix, or a first chunk that joins no group), at batch 1 over its own slot: the kernel refuses
 *   a chunk after a past at batch &gt; 1.</li>
 * </ul>
 * The decode call runs first, so that a hole's dummy at a chunk row's first position is overwritten
 * by that chunk. maxLen is the longest of the rows' {@code tokens} arrays (the engine sizes them to
 * the prompt plus up to 256 new tokens: a reservation hint) and their lengths, grown with one copy of
 * every live slot when a longer row arrives, at most the context plus one spare position (so that a
 * hole's dummy never lands on a valid position of a full sequence).
 *
 * <p>Forks copy the parent's valid positions into the child's slot; the prefix cache copies cached
 * blocks into [0, n) of a new slot and saves blocks read from a slot. Logits are gathered where the
 * engine reads them ({@link StepInput.Logits}), every position of a chunk included.
 * Confined to the engine thread.
 */
public final class InPlaceKvRunner implements Gpt2Decoder {
    private static final java.util.logging.Logger LOG = java.util.logging.Logger.getLogger(InPlaceKvRunner.class.getName());
    /**
     * Positions of padding one first-chunk call may compute per call it saves. A call has a fixed cost
     * (every weight read once), and a padded position costs what a fed one does: on the 124M shape (CPU,
     * {@code KvInPlaceBenchmark --burst}) one prompt alone took 22 ms per call plus 1.0 ms per position,
     * so a call is worth about 23 positions.
     */
    static final int PADDING_PER_CALL_SAVED = 24;

    private final OrtEnvironment env;
    private final OrtSession session;
    private final Gpt2Graph graph;
    private final int contextLength;
    private final SlotCache cache;
    private final KvLayout kvLayout;
    private final HostBuffer ids;
    private final HostBuffer positions;
    private final HostBuffer seqlens = new HostBuffer(OnnxJavaType.INT32);
    private final HostBuffer totalLength = new HostBuffer(OnnxJavaType.INT32);
    private final HostBuffer gather = new HostBuffer(OnnxJavaType.INT64);
    private final int logitsWidth;
    private final Map<String, OnnxTensor> inputs = new HashMap<>();
    private final Map<String, OnnxTensor> outputs = new HashMap<>();
    private NativeBuffer logitsOwner;
    private ByteBuffer logits = ByteBuffer.allocate(0);
    // Per row of the last step: its slot, the first gathered logits entry it owns, tokens fed, logits asked for.
    private int[] slotOfRow = new int[0];
    private int[] entryOfRow = new int[0];
    private int[] fedOfRow = new int[0];
    private StepInput.Logits[] wantsOfRow = new StepInput.Logits[0];
    /** Row of the decode call that slot s computes for, or -1 (a hole); indexed by slot. */
    private int[] rowOfSlot = new int[0];
    private final List<Integer> decodeRows = new ArrayList<>();
    /** The prompt-chunk calls of the step after the decode call: each the rows it runs, in slot order. */
    private final List<int[]> chunkCalls = new ArrayList<>();
    /** Whether first chunks share calls ({@link #runFirstChunks}); off only to measure what that saves. */
    private boolean batchFirstChunks = true;
    /** Graph calls so far (each reads every weight once); for tests and benchmarks. */
    private long graphCalls;
    private KvPrefixBlocks prefixes;
    /** Non-null when calls go through the C API's IoBinding. */
    private final BoundStep bound;
    private final Binding binding;
    /** The official API path's last step: bytes handed to ONNX Runtime as host inputs and outputs. */
    private long hostStepIn;
    private long hostStepOut;
    private long hostSteps;

    /** On the official Java API, the cache in host memory. */
    public InPlaceKvRunner(OrtEnvironment env, OrtSession session, Gpt2Graph graph, int contextLength) {
        this(env, null, session, graph, contextLength, Binding.JAVA_API);
    }

    /** With {@code binding}; the C API bindings open their cache-copy sessions through {@code ort}. */
    public InPlaceKvRunner(OrtRuntime ort, OrtSession session, Gpt2Graph graph, int contextLength, Binding binding) {
        this(ort.env(), ort, session, graph, contextLength, binding);
    }

    /** How the runner hands its buffers to ONNX Runtime (spindle.runtime.io-binding). */
    public enum Binding {
        /** {@code OrtSession.run} with pinned outputs (the official Java API). */
        JAVA_API,
        /** IoBinding through the C API ({@link BoundStep}), the cache in a second CPU memory standing in for a device. */
        FFM,
        /** IoBinding through the C API on a CUDA session, the cache in CUDA device memory. */
        FFM_CUDA
    }

    private InPlaceKvRunner(OrtEnvironment env, OrtRuntime ort, OrtSession session, Gpt2Graph graph, int contextLength,
                            Binding binding) {
        if (!graph.inPlaceKv() || graph.cacheOuter() != 1 || !graph.gathersLogits() || !graph.hasPositionIds()) {
            throw new IllegalArgumentException("not a graph in the in-place KV form: " + graph);
        }
        this.env = env;
        this.session = session;
        this.graph = graph;
        this.contextLength = contextLength;
        int width = graph.kvType() == OnnxJavaType.FLOAT16 ? 2 : 4;
        this.kvLayout = new KvLayout(1, graph.numHeads(), graph.headDim(), width);
        this.ids = new HostBuffer(graph.idsType());
        this.positions = new HostBuffer(graph.idsType());
        this.logitsWidth = graph.logitsType() == OnnxJavaType.FLOAT16 ? 2 : 4;
        this.bound = binding == Binding.JAVA_API ? null
                : new BoundStep(ort, session, binding == Binding.FFM_CUDA, graph.kvType());
        int tensors = graph.pastNames().size();
        this.cache = new SlotCache(bound == null ? new HostSlotMemory(tensors, graph.numHeads(), graph.headDim() * width)
                : bound.slotMemory(tensors, graph.numHeads(), graph.headDim()));
        this.binding = binding;
    }

    @Override
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
        try {
            if (bound != null) {
                bound.beginStep();
            } else {
                hostStepIn = 0;
                hostStepOut = 0;
                hostSteps++;
            }
            place(batch);
            int entries = planLogits(batch);
            ensureLogits(entries);
            if (!decodeRows.isEmpty()) {
                runDecode(batch);
            }
            for (int[] call : chunkCalls) {
                if (call.length == 1) {
                    runChunk(batch.get(call[0]), call[0]);
                } else {
                    runFirstChunks(batch, call);
                }
            }
        } catch (OrtException | RuntimeException e) {
            if (bound != null) {
                bound.endStep();
            }
            // Slots keep what earlier calls wrote; rows of this step are failed and released by the engine,
            // and no call writes below a live slot's length.
            throw new ModelExecutionException("forward pass of " + batch.size() + " row(s) failed: " + e.getMessage(), e);
        }
        if (bound != null) {
            bound.endStep();
        }
        return new StepOutput.EveryPosition() {
            @Override
            public void copyLogits(int row, float[] dst) {
                copyRowLogits(row, fedOfRow[row] - 1, dst);
            }

            @Override
            public void copyLogits(int row, int position, float[] dst) {
                copyRowLogits(row, position, dst);
            }
        };
    }

    /** Checks each row against its slot's length, gives new sequences a slot, and makes room. */
    private void place(List<StepInput> batch) {
        int rows = batch.size();
        if (slotOfRow.length < rows) {
            slotOfRow = new int[rows];
            entryOfRow = new int[rows];
            fedOfRow = new int[rows];
            wantsOfRow = new StepInput.Logits[rows];
        }
        int fresh = 0;
        int arrivals = 0;
        int wantLen = 0;
        for (StepInput in : batch) {
            int slot = cache.slotOf(in.sequenceId());
            int have = slot < 0 ? 0 : cache.length(slot);
            if (have != in.from()) {
                throw new IllegalStateException("sequence " + in.sequenceId() + " has " + have
                        + " cached tokens but the step starts at " + in.from());
            }
            if (in.to() > contextLength) {
                throw new IllegalStateException("sequence " + in.sequenceId() + " would reach " + in.to()
                        + " positions; the context holds " + contextLength);
            }
            fresh += slot < 0 ? 1 : 0;
            arrivals += slot < 0 && isFirstChunk(in) ? 1 : 0;
            wantLen = Math.max(wantLen, Math.max(in.to(), Math.min(in.tokens().length, contextLength)));
        }
        // A hole's dummy goes at its slot's length: every live slot keeps one position to spare.
        wantLen = Math.max(wantLen, cache.maxLength() + 1);
        cache.ensure(fresh, Math.min(wantLen, contextLength + 1), contextLength + 1);
        // Arriving prompts side by side, so that one first-prompt call covers them; but no higher than
        // the lowest free slots would put them or a live slot already is: the decode call spans slots up
        // to the highest decoding one, and a run further up would add holes to every later decode step.
        int run = -1;
        if (batchFirstChunks && arrivals > 1) {
            run = cache.freeRun(arrivals, Math.max(cache.nthFree(arrivals), cache.highestLive()));
        }
        for (int r = 0; r < rows; r++) {
            StepInput in = batch.get(r);
            int slot = cache.slotOf(in.sequenceId());
            if (slot < 0 && run >= 0 && isFirstChunk(in)) {
                slot = cache.acquire(in.sequenceId(), run++);
            }
            slotOfRow[r] = slot;
            fedOfRow[r] = in.length();
            wantsOfRow[r] = in.logits();
        }
        for (int r = 0; r < rows; r++) {
            if (slotOfRow[r] < 0) {
                slotOfRow[r] = cache.acquire(batch.get(r).sequenceId());
            }
        }
    }

    /** A prompt's first chunk of more than one token: every row of a call of such chunks starts at 0. */
    private static boolean isFirstChunk(StepInput in) {
        return in.from() == 0 && in.length() > 1;
    }

    /**
     * Plans the step's calls and assigns each row its gathered logits entries: decode rows first (in row
     * order), then the rows of each chunk call in call order; returns how many entries.
     */
    private int planLogits(List<StepInput> batch) {
        decodeRows.clear();
        int at = 0;
        for (int r = 0; r < batch.size(); r++) {
            if (batch.get(r).length() == 1) {
                decodeRows.add(r);
                entryOfRow[r] = at++;
            }
        }
        planChunkCalls(batch);
        for (int[] call : chunkCalls) {
            for (int r : call) {
                entryOfRow[r] = at;
                // A chunk that needs none still computes one position, so that no tensor of the head is empty.
                at += batch.get(r).logits() == StepInput.Logits.EVERY ? batch.get(r).length() : 1;
            }
        }
        return at;
    }

    /**
     * Groups the step's first chunks into calls over slot ranges (in slot order): a range holds only the
     * group's slots and free ones, never a live sequence outside the call (a first-prompt call writes
     * positions [0, padded length) of every slot it covers), and its padding (free slots' rows and the
     * shorter chunks' tails) stays within {@link #PADDING_PER_CALL_SAVED} per call saved. Every other
     * chunk, and a first chunk that joins nothing, runs alone.
     */
    private void planChunkCalls(List<StepInput> batch) {
        chunkCalls.clear();
        List<Integer> firsts = new ArrayList<>();
        for (int r = 0; r < batch.size(); r++) {
            StepInput in = batch.get(r);
            if (in.length() > 1 && !(batchFirstChunks && isFirstChunk(in))) {
                chunkCalls.add(new int[] {r});
            } else if (in.length() > 1) {
                firsts.add(r);
            }
        }
        firsts.sort((a, b) -> Integer.compare(slotOfRow[a], slotOfRow[b]));
        int start = 0;
        while (start < firsts.size()) {
            int lo = slotOfRow[firsts.get(start)];
            int padded = batch.get(firsts.get(start)).length();
            int fed = padded;
            int end = start + 1;
            for (; end < firsts.size(); end++) {
                int r = firsts.get(end);
                int slot = slotOfRow[r];
                boolean clear = true;
                for (int s = slotOfRow[firsts.get(end - 1)] + 1; s < slot && clear; s++) {
                    clear = !cache.isLive(s);
                }
                int len = Math.max(padded, batch.get(r).length());
                int withIt = fed + batch.get(r).length();
                long padding = (long) (slot - lo + 1) * len - withIt;
                if (!clear || padding > (long) PADDING_PER_CALL_SAVED * (end - start)) {
                    break;
                }
                padded = len;
                fed = withIt;
            }
            int[] call = new int[end - start];
            for (int i = start; i < end; i++) {
                call[i - start] = firsts.get(i);
            }
            chunkCalls.add(call);
            start = end;
        }
    }

    private void runDecode(List<StepInput> batch) throws OrtException {
        int span = 0;
        for (int r : decodeRows) {
            span = Math.max(span, slotOfRow[r] + 1);
        }
        if (rowOfSlot.length < span) {
            rowOfSlot = new int[cache.numSlots()];
        }
        Arrays.fill(rowOfSlot, 0, span, -1);
        for (int r : decodeRows) {
            rowOfSlot[slotOfRow[r]] = r;
        }
        ids.reset(span);
        positions.reset(span);
        seqlens.reset(span);
        gather.reset(decodeRows.size());
        int total = 0;
        for (int slot = 0; slot < span; slot++) {
            int r = rowOfSlot[slot];
            int valid;
            if (r >= 0) {
                StepInput in = batch.get(r);
                ids.put(slot, in.tokens()[in.from()]);
                positions.put(slot, in.from());
                valid = in.from();
            } else {
                // A hole: token 0 written at the slot's first invalid position, attending to what is there.
                ids.put(slot, 0);
                positions.put(slot, 0);
                valid = cache.length(slot);
            }
            seqlens.put(slot, valid);
            total = Math.max(total, valid + 1);
        }
        for (int k = 0; k < decodeRows.size(); k++) {
            gather.put(k, slotOfRow[decodeRows.get(k)]);
        }
        run(0, span, 1, total, 0, decodeRows.size());
        for (int r : decodeRows) {
            cache.setLength(slotOfRow[r], batch.get(r).to());
        }
    }

    private void runChunk(StepInput in, int row) throws OrtException {
        int n = in.length();
        ids.reset(n);
        positions.reset(n);
        seqlens.reset(1);
        for (int j = 0; j < n; j++) {
            ids.put(j, in.tokens()[in.from() + j]);
            positions.put(j, in.from() + j);
        }
        seqlens.put(0, in.to() - 1);
        int entries;
        if (in.logits() == StepInput.Logits.EVERY) {
            gather.reset(n);
            for (int j = 0; j < n; j++) {
                gather.put(j, j);
            }
            entries = n;
        } else {
            gather.reset(1);
            gather.put(0, n - 1);
            entries = 1;
        }
        run(slotOfRow[row], 1, n, in.to(), entryOfRow[row], entries);
        cache.setLength(slotOfRow[row], in.to());
    }

    /**
     * First chunks as one first-prompt call over slots [lo, hi] of the rows' (given in slot order), each
     * row right-padded with token 0 to the longest chunk S; {@code total_sequence_length} = S makes it a
     * first prompt for the kernel, which then writes positions [0, S) of every slot it covers (free
     * slots in the range included: nothing valid is there). Every row's {@code seqlens_k} is S − 1:
     * attention is causal, so a fed position never sees the padding after it, and a padded position
     * attends over positions the call computed (with a chunk's own length − 1, the kernel's GEMM path
     * takes a padded query's softmax over scores it never wrote). Only fed positions are gathered.
     */
    private void runFirstChunks(List<StepInput> batch, int[] rows) throws OrtException {
        int lo = slotOfRow[rows[0]];
        int span = slotOfRow[rows[rows.length - 1]] - lo + 1;
        int seq = 0;
        int entries = 0;
        for (int r : rows) {
            StepInput in = batch.get(r);
            seq = Math.max(seq, in.length());
            entries += in.logits() == StepInput.Logits.EVERY ? in.length() : 1;
        }
        ids.reset(span * seq);
        positions.reset(span * seq);
        seqlens.reset(span);
        gather.reset(entries);
        for (int row = 0; row < span; row++) {
            seqlens.put(row, seq - 1);
            for (int j = 0; j < seq; j++) {
                ids.put(row * seq + j, 0);
                positions.put(row * seq + j, j);
            }
        }
        int k = 0;
        for (int r : rows) {
            StepInput in = batch.get(r);
            int at = (slotOfRow[r] - lo) * seq;
            for (int j = 0; j < in.length(); j++) {
                ids.put(at + j, in.tokens()[j]);
            }
            if (in.logits() == StepInput.Logits.EVERY) {
                for (int j = 0; j < in.length(); j++) {
                    gather.put(k++, at + j);
                }
            } else {
                gather.put(k++, at + in.length() - 1);
            }
        }
        run(lo, span, seq, seq, entryOfRow[rows[0]], entries);
        for (int r : rows) {
            cache.setLength(slotOfRow[r], batch.get(r).to());
        }
    }

    /**
     * One graph call over slots [first, first + rows), {@code seq} tokens per row (ids, positions,
     * seqlens and gather indices already in their buffers), writing {@code entries} gathered logits
     * from entry {@code entry} on.
     */
    private void run(int first, int rows, int seq, int total, int entry, int entries) throws OrtException {
        graphCalls++;
        totalLength.reset(1);
        totalLength.put(0, total);
        if (bound != null) {
            runBound(first, rows, seq, entry, entries);
            return;
        }
        List<OnnxTensor> owned = new ArrayList<>();
        try {
            inputs.clear();
            outputs.clear();
            inputs.put("input_ids", own(owned, ids.tensor(env, rows, seq)));
            inputs.put("position_ids", own(owned, positions.tensor(env, rows, seq)));
            inputs.put("seqlens_k", own(owned, seqlens.tensor(env, rows)));
            inputs.put("total_sequence_length", own(owned, totalLength.tensor(env)));
            inputs.put(GatherRewrite.INPUT, own(owned, gather.tensor(env, 1, entries)));
            OnnxTensor[] views = ((HostSlotMemory) cache.memory()).views(env, graph.kvType(), first, rows);
            owned.addAll(Arrays.asList(views));
            for (int c = 0; c < views.length; c++) {
                inputs.put(graph.pastNames().get(c), views[c]);
                outputs.put(graph.presentNames().get(c), views[c]);
            }
            int v = graph.vocabSize();
            ByteBuffer view = logits.duplicate().position(entry * v * logitsWidth)
                    .limit((entry + entries) * v * logitsWidth).slice().order(ByteOrder.nativeOrder());
            outputs.put("logits", own(owned, OnnxTensor.createTensor(env, view, new long[] {1, entries, v}, graph.logitsType())));
            session.run(inputs, outputs).close();
            // What this call hands ONNX Runtime as host memory: on a GPU session all of it crosses, the cache both ways.
            long idWidth = ids.type() == OnnxJavaType.INT64 ? 8 : 4;
            long kv = (long) views.length * rows * cache.memory().slotBytes();
            hostStepIn += 2L * rows * seq * idWidth + 4L * rows + 4 + 8L * entries + kv;
            hostStepOut += kv + (long) entries * v * logitsWidth;
        } finally {
            for (OnnxTensor t : owned) {
                t.close();
            }
        }
    }

    /** {@link #run} through the C API: the same buffers, bound instead of wrapped. */
    private void runBound(int first, int rows, int seq, int entry, int entries) {
        try {
            bound.input("input_ids", ids.segment((long) rows * seq), ids.type(), rows, seq);
            bound.input("position_ids", positions.segment((long) rows * seq), positions.type(), rows, seq);
            bound.input("seqlens_k", seqlens.segment(rows), OnnxJavaType.INT32, rows);
            bound.input("total_sequence_length", totalLength.segment(1), OnnxJavaType.INT32);
            bound.input(GatherRewrite.INPUT, gather.segment(entries), OnnxJavaType.INT64, 1, entries);
            long[] shape = cache.viewShape(graph.kvType(), rows);
            DeviceSlotMemory slots = (DeviceSlotMemory) cache.memory();
            for (int c = 0; c < graph.pastNames().size(); c++) {
                bound.cache(graph.pastNames().get(c), graph.presentNames().get(c), slots.view(c, first, rows),
                        graph.kvType(), shape);
            }
            int v = graph.vocabSize();
            ByteBuffer view = logits.duplicate().position(entry * v * logitsWidth)
                    .limit((entry + entries) * v * logitsWidth).slice().order(ByteOrder.nativeOrder());
            bound.output("logits", view, graph.logitsType(), 1, entries, v);
        } catch (RuntimeException e) {
            bound.unbind();
            throw e;
        }
        bound.run();
    }

    /**
     * What the last step moved between host and device by the binding's own count (all of its graph
     * calls); null when calls go through the official Java API, which counts nothing.
     */
    public io.spindle.runtime.onnx.capi.Transfers lastStepTransfers() {
        return bound == null ? null : bound.lastStep();
    }

    /**
     * The official API path's last step as a GPU session would move it (every host buffer it hands ONNX
     * Runtime crosses: inputs up, the cache and logits down, the cache up too); null on the C API path.
     */
    public io.spindle.runtime.onnx.capi.Transfers lastStepHostBuffers() {
        return bound != null ? null
                : new io.spindle.runtime.onnx.capi.Transfers(hostSteps, hostStepIn, hostStepOut, 0, 0, 0);
    }

    /** Every cache copy so far through ONNX Runtime (null on the Java API path, whose copies are Java's). */
    public io.spindle.runtime.onnx.capi.Transfers cacheCopies() {
        return bound == null ? null : bound.cacheCopies();
    }

    /** "device" when the cache is CUDA memory; the CPU stand-in for a device is host memory. */
    @Override
    public String kvCacheLocation() {
        return binding == Binding.FFM_CUDA ? "device" : "host";
    }

    /** Live native objects of the C API path (null on the Java API path); for tests. */
    io.spindle.runtime.onnx.capi.NativeLedger nativeLedger() {
        return bound == null ? null : bound.ledger();
    }

    private static OnnxTensor own(List<OnnxTensor> owned, OnnxTensor t) {
        owned.add(t);
        return t;
    }

    private void ensureLogits(int entries) {
        long bytes = (long) entries * graph.vocabSize() * logitsWidth;
        if (bytes > Integer.MAX_VALUE) {
            throw new IllegalStateException("logits of " + entries + " positions exceed what one buffer holds");
        }
        if (logits.capacity() < bytes) {
            if (logitsOwner != null) {
                logitsOwner.close();
            }
            logitsOwner = NativeBuffer.allocate(bytes);
            logits = logitsOwner.buffer();
        }
    }

    private void copyRowLogits(int row, int position, float[] dst) {
        StepInput.Logits wants = wantsOfRow[row];
        boolean computed = wants == StepInput.Logits.EVERY
                || (wants == StepInput.Logits.LAST && position == fedOfRow[row] - 1);
        if (!computed || position < 0 || position >= fedOfRow[row]) {
            throw new IllegalStateException("row " + row + " asked for " + wants + " logits, not position " + position);
        }
        int v = graph.vocabSize();
        int offset = (entryOfRow[row] + (wants == StepInput.Logits.EVERY ? position : 0)) * v;
        if (logitsWidth == 2) {
            for (int i = 0; i < v; i++) {
                dst[i] = Float.float16ToFloat(logits.getShort((offset + i) * 2));
            }
        } else {
            logits.asFloatBuffer().get(offset, dst, 0, v);
        }
    }

    /** The child gets a slot of its own holding a copy of the parent's valid positions. */
    @Override
    public void fork(long parentId, long childId) {
        int parent = cache.slotOf(parentId);
        if (parent < 0) {
            throw new IllegalStateException("sequence " + parentId + " has no cache to fork");
        }
        if (cache.slotOf(childId) >= 0) {
            throw new IllegalStateException("sequence " + childId + " already has a cache");
        }
        int n = cache.length(parent);
        cache.ensure(1, n + 1, contextLength + 1);
        int child = cache.acquire(childId);
        cache.copyPrefix(parent, child, n);
        cache.setLength(child, n);
    }

    @Override
    public void enablePrefixCache(int blockSize) {
        prefixes = new KvPrefixBlocks(blockSize, kvLayout, graph.pastNames().size());
    }

    @Override
    public int restorePrefix(long sequenceId, int[] tokens, int maxTokens) {
        if (prefixes == null || cache.slotOf(sequenceId) >= 0) {
            return 0;
        }
        PrefixCache.Hit<NativeBuffer> hit = prefixes.lookup(tokens, maxTokens);
        if (hit.tokens() == 0) {
            return 0;
        }
        cache.ensure(1, Math.max(hit.tokens() + 1, Math.min(tokens.length, contextLength)), contextLength + 1);
        int slot = cache.acquire(sequenceId);
        List<ByteBuffer> parts = new ArrayList<>(hit.blocks().size());
        for (NativeBuffer b : hit.blocks()) {
            parts.add(b.buffer());
        }
        try {
            cache.restore(slot, parts, prefixes.blockSize(), prefixes.blockBytes());
        } catch (RuntimeException e) {
            cache.release(sequenceId);
            throw e;
        }
        cache.setLength(slot, hit.tokens());
        return hit.tokens();
    }

    @Override
    public void offerPrefix(long sequenceId, int[] tokens, int n) {
        if (prefixes == null || !prefixes.addsBlock(tokens, n)) {
            return;
        }
        int slot = cache.slotOf(sequenceId);
        if (slot < 0) {
            return;
        }
        int upTo = Math.min(n, cache.length(slot));
        int from = prefixes.cachedTokens(tokens, upTo);
        // Only whole blocks are added: one read of the positions they need, per tensor.
        int to = Math.max(from, upTo / prefixes.blockSize() * prefixes.blockSize());
        try (SlotMemory.Reader reader = cache.reader(slot, from, to)) {
            prefixes.insert(tokens, upTo, reader);
        }
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

    /** Positions per slot now; for tests. */
    int cacheMaxLen() {
        return cache.maxLen();
    }

    /** Graph calls so far, every step's together (each reads every weight once); for tests and benchmarks. */
    long graphCalls() {
        return graphCalls;
    }

    /** Turns batching of first chunks off (one call per chunk, as before it) or on; for tests and benchmarks. */
    void batchFirstChunks(boolean on) {
        this.batchFirstChunks = on;
    }

    /** The slot a sequence holds, or -1; for tests. */
    int slotOf(long sequenceId) {
        return cache.slotOf(sequenceId);
    }

    /** Times the cache was reallocated (each copies every live slot once); for tests and benchmarks. */
    long cacheMoves() {
        return cache.numMoves();
    }

    @Override
    public void release(long sequenceId) {
        cache.release(sequenceId);
        if (cache.numLive() == 0) {
            dropLogits();
            if (bound == null && hostSteps > 0) {
                LOG.info("official API (java-api) idle after " + hostSteps + " steps: the last step handed ONNX Runtime "
                        + (hostStepIn + hostStepOut) + " bytes of host buffers (in " + hostStepIn + ", out " + hostStepOut
                        + "), which a GPU session copies (host to device " + hostStepIn + ", device to host "
                        + hostStepOut + "); the KV cache is in host memory");
            }
            if (bound != null) {
                io.spindle.runtime.onnx.capi.Transfers t = bound.lastStep();
                io.spindle.runtime.onnx.capi.Transfers c = bound.cacheCopies();
                LOG.info("io binding (ffm, KV cache in " + bound.device() + ") idle after " + t.runs()
                        + " steps: last step moved " + t.moved() + " bytes (host to device " + t.hostToDevice()
                        + ", device to host " + t.deviceToHost() + ", device to device " + t.deviceToDevice() + "), "
                        + t.resident() + " bytes bound in place; " + t.totalMoved() + " bytes moved in all; cache copies: "
                        + c.runs() + " (host to device " + c.hostToDevice() + ", device to host " + c.deviceToHost()
                        + ", device to device " + c.deviceToDevice() + " bytes)");
            }
        }
    }

    private void dropLogits() {
        // A long prompt's gathered logits can be tens of megabytes: not kept idle.
        if (logitsOwner != null) {
            logitsOwner.close();
            logitsOwner = null;
        }
        logits = ByteBuffer.allocate(0);
    }

    @Override
    public int numCachedSequences() {
        return cache.numLive();
    }

    @Override
    public long allocatedBytes() {
        return cache.allocatedBytes() + (logitsOwner == null ? 0 : logits.capacity());
    }

    @Override
    public void close() {
        cache.drop();
        dropLogits();
        if (prefixes != null) {
            prefixes.clear();
        }
        if (bound != null) {
            bound.close();
        }
        try {
            session.close();
        } catch (OrtException e) {
            throw new IllegalStateException("closing the ONNX Runtime session failed", e);
        }
    }
}
