package io.spindle.runtime.family.t5;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OnnxValue;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import io.spindle.engine.exec.CacheForking;
import io.spindle.engine.exec.ModelExecutionException;
import io.spindle.engine.exec.ModelRunner;
import io.spindle.engine.exec.PrefixCaching;
import io.spindle.engine.exec.StepInput;
import io.spindle.engine.exec.StepOutput;

import java.nio.FloatBuffer;
import java.nio.LongBuffer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Runs a T5-family encoder-decoder for a batch of sequences. A sequence's tokens are its source (the
 * prompt, which the encoder reads once) followed by what the decoder generated; the decoder's own
 * input starts with {@code decoder_start_token_id}, so after {@code g} generated tokens its cache
 * holds {@code g + 1} positions.
 *
 * <p>A step has two parts. Sequences whose source is complete in this step run the encoder together
 * (padded to the longest source, masked by {@code attention_mask}) and then their first decoder step
 * together; that step's cross-attention keys and values are kept per sequence for the rest of its
 * life. Decoding sequences then run the decoder with past. Exports have no decoder attention mask, so
 * rows can only share a decoder call when their decoder caches are equally long: rows are grouped by
 * cache length and each group is one call (requests that start together stay together; sources of
 * different lengths share a call, their cross-attention padded and masked through
 * {@code encoder_attention_mask}).
 *
 * <p>Cache layout: per sequence and layer, self-attention keys and values as [heads, capacity, d_kv]
 * (grown by doubling) and cross-attention ones as [heads, source length, d_kv], on the heap. Each
 * call packs its rows' caches into reused direct buffers behind [rows, heads, length, d_kv] input
 * tensors; ONNX Runtime writes the presents and logits into pinned buffers, and only the new
 * positions are copied back. So a step copies every decoding sequence's cache once; see
 * docs/architecture.md for the cost.
 * Confined to the engine thread.
 */
public final class T5Runner implements ModelRunner, CacheForking, PrefixCaching {
    private static final String[] SELF = {"decoder.key", "decoder.value"};
    private static final String[] CROSS = {"encoder.key", "encoder.value"};

    /**
     * One sequence's cache; arrays per layer, index 0 keys and 1 values. Self-attention arrays are
     * [heads, capacity, d_kv] with the first {@code length} positions of each head valid, grown by
     * doubling; cross-attention arrays are [heads, source length, d_kv].
     */
    private static final class Cache {
        final int sourceLength;
        final float[][][] cross;
        final float[][][] self;
        int length;
        int capacity;

        Cache(int sourceLength, int layers) {
            this.sourceLength = sourceLength;
            this.cross = new float[layers][2][];
            this.self = new float[layers][2][];
        }

        long bytes() {
            long n = 0;
            for (int l = 0; l < self.length; l++) {
                for (int kv = 0; kv < 2; kv++) {
                    n += (self[l][kv] == null ? 0 : self[l][kv].length) + (cross[l][kv] == null ? 0 : cross[l][kv].length);
                }
            }
            return n * Float.BYTES;
        }
    }

    /** Room for {@code positions} self-attention positions per head, keeping what is there. */
    private void ensureCapacity(Cache c, int positions) {
        if (positions <= c.capacity) {
            return;
        }
        int cap = Math.max(positions, Math.max(16, c.capacity * 2));
        int h = graph.numHeads();
        int d = graph.dKv();
        for (int l = 0; l < graph.numLayers(); l++) {
            for (int kv = 0; kv < 2; kv++) {
                float[] grown = new float[h * cap * d];
                float[] old = c.self[l][kv];
                for (int head = 0; old != null && head < h; head++) {
                    System.arraycopy(old, head * c.capacity * d, grown, head * cap * d, c.length * d);
                }
                c.self[l][kv] = grown;
            }
        }
        c.capacity = cap;
    }

    private final OrtEnvironment env;
    private final OrtSession encoder;
    /** The first decoder step's graph: decoder_model.onnx, or the merged graph. */
    private final OrtSession firstStep;
    /** The decoder with past: decoder_with_past_model.onnx, or the merged graph. */
    private final OrtSession withPast;
    private final T5Graph graph;
    private final int decoderStartTokenId;
    private final int maxSourceTokens;
    private final int maxTargetTokens;
    private final Map<Long, Cache> caches = new HashMap<>();
    /** Direct buffers behind the decoder's input and pinned output tensors, by tensor name; reused across steps. */
    private final Map<String, FloatBuffer> buffers = new HashMap<>();
    private float[][] rowLogits = new float[0][];
    private boolean[] rowHasLogits = new boolean[0];

