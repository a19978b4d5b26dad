package io.spindle.runtime.onnx;

import ai.onnx.proto.OnnxMl.AttributeProto;
import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.TensorProto;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * The per-position tail of a graph: the nodes between one tensor {@code entry} ([batch, seq, hidden])
 * and an output, each of which computes a position's result from that position's values alone
 * (matrix products with constant weights, float or quantized as ONNX Runtime's tools write them:
 * {@code MatMulNBits}, {@code MatMulInteger} after a {@code DynamicQuantizeLinear} whose scalar scale is
 * computed over the whole tensor as exported, per-tensor {@code QuantizeLinear}/{@code DequantizeLinear};
 * element-wise arithmetic with constants broadcast along the
 * last axis, GELU and its erf decomposition, layer normalisation and its ReduceMean decomposition over
 * the last axis). Running the tail on a subset of positions gives exactly those positions' outputs,
 * which is what lets a masked-LM head run at the masks only.
 *
 * <p>The walk goes back from the output in reverse topological order, taking a node into the tail when
 * it is per-position and nothing outside the tail reads what it produces; every time the tail reads
 * exactly one outside tensor, that tensor is a valid entry. The deepest valid entry is kept: for a
 * BERT fill-mask export that is the last layer's attention output, so its feed-forward block, final
 * layer norm and the MLM head (dense, GELU, layer norm, decoder) all run per mask. The walk stops at
 * the first node that mixes positions (attention's reshapes and products).
 */
public final class PerPositionTail {
    /** The tail found: its entry tensor and its nodes, as indices into the graph's node list. */
    public record Tail(String entry, Set<Integer> nodes, String summary) {
    }

    /** Why a graph has no usable tail, in words for the log. */
    public static final class NotRecognised extends Exception {
        NotRecognised(String reason) {
            super(reason);
        }
    }

    private static final Set<String> UNARY = Set.of("Erf", "Sqrt", "Tanh", "Relu", "Sigmoid", "Neg", "Reciprocal",
            "Identity", "Cast", "Exp", "Log", "Abs", "Softplus", "Gelu", "FastGelu", "BiasGelu", "QuickGelu", "Clip");
    private static final Set<String> BINARY = Set.of("Add", "Sub", "Mul", "Div", "Pow", "Max", "Min");
    private static final Set<String> LAYER_NORMS = Set.of("LayerNormalization", "SimplifiedLayerNormalization",
            "SkipLayerNormalization", "SkipSimplifiedLayerNormalization");
    /** The hidden states' last axis when written as a non-negative axis: BERT's are [batch, seq, hidden]. */
    private static final long HIDDEN_AXIS = 2;

    private final GraphProto graph;
    private final Map<String, Integer> producer = new HashMap<>();
    private final Map<String, List<Integer>> consumers = new HashMap<>();
    private final Set<String> constants = new HashSet<>();
    private final Map<String, long[]> constShapes = new HashMap<>();
    private final Map<String, TensorProto> constValues = new HashMap<>();
    private final Set<String> graphOutputs = new HashSet<>();

    private PerPositionTail(GraphProto graph) {
        this.graph = graph;
        for (TensorProto t : graph.getInitializerList()) {
            constants.add(t.getName());
            constValues.put(t.getName(), t);
            constShapes.put(t.getName(), t.getDimsList().stream().mapToLong(Long::longValue).toArray());
        }
        graph.getSparseInitializerList().forEach(s -> constants.add(s.getValues().getName()));
        graph.getOutputList().forEach(o -> graphOutputs.add(o.getName()));
        for (int i = 0; i < graph.getNodeCount(); i++) {
            NodeProto n = graph.getNode(i);
            for (String out : n.getOutputList()) {
                producer.put(out, i);
            }
            Set<String> reads = new HashSet<>(n.getInputList());
            for (AttributeProto a : n.getAttributeList()) {
                a.getGraphsList().forEach(sub -> namesReadIn(sub, reads));
                if (a.hasG()) {
                    namesReadIn(a.getG(), reads);
                }
            }
            reads.remove("");
            for (String in : reads) {
                consumers.computeIfAbsent(in, k -> new ArrayList<>()).add(i);
            }
            foldConstant(n);
        }
    }

    /** The deepest per-position tail ending at {@code output}, or why there is none. */
    public static Tail find(GraphProto graph, String output) throws NotRecognised {
        return new PerPositionTail(graph).walk(output);
    }

    private Tail walk(String output) throws NotRecognised {
        Set<Integer> tail = new HashSet<>();
        Set<String> reads = new HashSet<>(Set.of(output));
        Tail found = null;
        String stop;
        while (true) {
            if (reads.size() == 1 && !reads.contains(output)) {
                String entry = reads.iterator().next();
                found = new Tail(entry, Set.copyOf(tail), summary(tail));
            }
            String next = null;
            int at = -1;
            for (String t : reads) {
                int p = producer.getOrDefault(t, -1);
                if (p > at) {
                    at = p;
                    next = t;
                }
            }
            if (next == null) {
                stop = "it reaches the graph input(s) " + reads;
                break;
            }
            NodeProto n = graph.getNode(at);
            String why = whyNotPerPosition(n);
            if (why == null) {
                why = readOutside(n, at, tail, output);
            }
            if (why != null) {
                stop = "'" + next + "' comes from " + describe(n) + ", " + why;
                break;
            }
            tail.add(at);
            n.getOutputList().forEach(reads::remove);
            for (String in : n.getInputList()) {
                if (!in.isEmpty() && !constants.contains(in)) {
                    reads.add(in);
                }
            }
        }
        if (found == null || found.nodes().isEmpty()) {
            throw new NotRecognised("no per-position tail ends at '" + output + "': " + stop);
        }
        return found;
    }

    /** Null when something outside the tail reads one of {@code n}'s outputs, else what does. */
    private String readOutside(NodeProto n, int index, Set<Integer> tail, String output) {
        for (String out : n.getOutputList()) {
            if (graphOutputs.contains(out) && !out.equals(output)) {
                return "whose output '" + out + "' is also a graph output";
            }
            for (int c : consumers.getOrDefault(out, List.of())) {
                if (c != index && !tail.contains(c)) {
                    return "whose output '" + out + "' is also read by " + describe(graph.getNode(c));
                }
            }
        }
        return null;
    }

    /** Null when {@code n} computes each position from that position alone, else why not. */
    private String whyNotPerPosition(NodeProto n) {
        String op = n.getOpType();
        if (n.getAttributeList().stream().anyMatch(a -> a.hasG() || a.getGraphsCount() > 0)) {
            return "which has subgraphs";
        }
        if (UNARY.contains(op) || BINARY.contains(op)) {
            return constantsBroadcastPerPosition(n, 0);
        }
        if (op.equals("MatMul") || op.equals("Gemm")) {
            if (n.getInputCount() < 2 || constants.contains(n.getInput(0)) || !constants.contains(n.getInput(1))) {
                return "which is not a product with constant weights";
            }
            long[] w = constShapes.get(n.getInput(1));
            if (w == null || w.length != 2) {
                return "whose weights are not a known [in, out] matrix";
            }
            if (op.equals("Gemm") && intAttr(n, "transA", 0) != 0) {
                return "which transposes its input";
            }
            return constantsBroadcastPerPosition(n, 2);
        }
        if (op.equals("MatMulNBits") && n.getDomain().equals("com.microsoft")) {
            // Block-quantized weights ([N, k_blocks, blob] and their scales) applied row by row.
            for (int i = 1; i < n.getInputCount(); i++) {
                if (!n.getInput(i).isEmpty() && !constants.contains(n.getInput(i))) {
                    return "whose quantized weights are not constant";
                }
            }
            return constants.contains(n.getInput(0)) ? "which is not a product with constant weights" : null;
        }
        if (op.equals("MatMulInteger")) {
            long[] w = constShapes.get(n.getInput(1));
            if (constants.contains(n.getInput(0)) || !constants.contains(n.getInput(1)) || w == null || w.length != 2) {
                return "which is not a product with a constant [in, out] integer matrix";
            }
            return constantsBroadcastPerPosition(n, 2);
        }
        if (op.equals("QuantizeLinear") || op.equals("DequantizeLinear")) {
            if (intAttr(n, "block_size", 0) != 0) {
                return "which quantizes in blocks";
            }
            for (int i = 1; i < n.getInputCount(); i++) {
                long[] shape = constShapes.get(n.getInput(i));
                if (!n.getInput(i).isEmpty() && (!constants.contains(n.getInput(i)) || shape == null
                        || shape.length > 1 || shape.length == 1 && shape[0] != 1 && !lastAxis(intAttr(n, "axis", 1)))) {
                    return "whose scale or zero point is not one constant per tensor or per hidden unit";
                }
            }
            return null;
        }
        if (LAYER_NORMS.contains(op)) {
            long axis = intAttr(n, "axis", -1);
            if (axis != -1 && axis != HIDDEN_AXIS) {
                return "which normalises over axis " + axis + ", not the last";
            }
            return constantsBroadcastPerPosition(n, 0);
        }
        if (op.equals("ReduceMean")) {
            long[] axes = reduceAxes(n);
            if (intAttr(n, "keepdims", 1) != 1 || axes == null || axes.length != 1
                    || (axes[0] != -1 && axes[0] != HIDDEN_AXIS)) {
                return "which does not reduce the last axis alone, keeping it";
            }
            return null;
        }
        return "which is not a per-position operation";
    }

    /** Null when every constant input from {@code from} on has a known shape that varies along the last axis at most. */
    private String constantsBroadcastPerPosition(NodeProto n, int from) {
        for (int i = from; i < n.getInputCount(); i++) {
            String in = n.getInput(i);
            if (in.isEmpty() || !constants.contains(in)) {
                continue;
            }
            long[] shape = constShapes.get(in);
            if (shape == null) {
                return "whose constant input '" + in + "' has an unknown shape";
            }
            for (int d = 0; d < shape.length - 1; d++) {
                if (shape[d] != 1) {
                    return "whose constant input '" + in + "' varies along more than the last axis";
                }
            }
        }
        return null;
    }

    private long[] reduceAxes(NodeProto n) {
        for (AttributeProto a : n.getAttributeList()) {
            if (a.getName().equals("axes")) {
                return a.getIntsList().stream().mapToLong(Long::longValue).toArray();
            }
        }
        if (n.getInputCount() > 1 && !n.getInput(1).isEmpty()) {
            return longs(constValues.get(n.getInput(1)));
        }
        return null;
    }

    private static boolean lastAxis(long axis) {
        return axis == -1 || axis == HIDDEN_AXIS;
    }

    /**
     * Marks {@code n}'s outputs constant when all it reads is constant, with their shape when it is easy to know.
     * "Constant" means the same for every position: a {@code DynamicQuantizeLinear}'s scale and zero point
     * are scalars over the whole tensor it quantizes, so the products that read them still compute each
     * position from that position's quantized values alone (the quantized values are then the entry, and
     * the scalar is computed over every position as in the export).
     */
    private void foldConstant(NodeProto n) {
        String op = n.getOpType();
        if (op.equals("DynamicQuantizeLinear") && n.getOutputCount() == 3) {
            for (String scalar : List.of(n.getOutput(1), n.getOutput(2))) {
                constants.add(scalar);
                constShapes.put(scalar, new long[0]);
            }
            return;
        }
        if (op.equals("Constant")) {
            for (AttributeProto a : n.getAttributeList()) {
                if (a.getName().equals("value") && a.hasT()) {
                    constValues.put(n.getOutput(0), a.getT());
                    constShapes.put(n.getOutput(0), a.getT().getDimsList().stream().mapToLong(Long::longValue).toArray());
                } else if (a.getName().equals("value_float") || a.getName().equals("value_int")) {
                    constShapes.put(n.getOutput(0), new long[0]);
                }
            }
            constants.addAll(n.getOutputList());
            return;
        }
        List<String> ins = n.getInputList().stream().filter(s -> !s.isEmpty()).toList();
        if (ins.isEmpty() || !constants.containsAll(ins) || op.startsWith("Random") || op.equals("Multinomial")
                || op.equals("Bernoulli") || n.getAttributeList().stream().anyMatch(a -> a.hasG() || a.getGraphsCount() > 0)) {
            return;
        }
        constants.addAll(n.getOutputList());
        long[] shape = constShapes.get(ins.get(0));
        if (shape == null || n.getOutputCount() != 1) {
            return;
        }
        if (op.equals("Transpose")) {
            long[] perm = null;
            for (AttributeProto a : n.getAttributeList()) {
                if (a.getName().equals("perm")) {
                    perm = a.getIntsList().stream().mapToLong(Long::longValue).toArray();
                }
            }
            long[] out = new long[shape.length];
            for (int d = 0; d < shape.length; d++) {
                out[d] = shape[perm == null ? shape.length - 1 - d : (int) perm[d]];
            }
            constShapes.put(n.getOutput(0), out);
        } else if (UNARY.contains(op) && ins.size() == 1 || op.equals("DequantizeLinear")) {
            constShapes.put(n.getOutput(0), shape);
        } else if (BINARY.contains(op) && ins.size() == 2 && constShapes.containsKey(ins.get(1))) {
            long[] b = broadcast(shape, constShapes.get(ins.get(1)));
            if (b != null) {
                constShapes.put(n.getOutput(0), b);
            }
        }
    }

    private static long[] broadcast(long[] a, long[] b) {
        long[] out = new long[Math.max(a.length, b.length)];
        for (int i = 0; i < out.length; i++) {
            long x = i < out.length - a.length ? 1 : a[i - (out.length - a.length)];
            long y = i < out.length - b.length ? 1 : b[i - (out.length - b.length)];
            if (x != y && x != 1 && y != 1) {
                return null;
            }
            out[i] = Math.max(x, y);
        }
        return out;
    }

    private static long[] longs(TensorProto t) {
        if (t == null || t.getDataType() != TensorProto.DataType.INT64.getNumber()) {
            return null;
        }
        if (t.getInt64DataCount() > 0) {
            return t.getInt64DataList().stream().mapToLong(Long::longValue).toArray();
        }
        ByteBuffer raw = t.getRawData().asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
        long[] out = new long[raw.remaining() / Long.BYTES];
        raw.asLongBuffer().get(out);
        return out;
    }

    private static long intAttr(NodeProto n, String name, long otherwise) {
        for (AttributeProto a : n.getAttributeList()) {
            if (a.getName().equals(name)) {
                return a.getI();
            }
        }
        return otherwise;
    }

    private static void namesReadIn(GraphProto sub, Set<String> into) {
        for (NodeProto n : sub.getNodeList()) {
            into.addAll(n.getInputList());
            for (AttributeProto a : n.getAttributeList()) {
                a.getGraphsList().forEach(g -> namesReadIn(g, into));
                if (a.hasG()) {
                    namesReadIn(a.getG(), into);
                }
            }
        }
    }

    private static String describe(NodeProto n) {
        return n.getOpType() + " node" + (n.getName().isEmpty() ? "" : " '" + n.getName() + "'");
    }

    /** The tail's operators and their counts, e.g. {@code MatMul×4, Add×9}, for the log. */
    private String summary(Set<Integer> tail) {
        Map<String, Integer> ops = new TreeMap<>();
        tail.forEach(i -> ops.merge(graph.getNode(i).getOpType(), 1, Integer::sum));
        StringBuilder s = new StringBuilder();
        ops.forEach((op, c) -> s.append(s.isEmpty() ? "" : ", ").append(op).append('×').append(c));
        return s.toString();
    }
}
