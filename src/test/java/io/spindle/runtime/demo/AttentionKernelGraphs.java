package io.spindle.runtime.demo;

import ai.onnx.proto.OnnxMl.AttributeProto;
import ai.onnx.proto.OnnxMl.TensorProto.DataType;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.util.List;

import static io.spindle.runtime.demo.OnnxGraphWriter.floatAttr;
import static io.spindle.runtime.demo.OnnxGraphWriter.intAttr;
import static io.spindle.runtime.demo.OnnxGraphWriter.intsAttr;

/**
 * Decode-attention graphs (one token per row) for {@code AttentionKernelBenchmark}: the in-place KV
 * form's {@code GroupQueryAttention} block attention, and standard-op forms that read the cache as a
 * read-only input (the caller would write the new position's k/v itself after the call). {@code n}
 * independent layers per graph, each with its own inputs: {@code qkv.i} [batch, 1, 3·heads·head_dim]
 * (GPT-2's packed c_attn output) and its cache; each emits {@code attn.i} [batch, 1, heads·head_dim].
 * Lives beside {@link OnnxGraphWriter} because that writer is package-private.
 */
public final class AttentionKernelGraphs {
    /** How a read-only form computes the past scores q·kᵀ; the probabilities·V product is MatMul(p [B,H,1,L], V) in all. */
    public enum Scores {
        /** MatMul(K [B,H,L,D], q [B,H,D,1]) → [B,H,L,1]: K is the streamed A operand, N = 1. */
        K_Q,
        /** K kept transposed, Kt [B,H,D,L]: MatMul(q [B,H,1,D], Kt), MLAS's M = 1 path with B not transposed. */
        Q_KT,
        /** MatMul(q, Transpose(K)): ONNX Runtime fuses the Transpose into a FusedMatMul with transB (M = 1, transposed B). */
        Q_TRANSPOSE_K,
        /** Einsum("bhld,bhqd->bhql", K, q). */
        EINSUM,
        /** ReduceSum(Mul(K, q), last axis): a [B,H,L,D] temporary, for comparison. */
        MUL_REDUCE;

        /** Whether the key cache input is [B,H,D,L] rather than [B,H,L,D]. */
        public boolean transposedKeys() {
            return this == Q_KT;
        }
    }

    /**
     * GroupQueryAttention as {@code Gpt2GraphBuilder.inPlaceKv} emits it for one block (packed QKV,
     * kv_num_heads = num_heads, scale 1/√head_dim), per layer {@code cache.i.key|value}
     * [batch, heads, max_len, head_dim] in and {@code present.i.key|value} out (bind them to the same
     * tensors), {@code seqlens_k} and {@code total_sequence_length} shared.
     *
     * @param scoresOutput also request output_qk ({@code qk.i}), which moves ONNX Runtime 1.29 off the
     *                     default path as {@code Gpt2GraphBuilder.withScoresOutput} does
     */
    public static byte[] groupQueryAttention(int layers, int heads, int headDim, boolean scoresOutput) {
        return groupQueryAttention(layers, heads, headDim, scoresOutput, false);
    }

    /**
     * @param prescaled multiply the packed QKV's q part by 1/√head_dim (a Mul over [batch, 1, 3·hidden])
     *                  and give the kernel scale 1, so that its q·kᵀ GEMM runs at alpha 1
     */
    public static byte[] groupQueryAttention(int layers, int heads, int headDim, boolean scoresOutput, boolean prescaled) {
        OnnxGraphWriter g = new OnnxGraphWriter("attention-kernel-gqa");
        float scale = (float) (1.0 / Math.sqrt(headDim));
        if (prescaled) {
            float[] qOnly = new float[3 * heads * headDim];
            java.util.Arrays.fill(qOnly, 1f);
            java.util.Arrays.fill(qOnly, 0, heads * headDim, scale);
            g.floatInit("q_scale", qOnly, qOnly.length);
        }
        g.input("seqlens_k", DataType.INT32, "batch");
        g.input("total_sequence_length", DataType.INT32);
        for (int i = 0; i < layers; i++) {
            g.input("qkv." + i, DataType.FLOAT, "batch", 1, 3 * heads * headDim);
            g.input("cache." + i + ".key", DataType.FLOAT, "batch", heads, "max_len", headDim);
            g.input("cache." + i + ".value", DataType.FLOAT, "batch", heads, "max_len", headDim);
            g.output("attn." + i, DataType.FLOAT, "batch", 1, heads * headDim);
            g.output("present." + i + ".key", DataType.FLOAT, "batch", heads, "max_len", headDim);
            g.output("present." + i + ".value", DataType.FLOAT, "batch", heads, "max_len", headDim);
            AttributeProto[] attributes = {intAttr("num_heads", heads), intAttr("kv_num_heads", heads),
                    floatAttr("scale", prescaled ? 1f : scale), intAttr("qk_output", 1)};
            List<String> outputs = scoresOutput
                    ? List.of("attn." + i, "present." + i + ".key", "present." + i + ".value", "qk." + i)
                    : List.of("attn." + i, "present." + i + ".key", "present." + i + ".value");
            if (scoresOutput) {
                g.output("qk." + i, DataType.FLOAT, "batch", heads, 1, "max_len");
            }
            String qkv = prescaled ? g.op("Mul", List.of("qkv." + i, "q_scale")) : "qkv." + i;
            g.contribInto("GroupQueryAttention", List.of(qkv, "", "", "cache." + i + ".key",
                    "cache." + i + ".value", "seqlens_k", "total_sequence_length"), outputs,
                    scoresOutput ? attributes : java.util.Arrays.copyOf(attributes, 3));
        }
        return bytes(g);
    }