    /**
     * What starting a sequence computes depends on its source alone: the encoder's cross-attention
     * keys and values, the first decoder step's self-attention position and its logits. Kept per
     * source (compared exactly), so that a request with the same source skips the encoder and that
     * step. The cross arrays are shared with the sequences using them (written once, then only read).
     */
    private record Started(int[] source, float[][][] cross, float[][][] selfFirst, float[] logits) {
    }

    private record SourceKey(int[] tokens) {
        @Override
        public boolean equals(Object o) {
            return o instanceof SourceKey k && java.util.Arrays.equals(k.tokens, tokens);
        }

        @Override
        public int hashCode() {
            return java.util.Arrays.hashCode(tokens);
        }
    }

    /** Started sources, least recently used first; null while the prefix cache is off. */
    private LinkedHashMap<SourceKey, Started> sources;
    private int sourceTokens;
    /** Sources started in the last step, cached once the engine offers them (it bounds the cache right after). */
    private final Map<Long, Started> justStarted = new HashMap<>();
    /** Sequences admitted with a cached source, until their first step. */
    private final Map<Long, Started> restored = new HashMap<>();

    /**
     * @param noPast null for a merged export
     * @param maxSourceTokens the longest source accepted; {@code maxTargetTokens} likewise for the output
     */
    public T5Runner(OrtEnvironment env, OrtSession encoder, OrtSession noPast, OrtSession withPast, T5Graph graph,
                    int decoderStartTokenId, int maxSourceTokens, int maxTargetTokens) {
        this.env = env;
        this.encoder = encoder;
        this.firstStep = noPast == null ? withPast : noPast;
        this.withPast = withPast;
        this.graph = graph;
        this.decoderStartTokenId = decoderStartTokenId;
        this.maxSourceTokens = maxSourceTokens;
        this.maxTargetTokens = maxTargetTokens;
    }

    public T5Graph graph() {
        return graph;
    }

    @Override
    public int vocabSize() {
        return graph.vocabSize();
    }

    /** Source plus output: the engine's bound on a sequence's tokens. */
    @Override
    public int contextLength() {
        return maxSourceTokens + maxTargetTokens;
    }

    @Override
    public int maxPromptTokens() {
        return maxSourceTokens;
    }

    @Override
    public boolean chunkedPrefill() {
        return false;
    }

    @Override
    public long kvBytesPerToken() {
        return graph.kvBytesPerToken();
    }

    @Override
    public StepOutput execute(List<StepInput> batch) throws ModelExecutionException {
        int rows = batch.size();
        if (rowLogits.length < rows) {
            float[][] grown = new float[rows][];
            System.arraycopy(rowLogits, 0, grown, 0, rowLogits.length);
            rowLogits = grown;
            rowHasLogits = new boolean[rows];
        }
        List<Integer> starting = new ArrayList<>();
        Map<Long, List<Integer>> groups = new LinkedHashMap<>();
        justStarted.clear();
        for (int r = 0; r < rows; r++) {
            StepInput in = batch.get(r);
            rowHasLogits[r] = false;
            int source = in.numPromptTokens();
            if (source <= 0) {
                throw new IllegalArgumentException("sequence " + in.sequenceId() + ": an encoder-decoder needs the source length");
            }
            if (in.to() <= source) {
                // A source arrives whole (chunkedPrefill() is false); a partial chunk has nothing to run yet.
                if (in.to() == source) {
                    Started cached = restored.remove(in.sequenceId());
                    if (cached != null) {
                        startFrom(cached, in, r);
                    } else {
                        starting.add(r);
                    }
                }
                continue;
            }
            if (in.from() < source) {
                throw new IllegalArgumentException("sequence " + in.sequenceId() + ": a step may not span the source and the output");
            }
            Cache c = caches.get(in.sequenceId());
            if (c == null || c.length != in.from() - source + 1) {
                throw new IllegalStateException("sequence " + in.sequenceId() + " has " + (c == null ? 0 : c.length)
                        + " cached decoder positions but the step starts at output position " + (in.from() - source + 1));
            }
            groups.computeIfAbsent(((long) c.length << 20) | in.length(), k -> new ArrayList<>()).add(r);
        }
        try {
            if (!starting.isEmpty()) {
                start(batch, starting);
            }
            for (List<Integer> group : groups.values()) {
                decode(batch, group);
            }
        } catch (OrtException | RuntimeException e) {
            for (int r : starting) {
                caches.remove(batch.get(r).sequenceId());
            }
            throw new ModelExecutionException("forward pass of " + rows + " row(s) failed: " + e.getMessage(), e);
        }
        return (row, dst) -> {
            if (!rowHasLogits[row]) {
                throw new IllegalStateException("row " + row + " produced no logits in this step");
            }
            System.arraycopy(rowLogits[row], 0, dst, 0, graph.vocabSize());
        };
    }

