package io.spindle.runtime.demo;

import ai.onnx.proto.OnnxMl.AttributeProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import ai.onnx.proto.OnnxMl.TensorProto.DataType;
import com.google.protobuf.ByteString;
import io.spindle.runtime.onnx.GatherRewrite;
import io.spindle.runtime.onnx.KvDtype;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;

import static io.spindle.runtime.demo.OnnxGraphWriter.floatAttr;
import static io.spindle.runtime.demo.OnnxGraphWriter.intAttr;
import static io.spindle.runtime.demo.OnnxGraphWriter.intsAttr;
import static io.spindle.runtime.demo.OnnxGraphWriter.tensorAttr;

/**
 * Emits a GPT-2-architecture decoder (pre-LayerNorm blocks, fused QKV, GELU MLP, tied or separate LM
 * head) from given weights ({@link Gpt2Weights}: the demo's seeded N(0, 0.02) ones, or an export's
 * read at load to compile it into the in-place KV form), in the I/O signature of one of the real
 * exporters or in Spindle's own serving forms. The attention
 * honours {@code attention_mask} over past + new positions and a causal mask offset by the past
 * length, so padded batches and cached decode behave exactly as in a real export.
 */
public final class Gpt2GraphBuilder {
    /**
     * Changes whenever what the builder emits for given weights changes: part of the key under which
     * compiled exports are cached.
     */
    public static final String VERSION = "1";
    private static final float MASK_NEG = -1e9f;

    private final Gpt2Shape shape;
    private final DemoLayout layout;
    private final boolean withPast;
    private final boolean gatherLogits;
    private final Gpt2Weights weights;
    private final boolean inPlaceKv;
    /** The in-place form's cache and attention element type; float32 in every other layout. */
    private final KvDtype kvDtype;
    private boolean qkOutput;
    private OnnxGraphWriter g;
    private boolean headsShapeDeclared;

    /**
     * @param withPast false builds the no-past graph of a split export (the same weights for the
     *                 same seed; its presents are just the prompt's keys and values)
     */
    public Gpt2GraphBuilder(Gpt2Shape shape, DemoLayout layout, boolean withPast, long seed) {
        this(shape, layout, withPast, seed, false);
    }

    /**
     * @param gatherLogits Spindle's serving form: the graph also takes {@value GatherRewrite#INPUT}
     *                     ([1, n] flat positions) and runs what follows the last attention (its
     *                     feed-forward, ln_f, the LM head; in the fused layout ln_f and the LM head) at
     *                     those positions only ({@code logits} [1, n, vocab]), as {@link GatherRewrite} makes
     *                     of an export; false computes logits at every position, as exporters do
     */
    public Gpt2GraphBuilder(Gpt2Shape shape, DemoLayout layout, boolean withPast, long seed, boolean gatherLogits) {
        this.shape = shape;
        this.layout = layout;
        this.withPast = withPast;
        this.gatherLogits = gatherLogits;
        this.weights = Gpt2Weights.random(shape, seed);
        this.inPlaceKv = false;
        this.kvDtype = KvDtype.FLOAT32;
    }

    private Gpt2GraphBuilder(Gpt2Weights weights, KvDtype kvDtype) {
        this.shape = weights.shape();
        this.layout = DemoLayout.OPTIMUM;
        this.withPast = true;
        this.gatherLogits = true;
        this.weights = weights;
        this.inPlaceKv = true;
        this.kvDtype = kvDtype;
    }

    /**
     * Spindle's in-place KV serving form (issue 17; {@link DemoLayout#IN_PLACE_KV}, served by
     * {@code InPlaceKvRunner}): a graph whose KV cache stays in place: each block's attention
     * is ONNX Runtime's {@code com.microsoft.GroupQueryAttention} (packed QKV, kv_num_heads =
     * num_heads, no rotary), whose CPU kernel writes only the new positions into its present outputs
     * when they are the very buffers of its past inputs. Inputs: {@code input_ids}, {@code position_ids}
     * (int64 [batch, seq]), {@code seqlens_k} (int32 [batch]: each row's valid length after this call
     * minus one), {@code total_sequence_length} (int32 scalar: the largest valid length),
     * {@code past_key_values.{i}.key|value} [batch, heads, max_len, head_dim] and
     * {@value GatherRewrite#INPUT}; outputs {@code logits} [1, n, vocab] and
     * {@code present.{i}.key|value}, the same shape as the past (bind them to the past's buffers). No
     * attention mask: a row attends to its first seqlens_k + 1 positions, causally. The same weights
     * as the other layouts for a seed.
     */
    public static Gpt2GraphBuilder inPlaceKv(Gpt2Shape shape, long seed) {
        return inPlaceKv(Gpt2Weights.random(shape, seed), KvDtype.FLOAT32);
    }