    /**
     * Decode attention from standard ops over a read-only cache: per layer {@code cache.i.key}
     * ([B,H,L,D], or [B,H,D,L] for {@link Scores#transposedKeys()}) and {@code cache.i.value} [B,H,L,D]
     * in; {@code attn.i} and the new position's {@code k_new.i}, {@code v_new.i} [B,H,1,D] out (for the
     * caller to store). {@code mask} [B,1,1,L] (shared) is added to the past scores: 0 where a row has a
     * position, a large negative number where it does not. The current token's own score q·k_new is
     * computed apart and concatenated to the past scores (a concat of scores, never of the cache).
     */
    public static byte[] readOnly(Scores form, int layers, int heads, int headDim) {
        OnnxGraphWriter g = new OnnxGraphWriter("attention-kernel-" + form.name().toLowerCase());
        g.input("mask", DataType.FLOAT, "batch", 1, 1, "cache_len");
        g.longInit("qkv_heads", new long[] {0, 3, heads, headDim}, 4);
        g.longInit("ones3", new long[] {1, 1, 1}, 3);
        if (form == Scores.K_Q) {
            g.longInit("col_shape", new long[] {0, 0, headDim, 1}, 4);
        }
        if (form == Scores.K_Q || form == Scores.MUL_REDUCE) {
            g.longInit("row_shape", new long[] {0, 0, 1, -1}, 4);
        }
        g.longInit("merged_shape", new long[] {0, 0, heads * headDim}, 3);
        g.longInit("last_axis", new long[] {3}, 1);
        g.longInit("zero", new long[] {0}, 1);
        g.longInit("minus_one", new long[] {-1}, 1);
        g.longInit("end", new long[] {Long.MAX_VALUE}, 1);
        g.scalar("scale", (float) (1.0 / Math.sqrt(headDim)));
        for (int i = 0; i < layers; i++) {
            String p = "l" + i + ".";
            String key = "cache." + i + ".key";
            String value = "cache." + i + ".value";
            g.input("qkv." + i, DataType.FLOAT, "batch", 1, 3 * heads * headDim);
            if (form.transposedKeys()) {
                g.input(key, DataType.FLOAT, "batch", heads, headDim, "cache_len");
            } else {
                g.input(key, DataType.FLOAT, "batch", heads, "cache_len", headDim);
            }
            g.input(value, DataType.FLOAT, "batch", heads, "cache_len", headDim);
            g.output("attn." + i, DataType.FLOAT, "batch", 1, heads * headDim);
            g.output("k_new." + i, DataType.FLOAT, "batch", heads, 1, headDim);
            g.output("v_new." + i, DataType.FLOAT, "batch", heads, 1, headDim);

            String split = g.op("Reshape", List.of("qkv." + i, "qkv_heads"));
            g.opInto("Split", List.of(split, "ones3"), List.of(p + "q3", p + "k3", p + "v3"), intAttr("axis", 1));
            String q = g.op("Transpose", List.of(p + "q3"), intsAttr("perm", 0, 2, 1, 3));
            String kNew = "k_new." + i;
            String vNew = "v_new." + i;
            g.opInto("Transpose", List.of(p + "k3"), List.of(kNew), intsAttr("perm", 0, 2, 1, 3));
            g.opInto("Transpose", List.of(p + "v3"), List.of(vNew), intsAttr("perm", 0, 2, 1, 3));
            // Scaling q (B·H·D values) rather than the scores keeps every MatMul at alpha 1.
            String qs = g.op("Mul", List.of(q, "scale"));
            String past = switch (form) {
                case K_Q -> g.op("Reshape", List.of(g.op("MatMul", List.of(key, g.op("Reshape", List.of(qs, "col_shape")))),
                        "row_shape"));
                case Q_KT -> g.op("MatMul", List.of(qs, key));
                case Q_TRANSPOSE_K -> g.op("MatMul", List.of(qs, g.op("Transpose", List.of(key), intsAttr("perm", 0, 1, 3, 2))));
                case EINSUM -> g.op("Einsum", List.of(key, qs), stringAttr("equation", "bhld,bhqd->bhql"));
                case MUL_REDUCE -> g.op("Reshape", List.of(g.op("ReduceSum", List.of(g.op("Mul", List.of(key, qs)), "last_axis"),
                        intAttr("keepdims", 1)), "row_shape"));
            };
            String masked = g.op("Add", List.of(past, "mask"));
            String own = g.op("ReduceSum", List.of(g.op("Mul", List.of(qs, kNew)), "last_axis"), intAttr("keepdims", 1));
            String probs = g.op("Softmax", List.of(g.op("Concat", List.of(masked, own), intAttr("axis", 3))),
                    intAttr("axis", -1));
            String pPast = g.op("Slice", List.of(probs, "zero", "minus_one", "last_axis"));
            String pOwn = g.op("Slice", List.of(probs, "minus_one", "end", "last_axis"));
            String ctx = g.op("Add", List.of(g.op("MatMul", List.of(pPast, value)), g.op("Mul", List.of(pOwn, vNew))));
            String merged = g.op("Transpose", List.of(ctx), intsAttr("perm", 0, 2, 1, 3));
            g.opInto("Reshape", List.of(merged, "merged_shape"), List.of("attn." + i));
        }
        return bytes(g);
    }

