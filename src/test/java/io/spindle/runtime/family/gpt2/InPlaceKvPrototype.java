package io.spindle.runtime.family.gpt2;

import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import io.spindle.runtime.demo.Gpt2GraphBuilder;
import io.spindle.runtime.demo.Gpt2Shape;
import io.spindle.runtime.onnx.GatherRewrite;

import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.IntBuffer;
import java.nio.LongBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Prototype driver for issue 17 (copy-free KV on CPU): runs {@link Gpt2GraphBuilder#inPlaceKv}'s
 * graph over one preallocated cache per tensor, [slots, heads, maxLen, head_dim], that never moves.
 * Every call binds each present output to the very tensor it passes as that layer's past input, so
 * GroupQueryAttention sees past and present at the same address and writes only the new positions
 * (a row's cache is left-aligned in its slot: positions [0, length) are valid, the rest is junk that
 * no query reads).
 *
 * <p>Contracts of the ONNX Runtime 1.29 CPU kernel this relies on (group_query_attention_helper.h,
 * gqa_attention_base.h): per row, total = seqlens_k + 1 and the new tokens go at [total - S, total);
 * S > 1 with a past is accepted only at batch 1 ("batch_size must be 1 when sequence_length > 1 and
 * past context is given"); S > 1 at batch > 1 is a first prompt (total_sequence_length == S, every
 * row's past 0, rows right-padded, seqlens_k = real length - 1). Not thread-safe.
 */
public final class InPlaceKvPrototype implements AutoCloseable {
    public static final String FILE = "model_kv_inplace.onnx";

    private final OrtEnvironment env;
    private final OrtSession session;
    private final int layers;
    private final int heads;
    private final int headDim;
    private final int vocab;
    private final int slots;
    private final int maxLen;
    private final NativeBuffer[] cache;
    private final NativeBuffer logits;
    private final String[] cacheNames;
    private final String[] presentNames;

    /** Writes the in-place graph beside a demo model once (same seed, so the same weights). */
    public static Path ensureGraph(Path dir, Gpt2Shape shape, long seed) throws IOException {
        return ensureGraph(dir, shape, seed, false);
    }

    /** @param scoresOutput {@link Gpt2GraphBuilder#withScoresOutput()}: the kernel's non-flash path */
    public static Path ensureGraph(Path dir, Gpt2Shape shape, long seed, boolean scoresOutput) throws IOException {
        String name = scoresOutput ? FILE.replace(".onnx", "_qk.onnx") : FILE;
        Path file = dir.resolve(name);
        if (Files.isRegularFile(file)) {
            return file;
        }
        Path tmp = dir.resolve(name + ".tmp");
        try (OutputStream out = new BufferedOutputStream(Files.newOutputStream(tmp), 1 << 20)) {
            Gpt2GraphBuilder b = Gpt2GraphBuilder.inPlaceKv(shape, seed);
            (scoresOutput ? b.withScoresOutput() : b).write(out);
        }
        Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        return file;
    }

    public InPlaceKvPrototype(OrtEnvironment env, OrtSession session, Gpt2Shape shape, int slots, int maxLen) {
        this.env = env;
        this.session = session;
        this.layers = shape.numLayers();
        this.heads = shape.numHeads();
        this.headDim = shape.headDim();
        this.vocab = shape.vocabSize();
        this.slots = slots;
        this.maxLen = maxLen;
        this.cache = new NativeBuffer[2 * layers];
        this.cacheNames = new String[2 * layers];
        this.presentNames = new String[2 * layers];
        for (int i = 0; i < layers; i++) {
            cacheNames[2 * i] = "past_key_values." + i + ".key";
            cacheNames[2 * i + 1] = "past_key_values." + i + ".value";
            presentNames[2 * i] = "present." + i + ".key";
            presentNames[2 * i + 1] = "present." + i + ".value";
        }
        for (int c = 0; c < cache.length; c++) {
            cache[c] = NativeBuffer.allocate(slotBytes() * slots);
        }
        this.logits = NativeBuffer.allocate((long) slots * vocab * 4);
    }

    private long slotBytes() {
        return (long) heads * maxLen * headDim * 4;
    }

    private float[][] result;

    /**
     * One graph call for the rows in slots [first, first + n): row r feeds {@code tokens[r]} after
     * {@code past[r]} positions already in its slot. Returns each row's logits at its last fed token,
     * in arrays reused by the next call of as many rows.
     */
    public float[][] step(int first, int[][] tokens, int[] past) throws OrtException {
        return step(first, tokens, past, true);
    }

    /** {@code guard} false hands ONNX Runtime a call it refuses (to show that it does). */
    float[][] step(int first, int[][] tokens, int[] past, boolean guard) throws OrtException {
        int rows = tokens.length;
        int seq = 0;
        boolean anyPast = false;
        for (int r = 0; r < rows; r++) {
            seq = Math.max(seq, tokens[r].length);
            anyPast |= past[r] > 0;
        }
        if (guard && seq > 1 && anyPast && rows != 1) {
            throw new IllegalArgumentException("GroupQueryAttention takes a chunk after a past only at batch 1");
        }
        if (first + rows > slots) {
            throw new IllegalArgumentException("slots " + first + "+" + rows + " > " + slots);
        }
        long[] ids = new long[rows * seq];
        long[] positions = new long[rows * seq];
        int[] seqlens = new int[rows];
        long[] gather = new long[rows];
        int total = 0;
        for (int r = 0; r < rows; r++) {
            int n = tokens[r].length;
            for (int j = 0; j < n; j++) {
                ids[r * seq + j] = tokens[r][j];
                positions[r * seq + j] = past[r] + j;
            }
            // A first prompt (every past 0, S > 1) writes row r's S fed positions at [0, S); padding after
            // its n real tokens is junk past its valid length. Otherwise the kernel writes at [total - S, total).
            seqlens[r] = (anyPast || seq == 1) ? past[r] + seq - 1 : n - 1;
            if (guard && anyPast && n != seq) {
                throw new IllegalArgumentException("rows after a past feed equally many tokens");
            }
            total = Math.max(total, seqlens[r] + 1);
            gather[r] = (long) r * seq + n - 1;
        }
        if (!anyPast && seq > 1) {
            total = seq;
        }
        List<OnnxTensor> owned = new ArrayList<>();
        try {
            Map<String, OnnxTensor> in = new HashMap<>();
            Map<String, OnnxTensor> out = new HashMap<>();
            in.put("input_ids", own(owned, OnnxTensor.createTensor(env, LongBuffer.wrap(ids), new long[] {rows, seq})));
            in.put("position_ids", own(owned, OnnxTensor.createTensor(env, LongBuffer.wrap(positions), new long[] {rows, seq})));
            in.put("seqlens_k", own(owned, OnnxTensor.createTensor(env, IntBuffer.wrap(seqlens), new long[] {rows})));
            in.put("total_sequence_length", own(owned, OnnxTensor.createTensor(env, IntBuffer.wrap(new int[] {total}), new long[0])));
            in.put(GatherRewrite.INPUT, own(owned, OnnxTensor.createTensor(env, LongBuffer.wrap(gather), new long[] {1, rows})));
            long[] shape = {rows, heads, maxLen, headDim};
            for (int c = 0; c < cache.length; c++) {
                ByteBuffer view = cache[c].buffer().duplicate().position((int) (first * slotBytes()))
                        .limit((int) ((first + rows) * slotBytes())).slice().order(ByteOrder.nativeOrder());
                OnnxTensor t = own(owned, OnnxTensor.createTensor(env, view, shape, OnnxJavaType.FLOAT));
                in.put(cacheNames[c], t);
                out.put(presentNames[c], t);
            }
            ByteBuffer lv = logits.buffer().duplicate().position(0).limit(rows * vocab * 4).slice().order(ByteOrder.nativeOrder());
            out.put("logits", own(owned, OnnxTensor.createTensor(env, lv, new long[] {1, rows, vocab}, OnnxJavaType.FLOAT)));
            session.run(in, out).close();
            if (result == null || result.length != rows) {
                result = new float[rows][vocab];
            }
            var floats = logits.buffer().duplicate().order(ByteOrder.nativeOrder()).asFloatBuffer();
            for (int r = 0; r < rows; r++) {
                floats.get(r * vocab, result[r]);
            }
            return result;
        } finally {
            for (OnnxTensor t : owned) {
                t.close();
            }
        }
    }

    /** Layer 0's key cache at one place of one slot. */
    public float keyAt(int slot, int head, int position, int dim) {
        return cache[0].buffer().getFloat(keyOffset(slot, head, position, dim));
    }

    /** Overwrites layer 0's key cache at one place (to show that a call leaves what it does not write). */
    public void pokeKey(int slot, int head, int position, int dim, float value) {
        cache[0].buffer().putFloat(keyOffset(slot, head, position, dim), value);
    }

    private int keyOffset(int slot, int head, int position, int dim) {
        return (int) (slot * slotBytes() + (((long) head * maxLen + position) * headDim + dim) * 4);
    }

    private static OnnxTensor own(List<OnnxTensor> owned, OnnxTensor t) {
        owned.add(t);
        return t;
    }

    @Override
    public void close() {
        for (NativeBuffer b : cache) {
            b.close();
        }
        logits.close();
    }
}