    /**
     * The in-place KV form ({@link #inPlaceKv(Gpt2Shape, long)}) of given weights, e.g. an export's, with
     * its cache (past and present) and attention in {@code kvDtype}: for float16, the packed QKV is cast
     * to float16 before {@code GroupQueryAttention} and its output back to float32 before the
     * projection; the weights and every other operator stay float32.
     */
    public static Gpt2GraphBuilder inPlaceKv(Gpt2Weights weights, KvDtype kvDtype) {
        return new Gpt2GraphBuilder(weights, kvDtype);
    }

    /** {@link #inPlaceKv(Gpt2Weights, KvDtype)} of the demo's seeded weights. */
    public static Gpt2GraphBuilder inPlaceKv(Gpt2Shape shape, long seed, KvDtype kvDtype) {
        return inPlaceKv(Gpt2Weights.random(shape, seed), kvDtype);
    }

    /**
     * The same with each attention's {@code output_qk} requested (nobody reads it): in ONNX Runtime
     * 1.29 that moves the CPU kernel off its flash-attention path onto the one that materialises the
     * scores with MLAS GEMMs, which the issue 17 benchmark compares.
     */
    public Gpt2GraphBuilder withScoresOutput() {
        this.qkOutput = true;
        return this;
    }

    public void write(OutputStream out) throws IOException {
        g = new OnnxGraphWriter("spindle-demo-gpt2");
        declareIo();
        if (fused()) {
            writeFused();
            g.writeModel(out, "spindle-demo-builder");
            return;
        }
        String x = embeddings();
        String maskBias = null;
        if (inPlaceKv) {
            g.scalar("one", 1f);
        } else {
            maskBias = attentionBias();
        }
        for (int i = 0; i < shape.numLayers(); i++) {
            x = block(i, x, maskBias);
        }
        String h = layerNorm("ln_f", x, weights.lnFGamma(), weights.lnFBeta());
        lmHead(h);
        g.writeModel(out, "spindle-demo-builder");
    }

    /** logits = h · wteᵀ (tied), or h · lm_head. */
    private void lmHead(String h) {
        String head = weights.lmHead() == null ? g.op("Transpose", List.of("wte"), intsAttr("perm", 1, 0))
                : g.init("lm_head.weight", weights.lmHead());
        g.opInto("MatMul", List.of(h, head), List.of("logits"));
    }

    private boolean fused() {
        return layout == DemoLayout.ORT_FUSED || layout == DemoLayout.ORT_FUSED_INT64;
    }

    private boolean optimum() {
        return layout != DemoLayout.ORT_GPT2 && !fused();
    }

    /** Graph inputs as the contrib ops take them: int32, cast in the graph when the inputs are int64. */
    private String int32(String input) {
        return layout == DemoLayout.ORT_FUSED_INT64
                ? g.op("Cast", List.of(input), intAttr("to", DataType.INT32.getNumber())) : input;
    }