    /** Encodes the rows' sources together, then runs their first decoder step together. */
    private void start(List<StepInput> batch, List<Integer> rows) throws OrtException {
        int n = rows.size();
        int width = 0;
        for (int r : rows) {
            width = Math.max(width, batch.get(r).numPromptTokens());
        }
        long[] ids = new long[n * width];
        long[] mask = new long[n * width];
        for (int j = 0; j < n; j++) {
            StepInput in = batch.get(rows.get(j));
            for (int t = 0; t < in.numPromptTokens(); t++) {
                ids[j * width + t] = in.tokens()[t];
                mask[j * width + t] = 1;
            }
        }
        List<OnnxTensor> owned = new ArrayList<>();
        try {
            OnnxTensor maskTensor = longs(owned, mask, n, width);
            Map<String, OnnxTensor> enc = Map.of("input_ids", longs(owned, ids, n, width), "attention_mask", maskTensor);
            try (OrtSession.Result encoded = encoder.run(enc)) {
                Map<String, OnnxTensor> inputs = new HashMap<>();
                inputs.put("encoder_attention_mask", maskTensor);
                inputs.put("input_ids", longs(owned, filled(n, decoderStartTokenId), n, 1));
                inputs.put("encoder_hidden_states", (OnnxTensor) encoded.get("last_hidden_state")
                        .orElseThrow(() -> new IllegalStateException("the encoder returned no last_hidden_state")));
                if (graph.merged()) {
                    inputs.put("use_cache_branch", own(owned, OnnxTensor.createTensor(env, new boolean[] {false})));
                    // The no-cache branch reads no past; the inputs must still be there.
                    OnnxTensor empty = floats(owned, new float[0], n, graph.numHeads(), 0, graph.dKv());
                    for (int l = 0; l < graph.numLayers(); l++) {
                        for (String part : SELF) {
                            inputs.put(T5Graph.past(l, part), empty);
                        }
                        for (String part : CROSS) {
                            inputs.put(T5Graph.past(l, part), empty);
                        }
                    }
                }
                try (OrtSession.Result out = firstStep.run(inputs)) {
                    float[] logits = output(out, "logits");
                    for (int j = 0; j < n; j++) {
                        StepInput in = batch.get(rows.get(j));
                        Cache c = new Cache(in.numPromptTokens(), graph.numLayers());
                        ensureCapacity(c, 1);
                        c.length = 1;
                        for (int l = 0; l < graph.numLayers(); l++) {
                            for (int kv = 0; kv < 2; kv++) {
                                float[] first = slice(output(out, T5Graph.present(l, SELF[kv])), j, 1, 1);
                                for (int head = 0; head < graph.numHeads(); head++) {
                                    System.arraycopy(first, head * graph.dKv(), c.self[l][kv], head * c.capacity * graph.dKv(),
                                            graph.dKv());
                                }
                                c.cross[l][kv] = slice(output(out, T5Graph.present(l, CROSS[kv])), j, width, c.sourceLength);
                            }
                        }
                        caches.put(in.sequenceId(), c);
                        keepLogits(rows.get(j), logits, j, 1);
                        if (sources != null) {
                            float[][][] selfFirst = new float[graph.numLayers()][2][];
                            for (int l = 0; l < graph.numLayers(); l++) {
                                for (int kv = 0; kv < 2; kv++) {
                                    selfFirst[l][kv] = slice(output(out, T5Graph.present(l, SELF[kv])), j, 1, 1);
                                }
                            }
                            justStarted.put(in.sequenceId(), new Started(java.util.Arrays.copyOf(in.tokens(),
                                    in.numPromptTokens()), c.cross, selfFirst, rowLogits[rows.get(j)].clone()));
                        }
                    }
                }
            }
        } finally {
            owned.forEach(OnnxTensor::close);
        }
    }

