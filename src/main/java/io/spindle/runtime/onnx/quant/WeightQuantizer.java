package io.spindle.runtime.onnx.quant;

import ai.onnx.proto.OnnxMl.AttributeProto;
import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.OperatorSetIdProto;
import ai.onnx.proto.OnnxMl.StringStringEntryProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import com.google.protobuf.ByteString;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Rewrites the weight products of an ONNX graph into ONNX Runtime's quantized contrib ops, in the JVM:
 * <ul>
 *   <li>{@code MatMul(A, W)} with W a float32 rank-2 initializer [K, N], or the {@code Transpose} of
 *       one (a tied LM head: {@code h · wteᵀ}), and {@code Gemm(A, W, c)} with constant W (transB 0 or
 *       1, alpha = beta = 1, no transA) become {@code com.microsoft.MatMulNBits} (K, N, bits,
 *       block_size, accuracy_level; B uint8 [N, k_blocks, block·bits/8], scales [N·k_blocks], zero
 *       points packed uint8 when asymmetric; Gemm's c goes into MatMulNBits' bias input), or with
 *       {@code int8-dynamic} {@code com.microsoft.DynamicQuantizeMatMul} (B int8 [K, N], one symmetric
 *       scale per output column, no zero point; c into its bias input);</li>
 *   <li>with {@link QuantizeSettings#embeddings()}, {@code Gather(E, ids)} on a float32 rank-2
 *       initializer [V, H] becomes {@code com.microsoft.GatherBlockQuantized} reading E's MatMulNBits
 *       codes as 3-D data [V, H/block, block·bits/8] (quantize_axis 2), followed by a Reshape to
 *       [..., H].</li>
 * </ul>
 * Nodes inside subgraphs ({@code If} branches of merged decoders) are rewritten too; a weight shared by
 * several products is quantized once, and a tied embedding table's codes serve both its Gather and the
 * LM head. A float initializer is removed once nothing reads it any more;
 * one that still has float consumers (GPT-2's tied {@code wte}: the embedding Gather when embeddings
 * are not quantized) stays. The LM head is the product whose output reaches a tensor named
 * {@code *logits} through at most a few shape-only or bias ops; {@code lm-head=no} keeps it float.
 * What is not quantized and why goes into {@link Result#leftAsIs()}: activation × activation products
 * (attention) are not weights and are not listed.
 *
 * <p>Graphs whose weights live in external data files are returned unchanged (with the reason in
 * leftAsIs): the quantizer reads initializers from the protobuf only. float16 weights are left as
 * they are, each listed.
 *
 * <p>Why int8 is {@code MatMulNBits} with bits = 8 and not the {@code DynamicQuantizeLinear +
 * MatMulInteger} form that ONNX Runtime's {@code quantize_dynamic} writes (measured,
 * {@code load-tests/results/quantize/}): the dynamic form quantizes each activation tensor with one
 * scale, and on the trained all-MiniLM-L6-v2 that costs the quality target — minimum cosine
 * vs float32 over the fixed 30 inputs 0.849 with per-tensor weights, 0.974 with per-channel weights,
 * against 0.998 for 8-bit blocks of 32 (whose kernel, at accuracy level 4, quantizes activations per
 * block of 32 too). The dynamic form is the faster one on the gpt2-124m shape (per channel: batch 32
 * about 2×, prefill 1.5×, batch 1 1.45× faster than 8-bit blocks), which the results file reports; the
 * quality target comes first, so {@code int8} is the block form and the dynamic form, per channel,
 * is offered apart as {@code int8-dynamic} for serving many streams at once. The defaults of {@link QuantizeSettings} (asymmetric, block 32, accuracy
 * level 4, LM head quantized) are argued from the same measurements there.
 */
public final class WeightQuantizer {
    /** Bump when the output for given settings changes, so that cached quantized graphs are rebuilt. */
    public static final String VERSION = "quant-v2";
    public static final String MS_DOMAIN = "com.microsoft";
    /** The model metadata entry naming the quantizer version and settings, e.g. "quant-v2 int4-b32-asym-acc4-head". */
    public static final String METADATA_KEY = "spindle.quantize";
    /** Products with a shorter K are not worth a block (and ONNX Runtime wants block_size ≥ 16). */
    static final int MIN_K = 16;
    private static final Set<String> PASS_THROUGH = Set.of("Add", "Reshape", "Identity", "Cast", "Squeeze",
            "Unsqueeze", "Flatten");

    /**
     * How each block's scale and zero point are chosen. Spindle serves {@link #SEARCH}; round to
     * nearest stays for the before/after measurements in {@code load-tests/results/quantize/quality.md}.
     */
    public enum Scales {
        /** The block's range as it is, so every weight is within |scale| / 2 of its value (quant-v1). */
        ROUND_TO_NEAREST,
        /**
         * A clipped range found by a per-block search for the smallest squared reconstruction error,
         * with least-squares scales for the chosen codes (quant-v2): a clipped weight may be off by
         * more than |scale| / 2, the block as a whole never more than round to nearest.
         */
        SEARCH
    }

    private WeightQuantizer() {
    }

    /**
     * @param quantizedMatMuls       MatMul and Gemm nodes now MatMulNBits
     * @param quantizedGathers       Gather nodes now GatherBlockQuantized
     * @param floatWeightBytesBefore bytes of all float32 initializers before
     * @param weightBytesAfter       bytes of all initializers after (quantized codes, scales, zero points,
     *                               and the float initializers that stayed)
     * @param leftAsIs               one line per float weight not quantized, with the reason
     */
    public record Result(ModelProto model, int quantizedMatMuls, int quantizedGathers, long floatWeightBytesBefore,
                         long weightBytesAfter, List<String> leftAsIs) {
    }

    public static Result quantize(ModelProto model, QuantizeSettings settings) {
        return quantize(model, settings, Scales.SEARCH);
    }

    /** {@link #quantize(ModelProto, QuantizeSettings)} with the given scale method (for measurements). */
    public static Result quantize(ModelProto model, QuantizeSettings settings, Scales scales) {
        GraphProto g = model.getGraph();
        long before = floatBytes(g);
        if (!settings.enabled()) {
            return new Result(model, 0, 0, before, initializerBytes(g), List.of());
        }
        if (g.getInitializerList().stream().anyMatch(t -> t.getDataLocation() == TensorProto.DataLocation.EXTERNAL)) {
            return new Result(model, 0, 0, before, initializerBytes(g), List.of("all weights: they live in external "
                    + "data files, which the quantizer does not read; quantize the export with ONNX Runtime's tools"));
        }
        Rewrite r = new Rewrite(g, settings, scales);
        GraphProto.Builder main = g.toBuilder();
        r.rewrite(main);
        r.prune(main);
        Map<String, Integer> uses = new HashMap<>();
        countUses(main.build(), uses);
        for (TensorProto t : r.added) {
            // A table read only by Gathers leaves its MatMulNBits-shaped scales and zero points unread.
            if (uses.containsKey(t.getName())) {
                main.addInitializer(t);
            }
        }
        GraphProto out = main.build();
        ModelProto.Builder m = model.toBuilder().setGraph(out);
        if (r.matMuls + r.gathers > 0 && m.getOpsetImportList().stream().noneMatch(o -> o.getDomain().equals(MS_DOMAIN))) {
            m.addOpsetImport(OperatorSetIdProto.newBuilder().setDomain(MS_DOMAIN).setVersion(1));
        }
        // One entry per key: a graph quantized again (its float leftovers) says what was done last.
        List<StringStringEntryProto> props = m.getMetadataPropsList().stream()
                .filter(p -> !p.getKey().equals(METADATA_KEY)).toList();
        m.clearMetadataProps().addAllMetadataProps(props).addMetadataProps(StringStringEntryProto.newBuilder()
                .setKey(METADATA_KEY).setValue(VERSION + " " + settings.cacheTag()));
        return new Result(m.build(), r.matMuls, r.gathers, before, initializerBytes(out), List.copyOf(r.leftAsIs));
    }

    private static long floatBytes(GraphProto g) {
        return g.getInitializerList().stream().filter(t -> t.getDataType() == TensorProto.DataType.FLOAT_VALUE)
                .mapToLong(WeightQuantizer::bytes).sum();
    }

    private static long initializerBytes(GraphProto g) {
        return g.getInitializerList().stream().mapToLong(WeightQuantizer::bytes).sum();
    }

    private static long bytes(TensorProto t) {
        if (t.getDataLocation() == TensorProto.DataLocation.EXTERNAL) {
            return 0;
        }
        return t.getRawData().size() + 4L * t.getFloatDataCount() + 8L * t.getInt64DataCount()
                + 4L * t.getInt32DataCount() + 8L * t.getDoubleDataCount();
    }

    /** The state of one rewrite: the main graph's initializers, what was added and what was replaced. */
    private static final class Rewrite {
        private final QuantizeSettings s;
        private final Scales scales;
        private final Map<String, TensorProto> inits = new HashMap<>();
        /** Output of a 2-D Transpose of an initializer → that initializer. */
        private final Map<String, String> transposed = new HashMap<>();
        /** "name|t|kind" → the quantized tensors' names, so a shared weight is quantized once. */
        private final Map<String, String[]> done = new HashMap<>();
        private final List<TensorProto> added = new ArrayList<>();
        private final Set<String> replaced = new HashSet<>();
        private final Set<String> leftAsIs = new LinkedHashSet<>();
        private final Set<String> names = new HashSet<>();
        private int matMuls;
        private int gathers;

        Rewrite(GraphProto g, QuantizeSettings s, Scales scales) {
            this.s = s;
            this.scales = scales;
            for (TensorProto t : g.getInitializerList()) {
                inits.put(t.getName(), t);
            }
            collectNames(g);
        }

        private void collectNames(GraphProto g) {
            g.getInitializerList().forEach(t -> names.add(t.getName()));
            g.getInputList().forEach(v -> names.add(v.getName()));
            for (NodeProto n : g.getNodeList()) {
                names.addAll(n.getOutputList());
                for (AttributeProto a : n.getAttributeList()) {
                    if (a.hasG()) {
                        collectNames(a.getG());
                    }
                    a.getGraphsList().forEach(this::collectNames);
                }
                if (n.getOpType().equals("Transpose") && n.getDomain().isEmpty() && n.getInputCount() == 1
                        && isFloat2d(inits.get(n.getInput(0)))) {
                    AttributeProto perm = attr(n, "perm");
                    if (perm == null || (perm.getIntsCount() == 2 && perm.getInts(0) == 1 && perm.getInts(1) == 0)) {
                        transposed.put(n.getOutput(0), n.getInput(0));
                    }
                }
            }
        }

        void rewrite(GraphProto.Builder g) {
            Map<String, List<NodeProto>> consumers = consumers(g);
            Set<String> outputs = new HashSet<>();
            g.getOutputList().forEach(o -> outputs.add(o.getName()));
            for (int i = 0; i < g.getNodeCount(); i++) {
                NodeProto n = g.getNode(i);
                NodeProto replacement = null;
                if (n.getDomain().isEmpty() && n.getOpType().equals("MatMul") && n.getInputCount() == 2) {
                    replacement = matMul(n, n.getInput(1), false, null, consumers);
                } else if (n.getDomain().isEmpty() && n.getOpType().equals("Gemm")) {
                    replacement = gemm(n, consumers);
                } else if (n.getDomain().isEmpty() && n.getOpType().equals("Gather") && s.embeddings()) {
                    List<NodeProto> nodes = gather(n);
                    if (nodes != null) {
                        g.setNode(i, nodes.getFirst());
                        for (int j = 1; j < nodes.size(); j++) {
                            g.addNode(i + j, nodes.get(j));
                        }
                        i += nodes.size() - 1;
                        continue;
                    }
                }
                if (replacement == null && hasSubgraph(n)) {
                    NodeProto.Builder b = n.toBuilder();
                    for (AttributeProto.Builder a : b.getAttributeBuilderList()) {
                        if (a.hasG()) {
                            rewrite(a.getGBuilder());
                        }
                        for (GraphProto.Builder sub : a.getGraphsBuilderList()) {
                            rewrite(sub);
                        }
                    }
                    replacement = b.build();
                }
                if (replacement != null) {
                    g.setNode(i, replacement);
                }
            }
        }

        /** The weight behind a product's second input: [initializer name, "t" when transposed], or null. */
        private String[] weightOf(String input) {
            if (inits.containsKey(input)) {
                return new String[] {input, ""};
            }
            String t = transposed.get(input);
            return t == null ? null : new String[] {t, "t"};
        }

        private NodeProto matMul(NodeProto n, String bInput, boolean transB, String bias,
                                 Map<String, List<NodeProto>> consumers) {
            String[] w = weightOf(bInput);
            if (w == null) {
                return null;
            }
            TensorProto t = inits.get(w[0]);
            boolean stored = w[1].equals("t") ^ transB; // stored as [N, K]
            if (!usable(t, n)) {
                return null;
            }
            int rows = (int) t.getDims(0);
            int cols = (int) t.getDims(1);
            int k = stored ? cols : rows;
            int nOut = stored ? rows : cols;
            if (k < MIN_K) {
                leftAsIs.add(w[0] + ": K = " + k + " is below " + MIN_K);
                return null;
            }
            if (!s.lmHead() && isLmHead(n.getOutput(0), consumers)) {
                leftAsIs.add(w[0] + ": the LM head (lm-head=no)");
                return null;
            }
            if (s.format() == QuantizeSettings.Format.INT8_DYNAMIC) {
                String[] q = perColumn(t, stored, k, nOut);
                NodeProto.Builder b = NodeProto.newBuilder().setOpType("DynamicQuantizeMatMul").setDomain(MS_DOMAIN)
                        .setName(n.getName().isEmpty() ? unique(n.getOutput(0) + "_DynamicQuantizeMatMul") : n.getName() + "_Q8d")
                        .addInput(n.getInput(0)).addInput(q[0]).addInput(q[1]).addOutput(n.getOutput(0));
                if (bias != null) {
                    // No zero point: the weights are symmetric.
                    b.addInput("").addInput(bias);
                }
                matMuls++;
                return b.build();
            }
            String[] q = packed(t, stored, k, nOut);
            NodeProto.Builder b = NodeProto.newBuilder().setOpType("MatMulNBits").setDomain(MS_DOMAIN)
                    .setName(n.getName().isEmpty() ? unique(n.getOutput(0) + "_MatMulNBits") : n.getName() + "_Q" + s.bits())
                    .addInput(n.getInput(0)).addInput(q[0]).addInput(q[1]).addOutput(n.getOutput(0))
                    .addAttribute(intAttr("K", k)).addAttribute(intAttr("N", nOut)).addAttribute(intAttr("bits", s.bits()))
                    .addAttribute(intAttr("block_size", s.blockSize()))
                    .addAttribute(intAttr("accuracy_level", s.accuracyLevel()));
            if (!q[2].isEmpty() || bias != null) {
                b.addInput(q[2]);
            }
            if (bias != null) {
                b.addInput("").addInput(bias);
            }
            matMuls++;
            return b.build();
        }

        /**
         * The MatMulNBits tensors of weight {@code t} (B [N, k_blocks, block·bits/8], scales [N·k_blocks],
         * packed zero points or "") as [B, scales, zero points], quantized on first use: {@code stored}
         * when t is stored [N, K] (a transposed use, or an embedding table read by Gather).
         */
        private String[] packed(TensorProto t, boolean stored, int k, int nOut) {
            String key = t.getName() + "|" + stored + "|mm";
            String[] q = done.get(key);
            if (q == null) {
                float[] v = floats(t);
                BlockQuantizer.Source src = stored ? (c, r) -> v[c * k + r] : (c, r) -> v[r * nOut + c];
                BlockQuantizer.Packed p = BlockQuantizer.quantize(src, nOut, k, s.bits(), s.blockSize(), s.symmetric(),
                        scales);
                String base = unique(t.getName() + (stored ? "_T" : "") + "_Q" + s.bits());
                q = new String[] {base, base + "_scales", p.zeroPoints() == null ? "" : base + "_zero_points"};
                added.add(bytesTensor(q[0], p.data(), nOut, p.kBlocks(), p.blockBytes()));
                added.add(floatTensor(q[1], p.scales(), (long) nOut * p.kBlocks()));
                if (p.zeroPoints() != null) {
                    added.add(bytesTensor(q[2], p.zeroPoints(), (long) nOut * p.zpBytesPerColumn()));
                }
                done.put(key, q);
                replaced.add(t.getName());
            }
            return q;
        }

        /**
         * {@code DynamicQuantizeMatMul}'s tensors of weight {@code t}, quantized on first use: B int8
         * [K, N] and one symmetric scale per output column, max |w| / 127 ([N]).
         */
        private String[] perColumn(TensorProto t, boolean stored, int k, int nOut) {
            String key = t.getName() + "|" + stored + "|dq";
            String[] q = done.get(key);
            if (q == null) {
                float[] v = floats(t);
                float[] scale = new float[nOut];
                for (int r = 0; r < k; r++) {
                    for (int c = 0; c < nOut; c++) {
                        scale[c] = Math.max(scale[c], Math.abs(stored ? v[c * k + r] : v[r * nOut + c]));
                    }
                }
                for (int c = 0; c < nOut; c++) {
                    scale[c] = scale[c] == 0 ? 1 : scale[c] / 127;
                }
                byte[] data = new byte[k * nOut];
                for (int r = 0; r < k; r++) {
                    for (int c = 0; c < nOut; c++) {
                        float x = stored ? v[c * k + r] : v[r * nOut + c];
                        data[r * nOut + c] = (byte) Math.max(-127, Math.min(127, Math.round(x / scale[c])));
                    }
                }
                String base = unique(t.getName() + (stored ? "_T" : "") + "_Q8d");
                q = new String[] {base, base + "_scale"};
                added.add(TensorProto.newBuilder().setName(q[0]).setDataType(TensorProto.DataType.INT8_VALUE)
                        .addDims(k).addDims(nOut).setRawData(com.google.protobuf.ByteString.copyFrom(data)).build());
                added.add(floatTensor(q[1], scale, nOut));
                done.put(key, q);
                replaced.add(t.getName());
            }
            return q;
        }

        private NodeProto gemm(NodeProto n, Map<String, List<NodeProto>> consumers) {
            if (n.getInputCount() < 2 || weightOf(n.getInput(1)) == null) {
                return null;
            }
            String[] w = weightOf(n.getInput(1));
            AttributeProto alpha = attr(n, "alpha");
            AttributeProto beta = attr(n, "beta");
            AttributeProto transA = attr(n, "transA");
            AttributeProto transB = attr(n, "transB");
            if ((alpha != null && alpha.getF() != 1f) || (transA != null && transA.getI() != 0)) {
                leftAsIs.add(w[0] + ": Gemm with alpha ≠ 1 or transA");
                return null;
            }
            String bias = null;
            if (n.getInputCount() > 2 && !n.getInput(2).isEmpty()) {
                TensorProto c = inits.get(n.getInput(2));
                TensorProto t = inits.get(w[0]);
                long nOut = t == null || t.getDimsCount() != 2 ? -1
                        : (transB != null && transB.getI() == 1) ^ w[1].equals("t") ? t.getDims(0) : t.getDims(1);
                if (c == null || c.getDataType() != TensorProto.DataType.FLOAT_VALUE || count(c) != nOut
                        || (beta != null && beta.getF() != 1f)) {
                    leftAsIs.add(w[0] + ": Gemm whose C is not a constant [N] bias with beta = 1");
                    return null;
                }
                bias = c.getDimsCount() == 1 ? c.getName() : unique(c.getName() + "_1d");
                if (c.getDimsCount() != 1 && done.putIfAbsent(bias, new String[0]) == null) {
                    added.add(c.toBuilder().setName(bias).clearDims().addDims(nOut).build());
                    replaced.add(c.getName());
                }
            }
            return matMul(n, n.getInput(1), transB != null && transB.getI() == 1, bias, consumers);
        }

        /**
         * {@code Gather(E, ids)} → {@code GatherBlockQuantized} reading E's MatMulNBits tensors: B
         * [V, H/block, block·bits/8] is, byte for byte, E quantized row by row in blocks along H, which
         * GatherBlockQuantized reads as 3-D data quantized along its last axis (one block per row of that
         * axis); a tied LM head ({@code h · Eᵀ}, the same table stored [N, K]) therefore shares B instead
         * of quantizing the table a second time. Only the scales and zero points are copied, in the
         * shape GatherBlockQuantized wants ([V, H/block, 1], one zero point per byte); a Reshape turns the
         * [..., H/block, block] rows back into [..., H].
         */
        private List<NodeProto> gather(NodeProto n) {
            if (n.getInputCount() != 2 || !inits.containsKey(n.getInput(0))) {
                return null;
            }
            TensorProto t = inits.get(n.getInput(0));
            if (!usable(t, n)) {
                return null;
            }
            AttributeProto axis = attr(n, "axis");
            if (axis != null && axis.getI() != 0) {
                leftAsIs.add(t.getName() + ": Gather on axis " + axis.getI());
                return null;
            }
            int v = (int) t.getDims(0);
            int h = (int) t.getDims(1);
            if (h % s.blockSize() != 0) {
                leftAsIs.add(t.getName() + ": embedding width " + h + " is not a multiple of the block size "
                        + s.blockSize() + " (GatherBlockQuantized stores no padding)");
                return null;
            }
            String[] q = packed(t, true, h, v);
            String[] g = done.get(t.getName() + "|gather");
            int kBlocks = h / s.blockSize();
            if (g == null) {
                String base = unique(t.getName() + "_GQ" + s.bits());
                g = new String[] {base + "_scales", q[2].isEmpty() ? "" : base + "_zero_points", base + "_width"};
                added.add(floatTensor(g[0], floats(addedTensor(q[1])), v, kBlocks, 1));
                if (!q[2].isEmpty()) {
                    byte[] packedZp = addedTensor(q[2]).getRawData().toByteArray();
                    int perRow = (kBlocks * s.bits() + 7) / 8;
                    byte[] zp = new byte[v * kBlocks];
                    for (int row = 0; row < v; row++) {
                        for (int b = 0; b < kBlocks; b++) {
                            zp[row * kBlocks + b] = s.bits() == 8 ? packedZp[row * perRow + b]
                                    : (byte) ((packedZp[row * perRow + b / 2] >> (4 * (b & 1))) & 0x0F);
                        }
                    }
                    added.add(bytesTensor(g[1], zp, v, kBlocks, 1));
                }
                added.add(TensorProto.newBuilder().setName(g[2]).setDataType(TensorProto.DataType.INT64_VALUE).addDims(1)
                        .addInt64Data(h).build());
                done.put(t.getName() + "|gather", g);
            }
            String out = n.getOutput(0);
            String blocks = unique(out + "_blocks");
            String idsShape = unique(out + "_ids_shape");
            String shape = unique(out + "_shape");
            String name = n.getName().isEmpty() ? unique(out + "_GatherBlockQuantized") : n.getName() + "_Q" + s.bits();
            NodeProto.Builder b = NodeProto.newBuilder().setOpType("GatherBlockQuantized").setDomain(MS_DOMAIN)
                    .setName(name).addInput(q[0]).addInput(n.getInput(1)).addInput(g[0]).addOutput(blocks)
                    .addAttribute(intAttr("gather_axis", 0)).addAttribute(intAttr("quantize_axis", 2))
                    .addAttribute(intAttr("block_size", s.blockSize())).addAttribute(intAttr("bits", s.bits()));
            if (!g[1].isEmpty()) {
                b.addInput(g[1]);
            }
            gathers++;
            return List.of(b.build(),
                    NodeProto.newBuilder().setOpType("Shape").setName(name + "_ids_shape").addInput(n.getInput(1))
                            .addOutput(idsShape).build(),
                    NodeProto.newBuilder().setOpType("Concat").setName(name + "_shape").addInput(idsShape).addInput(g[2])
                            .addOutput(shape).addAttribute(intAttr("axis", 0)).build(),
                    NodeProto.newBuilder().setOpType("Reshape").setName(name + "_rows").addInput(blocks).addInput(shape)
                            .addOutput(out).build());
        }

        private TensorProto addedTensor(String name) {
            return added.stream().filter(t -> t.getName().equals(name)).findFirst().orElseThrow();
        }

        /** Float32 and rank 2 with data in the protobuf; anything else is listed and skipped. */
        private boolean usable(TensorProto t, NodeProto n) {
            if (t.getDataType() == TensorProto.DataType.FLOAT16_VALUE || t.getDataType() == TensorProto.DataType.BFLOAT16_VALUE) {
                leftAsIs.add(t.getName() + ": a 16-bit float weight (only float32 weights are quantized)");
                return false;
            }
            if (t.getDataType() != TensorProto.DataType.FLOAT_VALUE) {
                return false;
            }
            if (t.getDimsCount() != 2) {
                leftAsIs.add(t.getName() + ": rank " + t.getDimsCount() + " weight of " + n.getOpType());
                return false;
            }
            if (t.getDims(0) > Integer.MAX_VALUE / 2 || t.getDims(1) > Integer.MAX_VALUE / 2
                    || t.getDims(0) * t.getDims(1) > Integer.MAX_VALUE / 2) {
                leftAsIs.add(t.getName() + ": too large for one Java array");
                return false;
            }
            return true;
        }

        /** Whether a product's output reaches a {@code *logits} tensor through bias and shape-only ops. */
        private boolean isLmHead(String out, Map<String, List<NodeProto>> consumers) {
            String name = out;
            for (int depth = 0; depth < 4; depth++) {
                if (name.endsWith("logits")) {
                    return true;
                }
                List<NodeProto> next = consumers.getOrDefault(name, List.of());
                if (next.size() != 1 || !PASS_THROUGH.contains(next.getFirst().getOpType())) {
                    return false;
                }
                name = next.getFirst().getOutput(0);
            }
            return name.endsWith("logits");
        }

        /** Drops the Transposes and initializers that only fed rewritten products. */
        void prune(GraphProto.Builder main) {
            Map<String, Integer> uses = new HashMap<>();
            countUses(main.build(), uses);
            List<NodeProto> kept = new ArrayList<>();
            boolean droppedTranspose = false;
            Set<String> gone = new HashSet<>();
            for (NodeProto n : main.getNodeList()) {
                if (transposed.containsKey(n.getOutput(0)) && uses.getOrDefault(n.getOutput(0), 0) == 0
                        && replaced.contains(n.getInput(0))) {
                    droppedTranspose = true;
                    gone.add(n.getOutput(0));
                    continue;
                }
                kept.add(n);
            }
            if (droppedTranspose) {
                main.clearNode().addAllNode(kept);
                uses.clear();
                countUses(main.build(), uses);
            }
            for (String r : replaced) {
                if (uses.getOrDefault(r, 0) == 0) {
                    gone.add(r);
                }
            }
            List<TensorProto> keep = main.getInitializerList().stream().filter(t -> !gone.contains(t.getName())).toList();
            main.clearInitializer().addAllInitializer(keep);
            // Old exports (IR < 4) also list initializers as graph inputs: a removed one would become a required input.
            var inputs = main.getInputList().stream().filter(v -> !gone.contains(v.getName())).toList();
            main.clearInput().addAllInput(inputs);
            var infos = main.getValueInfoList().stream().filter(v -> !gone.contains(v.getName())).toList();
            main.clearValueInfo().addAllValueInfo(infos);
            describeFloatLeft(main.build());
        }

        /** Names the readers of every rank-2 float weight that stays float and was not listed yet. */
        private void describeFloatLeft(GraphProto g) {
            Set<String> listed = new HashSet<>();
            leftAsIs.forEach(line -> listed.add(line.substring(0, line.indexOf(':'))));
            Map<String, Set<String>> readers = new HashMap<>();
            readers(g, readers);
            for (TensorProto t : g.getInitializerList()) {
                if (isFloat2d(t) && !listed.contains(t.getName()) && readers.containsKey(t.getName())) {
                    Set<String> ops = readers.get(t.getName());
                    String why = ops.equals(Set.of("Gather")) ? "an embedding table (embeddings=no)"
                            : "read by " + String.join(", ", new java.util.TreeSet<>(ops))
                            + ", which the quantizer does not rewrite";
                    leftAsIs.add(t.getName() + ": " + why);
                }
            }
        }

        private static void readers(GraphProto g, Map<String, Set<String>> out) {
            for (NodeProto n : g.getNodeList()) {
                String op = n.getDomain().isEmpty() ? n.getOpType() : n.getDomain() + "." + n.getOpType();
                for (String in : n.getInputList()) {
                    out.computeIfAbsent(in, x -> new java.util.TreeSet<>()).add(op);
                }
                for (AttributeProto a : n.getAttributeList()) {
                    if (a.hasG()) {
                        readers(a.getG(), out);
                    }
                    a.getGraphsList().forEach(sub -> readers(sub, out));
                }
            }
        }

        private String unique(String base) {
            String name = base;
            for (int i = 1; names.contains(name); i++) {
                name = base + "_" + i;
            }
            names.add(name);
            return name;
        }
    }

    private static boolean hasSubgraph(NodeProto n) {
        return n.getAttributeList().stream().anyMatch(a -> a.hasG() || a.getGraphsCount() > 0);
    }

    /** Every node input and graph output, in this graph and its subgraphs (outer-scope names included). */
    private static void countUses(GraphProto g, Map<String, Integer> uses) {
        for (NodeProto n : g.getNodeList()) {
            for (String in : n.getInputList()) {
                uses.merge(in, 1, Integer::sum);
            }
            for (AttributeProto a : n.getAttributeList()) {
                if (a.hasG()) {
                    countUses(a.getG(), uses);
                }
                a.getGraphsList().forEach(sub -> countUses(sub, uses));
            }
        }
        g.getOutputList().forEach(o -> uses.merge(o.getName(), 1, Integer::sum));
    }

    private static Map<String, List<NodeProto>> consumers(GraphProto.Builder g) {
        Map<String, List<NodeProto>> c = new HashMap<>();
        for (NodeProto n : g.getNodeList()) {
            for (String in : n.getInputList()) {
                c.computeIfAbsent(in, x -> new ArrayList<>()).add(n);
            }
        }
        return c;
    }

    private static boolean isFloat2d(TensorProto t) {
        return t != null && t.getDataType() == TensorProto.DataType.FLOAT_VALUE && t.getDimsCount() == 2;
    }

    private static AttributeProto attr(NodeProto n, String name) {
        return n.getAttributeList().stream().filter(a -> a.getName().equals(name)).findFirst().orElse(null);
    }

    private static long count(TensorProto t) {
        long c = 1;
        for (long d : t.getDimsList()) {
            c *= d;
        }
        return c;
    }

    static float[] floats(TensorProto t) {
        int n = Math.toIntExact(count(t));
        float[] out = new float[n];
        if (!t.getRawData().isEmpty()) {
            t.getRawData().asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(out);
        } else {
            for (int i = 0; i < n; i++) {
                out[i] = t.getFloatData(i);
            }
        }
        return out;
    }

    private static TensorProto bytesTensor(String name, byte[] data, long... dims) {
        TensorProto.Builder b = TensorProto.newBuilder().setName(name).setDataType(TensorProto.DataType.UINT8_VALUE)
                .setRawData(ByteString.copyFrom(data));
        for (long d : dims) {
            b.addDims(d);
        }
        return b.build();
    }

    private static TensorProto floatTensor(String name, float[] values, long... dims) {
        ByteBuffer buf = ByteBuffer.allocate(values.length * Float.BYTES).order(ByteOrder.LITTLE_ENDIAN);
        buf.asFloatBuffer().put(values);
        TensorProto.Builder b = TensorProto.newBuilder().setName(name).setDataType(TensorProto.DataType.FLOAT_VALUE)
                .setRawData(ByteString.copyFrom(buf.array()));
        for (long d : dims) {
            b.addDims(d);
        }
        return b.build();
    }

    private static AttributeProto intAttr(String name, long value) {
        return AttributeProto.newBuilder().setName(name).setType(AttributeProto.AttributeType.INT).setI(value).build();
    }
}