    /**
     * The graph ONNX Runtime's transformer optimizer makes of GPT-2: EmbedLayerNormalization adds the
     * token and position embeddings and applies the first block's ln_1 (its third output is the sum,
     * the residual stream); Attention (unidirectional, raw 2-D mask, stacked past/present) replaces
     * the QKV projection, attention and concatenation; each residual add and the LayerNorm after it
     * become one SkipLayerNormalization (its fourth output is the sum); FastGelu is the tanh GELU
     * with the fc bias. Random weights are drawn in the same order as the plain layouts, so that all
     * layouts of one seed compute the same function.
     */
    private void writeFused() {
        int hidden = shape.hiddenSize();
        g.init("wte", weights.wte());
        g.init("wpe", weights.wpe());
        AttributeProto eps = floatAttr("epsilon", weights.epsilon());
        String ids = int32("input_ids");
        String positions = int32("position_ids");
        String mask = int32("attention_mask");
        String ln = "emb_ln";
        String residual = "emb_sum";
        Gpt2Weights.Layer first = weights.layers().getFirst();
        g.contribInto("EmbedLayerNormalization", List.of(ids, "", "wte", "wpe", "", g.init("h.0.ln_1.weight", first.ln1Gamma()),
                g.init("h.0.ln_1.bias", first.ln1Beta()), "", positions), List.of(ln, "emb_mask_index", residual), eps);
        for (int i = 0; i < shape.numLayers(); i++) {
            String p = "h." + i + ".";
            Gpt2Weights.Layer l = weights.layers().get(i);
            String qkvW = g.init(p + "attn.c_attn.weight", l.cAttnW());
            String qkvB = g.init(p + "attn.c_attn.bias", l.cAttnB());
            String projW = g.init(p + "attn.c_proj.weight", l.cProjW());
            String projB = g.init(p + "attn.c_proj.bias", l.cProjB());
            String fcW = g.init(p + "mlp.c_fc.weight", l.fcW());
            String fcB = g.init(p + "mlp.c_fc.bias", l.fcB());
            String outW = g.init(p + "mlp.c_proj.weight", l.projW());
            String outB = g.init(p + "mlp.c_proj.bias", l.projB());
            String ctx = p + "attn_out";
            g.contribInto("Attention", List.of(ln, qkvW, qkvB, mask, "past_" + i),
                    List.of(ctx, "present_" + i), intAttr("num_heads", shape.numHeads()), intAttr("unidirectional", 1));
            String proj = g.op("MatMul", List.of(ctx, projW));
            String ln2 = p + "ln_2_out";
            String afterAttn = p + "residual_attn";
            g.contribInto("SkipLayerNormalization", List.of(proj, residual, g.init(p + "ln_2.weight", l.ln2Gamma()),
                    g.init(p + "ln_2.bias", l.ln2Beta()), projB), List.of(ln2, "", "", afterAttn), eps);
            String fc = g.op("MatMul", List.of(ln2, fcW));
            String act = p + "gelu";
            g.contribInto(weights.activation() == Gpt2Weights.Activation.GELU_TANH ? "FastGelu" : "BiasGelu",
                    List.of(fc, fcB), List.of(act));
            String out = g.op("MatMul", List.of(act, outW));
            // The next block's ln_1, or ln_f after the last block.
            boolean last = i == shape.numLayers() - 1;
            String next = last ? "ln_f." : "h." + (i + 1) + ".ln_1.";
            Gpt2Weights.Tensor gamma = last ? weights.lnFGamma() : weights.layers().get(i + 1).ln1Gamma();
            Gpt2Weights.Tensor beta = last ? weights.lnFBeta() : weights.layers().get(i + 1).ln1Beta();
            ln = p + "ln_next";
            residual = p + "residual_mlp";
            g.contribInto("SkipLayerNormalization", List.of(out, afterAttn, g.init(next + "weight", gamma),
                    g.init(next + "bias", beta), outB), List.of(ln, "", "", residual), eps);
        }
        lmHead(gathered(ln));
    }

    /** {@code x} [batch, seq, hidden] at the requested flat positions, [1, n, hidden]; {@code x} itself when not gathering. */
    private String gathered(String x) {
        if (!gatherLogits) {
            return x;
        }
        String flat = g.op("Flatten", List.of(x), intAttr("axis", -1));
        return g.op("Gather", List.of(flat, GatherRewrite.INPUT), intAttr("axis", 0));
    }