    /**
     * One decoder call for rows whose caches are equally long and which feed equally many tokens. The
     * inputs are packed into reused direct buffers; the presents and logits are written by ONNX
     * Runtime into pinned buffers, and only the new positions are copied back into the caches.
     */
    private void decode(List<StepInput> batch, List<Integer> rows) throws OrtException {
        int n = rows.size();
        StepInput first = batch.get(rows.getFirst());
        int fed = first.length();
        int past = caches.get(first.sequenceId()).length;
        int total = past + fed;
        int width = 0;
        Cache[] cs = new Cache[n];
        for (int j = 0; j < n; j++) {
            cs[j] = caches.get(batch.get(rows.get(j)).sequenceId());
            width = Math.max(width, cs[j].sourceLength);
        }
        if (total > maxTargetTokens + 1) {
            throw new IllegalStateException("output longer than " + maxTargetTokens + " tokens");
        }
        long[] ids = new long[n * fed];
        long[] mask = new long[n * width];
        for (int j = 0; j < n; j++) {
            StepInput in = batch.get(rows.get(j));
            for (int t = 0; t < fed; t++) {
                ids[j * fed + t] = in.tokens()[in.from() + t];
            }
            for (int s = 0; s < cs[j].sourceLength; s++) {
                mask[j * width + s] = 1;
            }
            ensureCapacity(cs[j], total);
        }
        int h = graph.numHeads();
        int d = graph.dKv();
        int v = graph.vocabSize();
        List<OnnxTensor> owned = new ArrayList<>();
        try {
            Map<String, OnnxTensor> inputs = new HashMap<>();
            Map<String, OnnxTensor> pinned = new HashMap<>();
            inputs.put("input_ids", longs(owned, ids, n, fed));
            inputs.put("encoder_attention_mask", longs(owned, mask, n, width));
            for (int l = 0; l < graph.numLayers(); l++) {
                for (int kv = 0; kv < 2; kv++) {
                    String selfName = T5Graph.past(l, SELF[kv]);
                    FloatBuffer self = buffer(selfName, n * h * past * d);
                    String crossName = T5Graph.past(l, CROSS[kv]);
                    FloatBuffer cross = buffer(crossName, n * h * width * d);
                    for (int j = 0; j < n; j++) {
                        for (int head = 0; head < h; head++) {
                            self.put(((j * h + head) * past) * d, cs[j].self[l][kv], head * cs[j].capacity * d, past * d);
                            int src = cs[j].sourceLength;
                            int at = ((j * h + head) * width) * d;
                            cross.put(at, cs[j].cross[l][kv], head * src * d, src * d);
                            for (int pad = at + src * d; pad < at + width * d; pad++) {
                                cross.put(pad, 0f);
                            }
                        }
                    }
                    inputs.put(selfName, own(owned, OnnxTensor.createTensor(env, self, new long[] {n, h, past, d})));
                    inputs.put(crossName, own(owned, OnnxTensor.createTensor(env, cross, new long[] {n, h, width, d})));
                    String presentName = T5Graph.present(l, SELF[kv]);
                    pinned.put(presentName, own(owned, OnnxTensor.createTensor(env, buffer(presentName, n * h * total * d),
                            new long[] {n, h, total, d})));
                }
            }
            FloatBuffer logits = buffer("logits", n * fed * v);
            pinned.put("logits", own(owned, OnnxTensor.createTensor(env, logits, new long[] {n, fed, v})));
            if (graph.merged()) {
                inputs.put("use_cache_branch", own(owned, OnnxTensor.createTensor(env, new boolean[] {true})));
                // The cache branch reads the cross-attention from the past, not the hidden states.
                inputs.put("encoder_hidden_states", floats(owned, new float[n * graph.dModel()], n, 1, graph.dModel()));
            }
            withPast.run(inputs, java.util.Set.of(), pinned).close();
            for (int l = 0; l < graph.numLayers(); l++) {
                for (int kv = 0; kv < 2; kv++) {
                    FloatBuffer present = buffers.get(T5Graph.present(l, SELF[kv]));
                    for (int j = 0; j < n; j++) {
                        for (int head = 0; head < h; head++) {
                            present.get(((j * h + head) * total + past) * d, cs[j].self[l][kv],
                                    (head * cs[j].capacity + past) * d, fed * d);
                        }
                    }
                }
            }
            for (int j = 0; j < n; j++) {
                cs[j].length = total;
                int row = rows.get(j);
                if (rowLogits[row] == null) {
                    rowLogits[row] = new float[v];
                }
                logits.get(((j + 1) * fed - 1) * v, rowLogits[row], 0, v);
                rowHasLogits[row] = true;
            }
        } finally {
            owned.forEach(OnnxTensor::close);
        }
    }

