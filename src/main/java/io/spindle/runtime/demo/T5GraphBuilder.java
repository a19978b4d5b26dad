package io.spindle.runtime.demo;

import ai.onnx.proto.OnnxMl.TensorProto;
import ai.onnx.proto.OnnxMl.TensorProto.DataType;
import com.google.protobuf.ByteString;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;

import static io.spindle.runtime.demo.OnnxGraphWriter.graphAttr;
import static io.spindle.runtime.demo.OnnxGraphWriter.intAttr;
import static io.spindle.runtime.demo.OnnxGraphWriter.intsAttr;
import static io.spindle.runtime.demo.OnnxGraphWriter.tensorAttr;

/**
 * Emits a T5-architecture model (RMS norm, unscaled attention with a bucketed relative position
 * bias shared by a stack's layers, ReLU feed-forward, an LM head of its own as in T5 v1.1) with
 * seeded random weights, in Hugging Face Optimum's seq2seq signature:
 * <ul>
 *   <li>{@code encoder_model.onnx}: {@code input_ids}, {@code attention_mask} → {@code last_hidden_state};</li>
 *   <li>{@code decoder_model.onnx}: {@code encoder_attention_mask}, {@code input_ids},
 *       {@code encoder_hidden_states} → {@code logits}, {@code present.{i}.decoder|encoder.key|value};</li>
 *   <li>{@code decoder_with_past_model.onnx}: as above with {@code past_key_values.{i}.decoder|encoder.key|value}
 *       instead of the hidden states, → {@code logits}, {@code present.{i}.decoder.key|value};</li>
 *   <li>{@code decoder_model_merged.onnx}: both, behind an {@code If} on {@code use_cache_branch}.</li>
 * </ul>
 * Like a real export, the decoder has no decoder attention mask: padding can only be masked on the
 * encoder side. Every graph of one seed holds the same weights. The relative position bias is
 * The LM head is not tied to the embeddings: with random weights a tied head mostly predicts the
 * token it was fed, and greedy output would repeat one token. The relative position bias is
 * written as a table over distances [-max_distance, max_distance] (T5's buckets saturate beyond), so
 * the graph gathers it instead of computing buckets; the result is the same function.
 */
public final class T5GraphBuilder {
    private static final float MASK_NEG = -1e9f;

    private record Weight(float[] values, long[] dims) {
    }

    private final T5Shape s;
    private final Map<String, Weight> weights = new LinkedHashMap<>();
    /** The graph that holds initializers; subgraphs read them from the outer scope. */
    private OnnxGraphWriter root;
    private final Set<String> declared = new HashSet<>();
    /** The graph nodes are added to. */
    private OnnxGraphWriter g;

    public T5GraphBuilder(T5Shape shape, long seed) {
        this.s = shape;
        SplittableRandom r = new SplittableRandom(seed);
        int d = shape.dModel();
        int inner = shape.innerDim();
        weight(r, "shared.weight", 1.0, shape.vocabSize(), d);
        weight(r, "lm_head.weight", Math.pow(d, -0.5) * 4, d, shape.vocabSize());
        for (String stack : List.of("encoder", "decoder")) {
            weight(r, stack + ".relative_attention_bias", 0.5, shape.numBuckets(), shape.numHeads());
            for (int i = 0; i < shape.numLayers(); i++) {
                String b = stack + ".block." + i + ".";
                attentionWeights(r, b + "layer.0.SelfAttention.");
                if (stack.equals("decoder")) {
                    attentionWeights(r, b + "layer.1.EncDecAttention.");
                }
                String ff = b + "layer." + (stack.equals("decoder") ? 2 : 1) + ".DenseReluDense.";
                weight(r, ff + "wi", Math.pow(d, -0.5), d, shape.dFf());
                weight(r, ff + "wo", Math.pow(shape.dFf(), -0.5), shape.dFf(), d);
            }
        }
        if (inner <= 0) {
            throw new IllegalArgumentException("numHeads × dKv must be positive");
        }
    }