    private void declareIo() {
        DataType ids = optimum() || layout == DemoLayout.ORT_FUSED_INT64 ? DataType.INT64 : DataType.INT32;
        int heads = shape.numHeads();
        int hd = shape.headDim();
        g.input("input_ids", ids, "batch_size", "sequence_length");
        if (inPlaceKv) {
            g.input("position_ids", ids, "batch_size", "sequence_length");
            g.input("seqlens_k", DataType.INT32, "batch_size");
            g.input("total_sequence_length", DataType.INT32);
        } else if (optimum()) {
            g.input("attention_mask", ids, "batch_size", "total_length");
            g.input("position_ids", ids, "batch_size", "sequence_length");
        } else {
            g.input("position_ids", ids, "batch_size", "sequence_length");
            g.input("attention_mask", ids, "batch_size", "total_length");
        }
        for (int i = 0; i < shape.numLayers() && withPast; i++) {
            if (optimum()) {
                String len = inPlaceKv ? "max_length" : "past_length";
                g.input("past_key_values." + i + ".key", cacheType(), "batch_size", heads, len, hd);
                g.input("past_key_values." + i + ".value", cacheType(), "batch_size", heads, len, hd);
            } else {
                g.input("past_" + i, DataType.FLOAT, 2, "batch_size", heads, "past_length", hd);
            }
        }
        if (gatherLogits) {
            g.input(GatherRewrite.INPUT, DataType.INT64, 1, "num_gathered");
            g.output("logits", DataType.FLOAT, 1, "num_gathered", shape.vocabSize());
        } else {
            g.output("logits", DataType.FLOAT, "batch_size", "sequence_length", shape.vocabSize());
        }
        for (int i = 0; i < shape.numLayers(); i++) {
            if (optimum()) {
                String len = inPlaceKv ? "max_length" : "total_length";
                g.output("present." + i + ".key", cacheType(), "batch_size", heads, len, hd);
                g.output("present." + i + ".value", cacheType(), "batch_size", heads, len, hd);
            } else {
                g.output("present_" + i, DataType.FLOAT, 2, "batch_size", heads, "total_length", hd);
            }
        }
    }

    private DataType cacheType() {
        return kvDtype == KvDtype.FLOAT16 ? DataType.FLOAT16 : DataType.FLOAT;
    }

    private String embeddings() {
        g.init("wte", weights.wte());
        g.init("wpe", weights.wpe());
        String tok = g.op("Gather", List.of("wte", "input_ids"));
        String pos = g.op("Gather", List.of("wpe", "position_ids"));
        return g.op("Add", List.of(tok, pos));
    }

    /** [batch, 1, seq, total] additive bias: 0 where a query may attend, MASK_NEG elsewhere. */
    private String attentionBias() {
        String s = g.op("Shape", List.of("input_ids"), intAttr("start", 1));
        String t = g.op("Shape", List.of("attention_mask"), intAttr("start", 1));
        String st = g.op("Concat", List.of(s, t), intAttr("axis", 0));
        TensorProto one = TensorProto.newBuilder().setDataType(DataType.FLOAT.getNumber()).addDims(1)
                .setRawData(ByteString.copyFrom(le(1f))).build();
        String ones = g.op("ConstantOfShape", List.of(st), tensorAttr("value", one));
        String pastLen = g.op("Sub", List.of(t, s));
        g.longInit("axis0", new long[] {0}, 1);
        String k = g.op("Squeeze", List.of(pastLen, "axis0"));
        String causal = g.op("Trilu", List.of(ones, k), intAttr("upper", 0));
        String am = g.op("Cast", List.of("attention_mask"), intAttr("to", DataType.FLOAT.getNumber()));
        g.longInit("axes12", new long[] {1, 2}, 2);
        String am4 = g.op("Unsqueeze", List.of(am, "axes12"));
        String allowed = g.op("Mul", List.of(causal, am4));
        g.scalar("one", 1f);
        g.scalar("mask_neg", MASK_NEG);
        String blocked = g.op("Sub", List.of("one", allowed));
        return g.op("Mul", List.of(blocked, "mask_neg"));
    }