    /**
     * Reads one element of each of two cache-sized inputs ({@code cache.0.key|value} [B,H,L,D}):
     * how long a run takes when it copies nothing but its inputs, if it copies those.
     */
    public static byte[] touchOnly(int heads, int headDim) {
        OnnxGraphWriter g = new OnnxGraphWriter("attention-kernel-touch");
        g.input("cache.0.key", DataType.FLOAT, "batch", heads, "cache_len", headDim);
        g.input("cache.0.value", DataType.FLOAT, "batch", heads, "cache_len", headDim);
        g.output("touched", DataType.FLOAT, 1, 1, 1, 1);
        g.longInit("starts", new long[] {0, 0, 0, 0}, 4);
        g.longInit("ends", new long[] {1, 1, 1, 1}, 4);
        String k = g.op("Slice", List.of("cache.0.key", "starts", "ends"));
        String v = g.op("Slice", List.of("cache.0.value", "starts", "ends"));
        g.opInto("Add", List.of(k, v), List.of("touched"));
        return bytes(g);
    }

    /**
     * Sums every element of two cache-sized inputs ({@code cache.0.key|value} [B,H,L,D] → {@code sums}
     * [2]): one streaming read of both, what this machine gives ONNX Runtime for reading a cache now.
     */
    public static byte[] readAll(int heads, int headDim) {
        OnnxGraphWriter g = new OnnxGraphWriter("attention-kernel-read-all");
        g.input("cache.0.key", DataType.FLOAT, "batch", heads, "cache_len", headDim);
        g.input("cache.0.value", DataType.FLOAT, "batch", heads, "cache_len", headDim);
        g.output("sums", DataType.FLOAT, 2);
        g.longInit("all_axes", new long[] {0, 1, 2, 3}, 4);
        g.longInit("one", new long[] {1}, 1);
        String k = g.op("ReduceSum", List.of("cache.0.key", "all_axes"), intAttr("keepdims", 0));
        String v = g.op("ReduceSum", List.of("cache.0.value", "all_axes"), intAttr("keepdims", 0));
        g.opInto("Concat", List.of(g.op("Reshape", List.of(k, "one")), g.op("Reshape", List.of(v, "one"))), List.of("sums"),
                intAttr("axis", 0));
        return bytes(g);
    }

    private static AttributeProto stringAttr(String name, String value) {
        return AttributeProto.newBuilder().setName(name).setType(AttributeProto.AttributeType.STRING)
                .setS(com.google.protobuf.ByteString.copyFromUtf8(value)).build();
    }

    private static byte[] bytes(OnnxGraphWriter g) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try {
            g.writeModel(out, "spindle-attention-kernel-benchmark");
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        return out.toByteArray();
    }

    private AttentionKernelGraphs() {
    }
}