    /** The reused direct buffer for a tensor, with room for {@code n} floats and its limit at {@code n}. */
    private FloatBuffer buffer(String name, int n) {
        FloatBuffer b = buffers.get(name);
        if (b == null || b.capacity() < n) {
            int cap = Math.max(n, b == null ? 0 : b.capacity() + b.capacity() / 2);
            b = java.nio.ByteBuffer.allocateDirect(cap * Float.BYTES).order(java.nio.ByteOrder.nativeOrder()).asFloatBuffer();
            buffers.put(name, b);
        }
        b.clear().limit(n);
        return b;
    }

    /** Row {@code row}'s first {@code len} positions of a [rows, heads, width, d_kv] tensor, as [heads, len, d_kv]. */
    private float[] slice(float[] all, int row, int width, int len) {
        int h = graph.numHeads();
        int d = graph.dKv();
        float[] out = new float[h * len * d];
        for (int head = 0; head < h; head++) {
            System.arraycopy(all, ((row * h + head) * width) * d, out, head * len * d, len * d);
        }
        return out;
    }

    /** Keeps the vocabulary logits of row {@code j}'s last position of a [rows, positions, vocab] output. */
    private void keepLogits(int row, float[] logits, int j, int positions) {
        int v = graph.vocabSize();
        if (rowLogits[row] == null) {
            rowLogits[row] = new float[v];
        }
        System.arraycopy(logits, ((j + 1) * positions - 1) * v, rowLogits[row], 0, v);
        rowHasLogits[row] = true;
    }

    private static float[] output(OrtSession.Result result, String name) throws OrtException {
        OnnxValue v = result.get(name).orElseThrow(() -> new IllegalStateException("the decoder returned no '" + name + "'"));
        FloatBuffer b = ((OnnxTensor) v).getFloatBuffer();
        float[] out = new float[b.remaining()];
        b.get(out);
        return out;
    }

    private OnnxTensor longs(List<OnnxTensor> owned, long[] values, long... shape) throws OrtException {
        return own(owned, OnnxTensor.createTensor(env, LongBuffer.wrap(values), shape));
    }

    private OnnxTensor floats(List<OnnxTensor> owned, float[] values, long... shape) throws OrtException {
        return own(owned, OnnxTensor.createTensor(env, FloatBuffer.wrap(values), shape));
    }

    private static OnnxTensor own(List<OnnxTensor> owned, OnnxTensor t) {
        owned.add(t);
        return t;
    }

    private static long[] filled(int n, long value) {
        long[] a = new long[n];
        java.util.Arrays.fill(a, value);
        return a;
    }

    /** A sequence whose source was started before: its caches and first logits from there, no graph call. */
    private void startFrom(Started s, StepInput in, int row) {
        Cache c = new Cache(in.numPromptTokens(), graph.numLayers());
        ensureCapacity(c, 1);
        c.length = 1;
        for (int l = 0; l < graph.numLayers(); l++) {
            for (int kv = 0; kv < 2; kv++) {
                for (int head = 0; head < graph.numHeads(); head++) {
                    System.arraycopy(s.selfFirst()[l][kv], head * graph.dKv(), c.self[l][kv], head * c.capacity * graph.dKv(),
                            graph.dKv());
                }
                c.cross[l][kv] = s.cross()[l][kv];
            }
        }
        caches.put(in.sequenceId(), c);
        if (rowLogits[row] == null) {
            rowLogits[row] = new float[graph.vocabSize()];
        }
        System.arraycopy(s.logits(), 0, rowLogits[row], 0, graph.vocabSize());
        rowHasLogits[row] = true;
    }