    private String block(int i, String x, String maskBias) {
        int hidden = shape.hiddenSize();
        String p = "h." + i + ".";
        Gpt2Weights.Layer l = weights.layers().get(i);
        String ln1 = layerNorm(p + "ln_1", x, l.ln1Gamma(), l.ln1Beta());
        String qkv = linear(p + "attn.c_attn", ln1, l.cAttnW(), l.cAttnB());
        if (inPlaceKv) {
            return blockTail(i, p, x, inPlaceAttention(i, p, qkv));
        }
        g.longInit(p + "split", new long[] {hidden, hidden, hidden}, 3);
        String q = p + "q";
        String k = p + "k";
        String v = p + "v";
        g.opInto("Split", List.of(qkv, p + "split"), List.of(q, k, v), intAttr("axis", 2));
        String qh = heads(q);
        String kh = heads(k);
        String vh = heads(v);
        String[] kv = appendPast(i, kh, vh);
        String kT = g.op("Transpose", List.of(kv[0]), intsAttr("perm", 0, 1, 3, 2));
        String scores = g.op("MatMul", List.of(qh, kT));
        String scaled = g.op("Mul", List.of(scores, g.scalar(p + "scale", (float) (1.0 / Math.sqrt(shape.headDim())))));
        String biased = g.op("Add", List.of(scaled, maskBias));
        String probs = g.op("Softmax", List.of(biased), intAttr("axis", -1));
        String ctx = g.op("MatMul", List.of(probs, kv[1]));
        String ctxT = g.op("Transpose", List.of(ctx), intsAttr("perm", 0, 2, 1, 3));
        g.longInit(p + "merge_shape", new long[] {0, 0, hidden}, 3);
        String merged = g.op("Reshape", List.of(ctxT, p + "merge_shape"));
        return blockTail(i, p, x, merged);
    }

    /**
     * GroupQueryAttention over the packed QKV ([batch, seq, 3 × hidden]: GPT-2's c_attn output is
     * already Q, K, V heads in order) with the cache tensors as both past and present; [batch, seq, hidden]
     * float32. In float16 the cast sits on QKV, not on the weights: the cache holds float16 keys and
     * values, and everything the attention does not touch keeps float32's precision.
     */
    private String inPlaceAttention(int i, String p, String qkv) {
        boolean half = kvDtype == KvDtype.FLOAT16;
        if (half) {
            qkv = g.op("Cast", List.of(qkv), intAttr("to", DataType.FLOAT16.getNumber()));
        }
        String ctx = p + (half ? "attn_ctx_f16" : "attn_ctx");
        List<String> outputs = qkOutput
                ? List.of(ctx, "present." + i + ".key", "present." + i + ".value", p + "attn_qk")
                : List.of(ctx, "present." + i + ".key", "present." + i + ".value");
        AttributeProto[] attributes = {intAttr("num_heads", shape.numHeads()), intAttr("kv_num_heads", shape.numHeads()),
                floatAttr("scale", (float) (1.0 / Math.sqrt(shape.headDim()))), intAttr("qk_output", 1)};
        g.contribInto("GroupQueryAttention", List.of(qkv, "", "", "past_key_values." + i + ".key",
                        "past_key_values." + i + ".value", "seqlens_k", "total_sequence_length"),
                outputs, qkOutput ? attributes : java.util.Arrays.copyOf(attributes, 3));
        return half ? g.op("Cast", List.of(ctx), intAttr("to", DataType.FLOAT.getNumber())) : ctx;
    }

    /** The attention's output projection, the residuals and the feed-forward. */
    private String blockTail(int i, String p, String x, String merged) {
        Gpt2Weights.Layer l = weights.layers().get(i);
        String attn = linear(p + "attn.c_proj", merged, l.cProjW(), l.cProjB());
        String x1 = g.op("Add", List.of(x, attn));
        if (i == shape.numLayers() - 1) {
            // What follows is per position: the last feed-forward, ln_f and the LM head run where sampled.
            x1 = gathered(x1);
        }
        String ln2 = layerNorm(p + "ln_2", x1, l.ln2Gamma(), l.ln2Beta());
        String fc = linear(p + "mlp.c_fc", ln2, l.fcW(), l.fcB());
        String act = weights.activation() == Gpt2Weights.Activation.GELU_TANH ? geluTanh(p, fc) : geluErf(p, fc);
        String proj = linear(p + "mlp.c_proj", act, l.projW(), l.projB());
        return g.op("Add", List.of(x1, proj));
    }