    private void attentionWeights(SplittableRandom r, String p) {
        int d = s.dModel();
        int inner = s.innerDim();
        weight(r, p + "q", Math.pow((double) d * s.dKv(), -0.5), d, inner);
        weight(r, p + "k", Math.pow(d, -0.5), d, inner);
        weight(r, p + "v", Math.pow(d, -0.5), d, inner);
        weight(r, p + "o", Math.pow(inner, -0.5), inner, d);
    }

    private void weight(SplittableRandom r, String name, double std, long... dims) {
        int n = 1;
        for (long x : dims) {
            n *= (int) x;
        }
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) (r.nextGaussian() * std);
        }
        weights.put(name, new Weight(v, dims));
    }

    public void writeEncoder(OutputStream out) throws IOException {
        begin("spindle-demo-t5-encoder");
        g.input("input_ids", DataType.INT64, "batch_size", "encoder_sequence_length");
        g.input("attention_mask", DataType.INT64, "batch_size", "encoder_sequence_length");
        g.output("last_hidden_state", DataType.FLOAT, "batch_size", "encoder_sequence_length", s.dModel());
        String x = g.op("Gather", List.of(w("shared.weight"), "input_ids"));
        String len = dim("input_ids", 1);
        String bias = g.op("Add", List.of(positionBias("encoder", c0(), len, len, true), maskBias("attention_mask")));
        for (int i = 0; i < s.numLayers(); i++) {
            String p = "encoder.block." + i + ".";
            String h = rmsNorm(x);
            x = g.op("Add", List.of(x, attention(p + "layer.0.SelfAttention.", h, heads(project(p + "layer.0.SelfAttention.k", h)),
                    heads(project(p + "layer.0.SelfAttention.v", h)), bias)));
            x = g.op("Add", List.of(x, feedForward(p + "layer.1.DenseReluDense.", rmsNorm(x))));
        }
        g.opInto("Identity", List.of(rmsNorm(x)), List.of("last_hidden_state"));
        root.writeModel(out, "spindle-demo-builder");
    }

    /** The split export's decoder: {@code decoder_model.onnx} without past, or {@code decoder_with_past_model.onnx}. */
    public void writeDecoder(OutputStream out, boolean withPast) throws IOException {
        begin("spindle-demo-t5-decoder" + (withPast ? "-with-past" : ""));
        declareDecoderInputs(!withPast, withPast);
        declareDecoderOutputs(root, "", !withPast);
        decoderBody("", withPast, !withPast);
        root.writeModel(out, "spindle-demo-builder");
    }

    /** {@code decoder_model_merged.onnx}: one graph, an {@code If} on {@code use_cache_branch} picks the branch. */
    public void writeMergedDecoder(OutputStream out) throws IOException {
        begin("spindle-demo-t5-decoder-merged");
        declareDecoderInputs(true, true);
        g.input("use_cache_branch", DataType.BOOL, 1);
        declareDecoderOutputs(root, "", true);
        OnnxGraphWriter main = root;
        OnnxGraphWriter withPast = new OnnxGraphWriter("decoder_with_past", "wp_");
        g = withPast;
        declareDecoderOutputs(withPast, "wp_", true);
        decoderBody("wp_", true, true);
        OnnxGraphWriter noPast = new OnnxGraphWriter("decoder_no_past", "np_");
        g = noPast;
        declareDecoderOutputs(noPast, "np_", true);
        decoderBody("np_", false, true);
        g = main;
        g.opInto("If", List.of("use_cache_branch"), decoderOutputNames("", true),
                graphAttr("then_branch", withPast.build()), graphAttr("else_branch", noPast.build()));
        root.writeModel(out, "spindle-demo-builder");
    }

    private void begin(String name) {
        root = new OnnxGraphWriter(name);
        g = root;
        declared.clear();
    }

    private void declareDecoderInputs(boolean hiddenStates, boolean past) {
        g.input("encoder_attention_mask", DataType.INT64, "batch_size", "encoder_sequence_length");
        g.input("input_ids", DataType.INT64, "batch_size", "decoder_sequence_length");
        if (hiddenStates) {
            g.input("encoder_hidden_states", DataType.FLOAT, "batch_size", "encoder_sequence_length", s.dModel());
        }
        for (int i = 0; i < s.numLayers() && past; i++) {
            for (String part : List.of("decoder.key", "decoder.value")) {
                g.input("past_key_values." + i + "." + part, DataType.FLOAT, "batch_size", s.numHeads(),
                        "past_decoder_sequence_length", s.dKv());
            }
            for (String part : List.of("encoder.key", "encoder.value")) {
                g.input("past_key_values." + i + "." + part, DataType.FLOAT, "batch_size", s.numHeads(),
                        "encoder_sequence_length_out", s.dKv());
            }
        }
    }

    private List<String> decoderOutputNames(String prefix, boolean withEncoderPresents) {
        List<String> names = new ArrayList<>();
        names.add(prefix + "logits");
        for (int i = 0; i < s.numLayers(); i++) {
            names.add(prefix + "present." + i + ".decoder.key");
            names.add(prefix + "present." + i + ".decoder.value");
            if (withEncoderPresents) {
                names.add(prefix + "present." + i + ".encoder.key");
                names.add(prefix + "present." + i + ".encoder.value");
            }
        }
        return names;
    }

    private void declareDecoderOutputs(OnnxGraphWriter w, String prefix, boolean withEncoderPresents) {
        for (String name : decoderOutputNames(prefix, withEncoderPresents)) {
            if (name.endsWith("logits")) {
                w.output(name, DataType.FLOAT, "batch_size", "decoder_sequence_length", s.vocabSize());
            } else {
                w.output(name, DataType.FLOAT, "batch_size", s.numHeads(),
                        name.contains(".decoder.") ? "past_decoder_sequence_length + 1" : "encoder_sequence_length_out",
                        s.dKv());
            }
        }
    }

    /**
     * Adds the decoder's nodes to {@link #g} and names its results {@code prefix + output}. With past,
     * the cross-attention keys and values come from the past inputs; without, from the encoder's
     * hidden states. {@code encoderPresents}: whether the cross-attention keys and values are outputs.
     */
    private void decoderBody(String prefix, boolean withPast, boolean encoderPresents) {
        String y = g.op("Gather", List.of(w("shared.weight"), "input_ids"));
        String newLen = dim("input_ids", 1);
        String pastLen = withPast ? dim("past_key_values.0.decoder.key", 2) : c0();
        String total = g.op("Add", List.of(pastLen, newLen));
        String selfBias = g.op("Add", List.of(positionBias("decoder", pastLen, newLen, total, false),
                causalBias(pastLen, newLen, total)));
        String crossBias = maskBias("encoder_attention_mask");
        for (int i = 0; i < s.numLayers(); i++) {
            String p = "decoder.block." + i + ".";
            String sa = p + "layer.0.SelfAttention.";
            String h = rmsNorm(y);
            String k = heads(project(sa + "k", h));
            String v = heads(project(sa + "v", h));
            if (withPast) {
                k = g.op("Concat", List.of("past_key_values." + i + ".decoder.key", k), intAttr("axis", 2));
                v = g.op("Concat", List.of("past_key_values." + i + ".decoder.value", v), intAttr("axis", 2));
            }
            g.opInto("Identity", List.of(k), List.of(prefix + "present." + i + ".decoder.key"));
            g.opInto("Identity", List.of(v), List.of(prefix + "present." + i + ".decoder.value"));
            y = g.op("Add", List.of(y, attention(sa, h, k, v, selfBias)));

            String ca = p + "layer.1.EncDecAttention.";
            String ck;
            String cv;
            if (withPast) {
                ck = "past_key_values." + i + ".encoder.key";
                cv = "past_key_values." + i + ".encoder.value";
            } else {
                ck = heads(project(ca + "k", "encoder_hidden_states"));
                cv = heads(project(ca + "v", "encoder_hidden_states"));
            }
            if (encoderPresents) {
                g.opInto("Identity", List.of(ck), List.of(prefix + "present." + i + ".encoder.key"));
                g.opInto("Identity", List.of(cv), List.of(prefix + "present." + i + ".encoder.value"));
            }
            y = g.op("Add", List.of(y, attention(ca, rmsNorm(y), ck, cv, crossBias)));
            y = g.op("Add", List.of(y, feedForward(p + "layer.2.DenseReluDense.", rmsNorm(y))));
        }
        g.opInto("MatMul", List.of(rmsNorm(y), w("lm_head.weight")), List.of(prefix + "logits"));
    }

    /** Multi-head attention with queries from {@code hq} over keys/values already split into heads. */
    private String attention(String p, String hq, String kHeads, String vHeads, String bias) {
        String q = heads(project(p + "q", hq));
        String kT = g.op("Transpose", List.of(kHeads), intsAttr("perm", 0, 1, 3, 2));
        String scores = g.op("Add", List.of(g.op("MatMul", List.of(q, kT)), bias));
        String probs = g.op("Softmax", List.of(scores), intAttr("axis", -1));
        String ctx = g.op("Transpose", List.of(g.op("MatMul", List.of(probs, vHeads))), intsAttr("perm", 0, 2, 1, 3));
        String merged = g.op("Reshape", List.of(ctx, longConst("merge_shape", 0, 0, s.innerDim())));
        return project(p + "o", merged);
    }

    private String feedForward(String p, String h) {
        return project(p + "wo", g.op("Relu", List.of(project(p + "wi", h))));
    }

    private String project(String weight, String x) {
        return g.op("MatMul", List.of(x, w(weight)));
    }

    /** [batch, len, inner] → [batch, heads, len, d_kv]. */
    private String heads(String x) {
        String r = g.op("Reshape", List.of(x, longConst("heads_shape", 0, 0, s.numHeads(), s.dKv())));
        return g.op("Transpose", List.of(r), intsAttr("perm", 0, 2, 1, 3));
    }

    /** T5LayerNorm: x · rsqrt(mean(x²) + ε) · weight, no mean subtraction, no bias (weights are 1 here). */
    private String rmsNorm(String x) {
        String var = g.op("ReduceMean", List.of(g.op("Mul", List.of(x, x))), intsAttr("axes", -1), intAttr("keepdims", 1));
        String rstd = g.op("Reciprocal", List.of(g.op("Sqrt", List.of(g.op("Add", List.of(var, scalar("eps", 1e-6f)))))));
        return g.op("Mul", List.of(x, rstd));
    }

    /** [1, heads, q, k]: the stack's bias for key position − query position, queries starting at {@code pastLen}. */
    private String positionBias(String stack, String pastLen, String qLen, String kLen, boolean bidirectional) {
        String table = relativeBiasTable(stack, bidirectional);
        String qPos = g.op("Range", List.of(pastLen, g.op("Add", List.of(pastLen, qLen)), c1()));
        String kPos = g.op("Range", List.of(c0(), kLen, c1()));
        String rel = g.op("Sub", List.of(g.op("Unsqueeze", List.of(kPos, longConst("axis0", 0))),
                g.op("Unsqueeze", List.of(qPos, longConst("axis1", 1)))));
        int m = s.maxDistance();
        String clipped = g.op("Clip", List.of(rel, longScalar("neg_max_distance", -m), longScalar("max_distance", m)));
        String idx = g.op("Add", List.of(clipped, longScalar("max_distance", m)));
        String bias = g.op("Transpose", List.of(g.op("Gather", List.of(table, idx))), intsAttr("perm", 2, 0, 1));
        return g.op("Unsqueeze", List.of(bias, longConst("axis0", 0)));
    }

    /** The bias per distance d ∈ [-max_distance, max_distance], [2·max_distance + 1, heads]. */
    private String relativeBiasTable(String stack, boolean bidirectional) {
        String name = stack + ".relative_attention_bias.table";
        if (declared.add(name)) {
            Weight buckets = weights.get(stack + ".relative_attention_bias");
            int m = s.maxDistance();
            int h = s.numHeads();
            float[] t = new float[(2 * m + 1) * h];
            for (int d = -m; d <= m; d++) {
                int b = bucket(d, bidirectional, s.numBuckets(), m);
                System.arraycopy(buckets.values(), b * h, t, (d + m) * h, h);
            }
            root.floatInit(name, t, 2L * m + 1, h);
        }
        return name;
    }

    /** Hugging Face's T5Attention._relative_position_bucket for one relative position (key − query). */
    static int bucket(int relative, boolean bidirectional, int numBuckets, int maxDistance) {
        int base = 0;
        int n = numBuckets;
        int rel = relative;
        if (bidirectional) {
            n /= 2;
            if (rel > 0) {
                base = n;
            }
            rel = Math.abs(rel);
        } else {
            rel = -Math.min(rel, 0);
        }
        int maxExact = n / 2;
        if (rel < maxExact) {
            return base + rel;
        }
        int large = maxExact + (int) ((float) Math.log(rel / (float) maxExact)
                / (float) Math.log(maxDistance / (double) maxExact) * (n - maxExact));
        return base + Math.min(large, n - 1);
    }

    /** [q, k]: 0 where key position ≤ query position, MASK_NEG after. */
    private String causalBias(String pastLen, String qLen, String kLen) {
        String dims = g.op("Concat", List.of(g.op("Unsqueeze", List.of(qLen, longConst("axis0", 0))),
                g.op("Unsqueeze", List.of(kLen, longConst("axis0", 0)))), intAttr("axis", 0));
        TensorProto one = TensorProto.newBuilder().setDataType(DataType.FLOAT.getNumber()).addDims(1)
                .setRawData(ByteString.copyFrom(ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putFloat(1f).array()))
                .build();
        String ones = g.op("ConstantOfShape", List.of(dims), tensorAttr("value", one));
        String allowed = g.op("Trilu", List.of(ones, pastLen), intAttr("upper", 0));
        return g.op("Mul", List.of(g.op("Sub", List.of(scalar("one", 1f), allowed)), scalar("mask_neg", MASK_NEG)));
    }

    /** [batch, 1, 1, len]: 0 for real positions, MASK_NEG for padding. */
    private String maskBias(String mask) {
        String m = g.op("Cast", List.of(mask), intAttr("to", DataType.FLOAT.getNumber()));
        String blocked = g.op("Mul", List.of(g.op("Sub", List.of(scalar("one", 1f), m)), scalar("mask_neg", MASK_NEG)));
        return g.op("Unsqueeze", List.of(blocked, longConst("axes12", 1, 2)));
    }

    /** A dimension of a tensor as an int64 scalar. */
    private String dim(String tensor, int axis) {
        return g.op("Gather", List.of(g.op("Shape", List.of(tensor)), longScalar("index" + axis, axis)), intAttr("axis", 0));
    }

    private String w(String name) {
        if (declared.add(name)) {
            Weight wt = weights.get(name);
            if (wt == null) {
                throw new IllegalStateException("no weight " + name);
            }
            root.floatInit(name, wt.values(), wt.dims());
        }
        return name;
    }

    private String scalar(String name, float value) {
        if (declared.add(name)) {
            root.floatInit(name, new float[] {value});
        }
        return name;
    }

    private String longScalar(String name, long value) {
        if (declared.add(name)) {
            root.longInit(name, new long[] {value});
        }
        return name;
    }

    private String longConst(String name, long... values) {
        if (declared.add(name)) {
            root.longInit(name, values, values.length);
        }
        return name;
    }

    private String c0() {
        return longScalar("zero", 0);
    }

    private String c1() {
        return longScalar("one_i64", 1);
    }
}