    @Override
    public void enablePrefixCache(int blockSize) {
        sources = new LinkedHashMap<>(16, 0.75f, true);
    }

    /**
     * An identical source is reused whole; the engine counts all of it but the last token as cached
     * (it schedules that one token, which starts the sequence here without running a graph).
     */
    @Override
    public int restorePrefix(long sequenceId, int[] tokens, int maxTokens) {
        if (sources == null) {
            return 0;
        }
        if (maxTokens < 1) {
            return 0;
        }
        // The engine leaves the source's last token to compute: the source is maxTokens + 1 tokens.
        Started s = sources.get(new SourceKey(java.util.Arrays.copyOf(tokens, maxTokens + 1)));
        if (s == null) {
            return 0;
        }
        restored.put(sequenceId, s);
        return maxTokens;
    }

    @Override
    public void offerPrefix(long sequenceId, int[] tokens, int n) {
        Started s = justStarted.remove(sequenceId);
        if (sources != null && s != null && sources.putIfAbsent(new SourceKey(s.source()), s) == null) {
            sourceTokens += s.source().length;
        }
    }

    @Override
    public int prefixCacheTokens() {
        return sourceTokens;
    }

    @Override
    public void evictPrefixesTo(int tokens) {
        if (sources == null) {
            return;
        }
        var it = sources.values().iterator();
        while (sourceTokens > Math.max(0, tokens) && it.hasNext()) {
            sourceTokens -= it.next().source().length;
            it.remove();
        }
    }

    /** The cached sources' cross-attention caches (shared with live sequences while they run) and first steps. */
    @Override
    public long prefixCacheBytes() {
        return (long) sourceTokens * graph.kvBytesPerToken();
    }

    /**
     * A sample of the same source: the cross-attention cache is shared (it is written once, when the
     * source is encoded, and only read after), the self-attention cache copied.
     */
    @Override
    public void fork(long parentId, long childId) {
        Cache parent = caches.get(parentId);
        if (parent == null) {
            throw new IllegalStateException("sequence " + parentId + " has no cache to fork");
        }
        Cache child = new Cache(parent.sourceLength, graph.numLayers());
        for (int l = 0; l < graph.numLayers(); l++) {
            for (int kv = 0; kv < 2; kv++) {
                child.cross[l][kv] = parent.cross[l][kv];
                child.self[l][kv] = parent.self[l][kv] == null ? null : parent.self[l][kv].clone();
            }
        }
        child.length = parent.length;
        child.capacity = parent.capacity;
        caches.put(childId, child);
    }

    @Override
    public void release(long sequenceId) {
        caches.remove(sequenceId);
        restored.remove(sequenceId);
        if (caches.isEmpty()) {
            // Idle: give the step buffers back; they are sized for the largest batch seen.
            buffers.clear();
        }
    }

    /** Decoder positions in a sequence's self-attention cache (start token included); -1 when unknown. For tests. */
    int decoderPositions(long sequenceId) {
        Cache c = caches.get(sequenceId);
        return c == null ? -1 : c.length;
    }

    /** Source positions in a sequence's cross-attention cache; -1 when unknown. For tests. */
    int sourcePositions(long sequenceId) {
        Cache c = caches.get(sequenceId);
        return c == null ? -1 : c.cross[0][0].length / (graph.numHeads() * graph.dKv());
    }

    @Override
    public int numCachedSequences() {
        return caches.size();
    }

    @Override
    public long allocatedBytes() {
        long n = 0;
        for (FloatBuffer b : buffers.values()) {
            n += (long) b.capacity() * Float.BYTES;
        }
        for (Cache c : caches.values()) {
            n += c.bytes();
        }
        return n;
    }

    @Override
    public void close() {
        caches.clear();
        if (sources != null) {
            sources.clear();
            sourceTokens = 0;
        }
        buffers.clear();
        try {
            encoder.close();
            withPast.close();
            if (firstStep != withPast) {
                firstStep.close();
            }
        } catch (OrtException e) {
            throw new IllegalStateException("closing ONNX Runtime sessions failed", e);
        }
    }
}