    /** Concatenates the new keys/values after the past ones and publishes them as present outputs. */
    private String[] appendPast(int i, String kh, String vh) {
        if (!withPast) {
            String k = "present." + i + ".key";
            String v = "present." + i + ".value";
            g.opInto("Identity", List.of(kh), List.of(k));
            g.opInto("Identity", List.of(vh), List.of(v));
            return new String[] {k, v};
        }
        if (optimum()) {
            String k = "present." + i + ".key";
            String v = "present." + i + ".value";
            g.opInto("Concat", List.of("past_key_values." + i + ".key", kh), List.of(k), intAttr("axis", 2));
            g.opInto("Concat", List.of("past_key_values." + i + ".value", vh), List.of(v), intAttr("axis", 2));
            return new String[] {k, v};
        }
        String pk = "past_" + i + "_k";
        String pv = "past_" + i + "_v";
        g.opInto("Split", List.of("past_" + i), List.of(pk + "4", pv + "4"), intAttr("axis", 0));
        String pastK = g.op("Squeeze", List.of(pk + "4", "axis0"));
        String pastV = g.op("Squeeze", List.of(pv + "4", "axis0"));
        String k = g.op("Concat", List.of(pastK, kh), intAttr("axis", 2));
        String v = g.op("Concat", List.of(pastV, vh), intAttr("axis", 2));
        String k5 = g.op("Unsqueeze", List.of(k, "axis0"));
        String v5 = g.op("Unsqueeze", List.of(v, "axis0"));
        g.opInto("Concat", List.of(k5, v5), List.of("present_" + i), intAttr("axis", 0));
        return new String[] {k, v};
    }

    /** [batch, seq, hidden] → [batch, heads, seq, head_dim]. */
    private String heads(String x) {
        String shapeName = "heads_shape";
        if (!headsShapeDeclared) {
            g.longInit(shapeName, new long[] {0, 0, shape.numHeads(), shape.headDim()}, 4);
            headsShapeDeclared = true;
        }
        String r = g.op("Reshape", List.of(x, shapeName));
        return g.op("Transpose", List.of(r), intsAttr("perm", 0, 2, 1, 3));
    }

    private String linear(String name, String x, Gpt2Weights.Tensor weight, Gpt2Weights.Tensor bias) {
        String w = g.init(name + ".weight", weight);
        String b = g.init(name + ".bias", bias);
        String mm = g.op("MatMul", List.of(x, w));
        return g.op("Add", List.of(mm, b));
    }

    private String layerNorm(String name, String x, Gpt2Weights.Tensor gamma, Gpt2Weights.Tensor beta) {
        String w = g.init(name + ".weight", gamma);
        String b = g.init(name + ".bias", beta);
        return g.op("LayerNormalization", List.of(x, w, b), intAttr("axis", -1), floatAttr("epsilon", weights.epsilon()));
    }

    /** GPT-2's gelu_new: 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))). */
    private String geluTanh(String p, String x) {
        String x3 = g.op("Mul", List.of(g.op("Mul", List.of(x, x)), x));
        String inner = g.op("Add", List.of(x, g.op("Mul", List.of(x3, g.scalar(p + "gelu_c", 0.044715f)))));
        String t = g.op("Tanh", List.of(g.op("Mul", List.of(inner, g.scalar(p + "gelu_k", (float) Math.sqrt(2 / Math.PI))))));
        String onePlus = g.op("Add", List.of(t, "one"));
        return g.op("Mul", List.of(g.op("Mul", List.of(x, onePlus)), g.scalar(p + "gelu_half", 0.5f)));
    }

    /** The erf GELU: 0.5·x·(1 + erf(x/√2)). */
    private String geluErf(String p, String x) {
        String e = g.op("Erf", List.of(g.op("Mul", List.of(x, g.scalar(p + "gelu_rsqrt2", (float) (1 / Math.sqrt(2)))))));
        String onePlus = g.op("Add", List.of(e, "one"));
        return g.op("Mul", List.of(g.op("Mul", List.of(x, onePlus)), g.scalar(p + "gelu_half", 0.5f)));
    }

    private static byte[] le(float f) {
        return ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putFloat(f).array();
    }
}
