package io.spindle.runtime.family.gpt2;

import ai.onnx.proto.OnnxMl.AttributeProto;
import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import com.google.protobuf.ByteString;
import io.spindle.runtime.demo.Gpt2Shape;
import io.spindle.runtime.demo.Gpt2Weights;
import io.spindle.runtime.demo.Gpt2Weights.Tensor;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Reads a GPT-2 export's weights onto GPT-2's parameters ({@link Gpt2Weights}), identifying each by the
 * node that consumes it, not by its name: the token and position embeddings are the constant tables
 * gathered by ids and positions (or {@code EmbedLayerNormalization}'s), the normalisations are the
 * {@code LayerNormalization}, {@code SkipLayerNormalization} and {@code EmbedLayerNormalization} nodes
 * in graph order (2 per block + ln_f), the projections the constant-weight {@code MatMul}/{@code Gemm}
 * (weights possibly behind a {@code Transpose}) and fused {@code Attention} nodes in graph order
 * (packed c_attn, c_proj, c_fc, mlp c_proj per block, then the LM head), a projection's bias the
 * constant {@code Add} after it, a {@code SkipLayerNormalization}'s bias input or a
 * {@code FastGelu}/{@code BiasGelu} bias input. Plain-op exports (Optimum, ONNX Runtime's GPT-2 export,
 * Spindle's demo layouts) and the fused-op form of ONNX Runtime's transformer optimizer both map.
 * Anything else (an op it does not know, such as rotary embeddings, RMS norms, quantised matmuls or a
 * merged decoder's {@code If}; a count or shape that does not fit; float16 or external weights) is
 * refused with the reason. What it cannot see (the attention's exact arithmetic in a plain graph) is
 * for the probe that compares the compiled graph with the export.
 */
final class Gpt2WeightsReader {
    /** Why an export's weights do not map onto GPT-2's parameters. */
    static final class NotMappable extends Exception {
        NotMappable(String message) {
            super(message);
        }
    }

    /** Ops a GPT-2 export may use around the nodes that carry weights. */
    private static final Set<String> PLAIN_OPS = Set.of("Gather", "Add", "Sub", "Mul", "Div", "MatMul", "Gemm",
            "LayerNormalization", "Split", "Reshape", "Transpose", "Concat", "Softmax", "Shape", "ConstantOfShape",
            "Squeeze", "Unsqueeze", "Trilu", "Cast", "Tanh", "Pow", "Sqrt", "Erf", "Constant", "Identity", "Slice",
            "Where", "Equal", "Range", "Expand", "Less", "LessOrEqual", "Greater", "GreaterOrEqual", "Flatten", "Max",
            "Min", "Not", "And", "Or", "Neg", "Abs");
    /** ONNX Runtime's contrib ops of its GPT-2 fusion. */
    private static final Set<String> FUSED_OPS = Set.of("EmbedLayerNormalization", "Attention",
            "SkipLayerNormalization", "FastGelu", "BiasGelu", "Gelu");
    /** Ops that only reshape or retype what flows through them. */
    private static final Set<String> PASS_THROUGH = Set.of("Reshape", "Identity", "Cast", "Squeeze", "Unsqueeze", "Flatten");

    private record Norm(int node, Tensor gamma, Tensor beta, Tensor skipBias, float epsilon, String output) {
    }

    private record Linear(int node, Tensor weight, Tensor bias, String input) {
    }

    private final GraphProto graph;
    private final List<NodeProto> nodes;
    private final Map<String, TensorProto> constants = new HashMap<>();
    private final Map<String, Integer> producer = new HashMap<>();
    private final Map<String, List<Integer>> consumers = new HashMap<>();
    private final int hidden;

    private Gpt2WeightsReader(GraphProto graph, int hidden) {
        this.graph = graph;
        this.nodes = graph.getNodeList();
        this.hidden = hidden;
        for (TensorProto t : graph.getInitializerList()) {
            constants.put(t.getName(), t);
        }
        for (int i = 0; i < nodes.size(); i++) {
            NodeProto n = nodes.get(i);
            for (String out : n.getOutputList()) {
                producer.put(out, i);
            }
            for (String in : n.getInputList()) {
                consumers.computeIfAbsent(in, k -> new ArrayList<>()).add(i);
            }
            if (n.getOpType().equals("Constant") && n.getAttributeCount() == 1 && n.getAttribute(0).hasT()) {
                constants.put(n.getOutput(0), n.getAttribute(0).getT());
            }
        }
    }

    /**
     * GPT-2's parameters in {@code model}, whose graph was recognised as a decoder of {@code graphInfo}'s
     * layers, heads and head size.
     */
    static Gpt2Weights read(ModelProto model, Gpt2Graph graphInfo) throws NotMappable {
        int hidden = graphInfo.numHeads() * graphInfo.headDim();
        return new Gpt2WeightsReader(model.getGraph(), hidden).read(graphInfo.numLayers(), graphInfo.numHeads());
    }

    private Gpt2Weights read(int numLayers, int numHeads) throws NotMappable {
        boolean fused = false;
        for (NodeProto n : nodes) {
            String domain = n.getDomain();
            boolean known = (domain.isEmpty() || domain.equals("ai.onnx")) && PLAIN_OPS.contains(n.getOpType())
                    || domain.equals("com.microsoft") && FUSED_OPS.contains(n.getOpType());
            if (!known) {
                throw new NotMappable("node '" + n.getName() + "' is " + (domain.isEmpty() ? "" : domain + ".")
                        + n.getOpType() + ", an op the GPT-2 mapping does not know"
                        + (n.getOpType().equals("If") ? " (a merged decoder: compile its decoder_with_past graph instead)" : ""));
            }
            fused |= n.getOpType().equals("Attention");
        }
        Tensor[] embeddings = embeddings();
        Tensor wte = embeddings[0];
        Tensor wpe = embeddings[1];
        if (wte.dims().length != 2 || wte.dims()[1] != hidden || wpe.dims().length != 2 || wpe.dims()[1] != hidden) {
            throw new NotMappable("embeddings " + wte + " and " + wpe + " do not have the hidden size " + hidden
                    + " of the cache (heads × head size)");
        }
        List<Norm> norms = norms();
        List<Linear> linears = linears(numHeads);
        int cores = 0;
        for (NodeProto n : nodes) {
            if (n.getOpType().equals(fused ? "Attention" : "Softmax")) {
                cores++;
            }
        }
        if (cores != numLayers) {
            throw new NotMappable(cores + " attention " + (fused ? "nodes" : "softmaxes") + " for " + numLayers
                    + " cache layers");
        }
        if (norms.size() != 2 * numLayers + 1) {
            throw new NotMappable(norms.size() + " layer normalisations for " + numLayers
                    + " blocks (expected ln_1 and ln_2 per block, then ln_f)");
        }
        if (linears.size() != 4 * numLayers + 1) {
            throw new NotMappable(linears.size() + " projections with constant weights for " + numLayers
                    + " blocks (expected packed c_attn, c_proj, c_fc and c_proj per block, then the LM head)");
        }
        float epsilon = norms.getFirst().epsilon();
        for (Norm n : norms) {
            if (Math.abs(n.epsilon() - epsilon) > 1e-3 * epsilon) {
                throw new NotMappable("layer normalisations with different epsilons (" + epsilon + ", " + n.epsilon() + ")");
            }
        }
        Gpt2Weights.Activation activation = null;
        List<Gpt2Weights.Layer> layers = new ArrayList<>();
        for (int i = 0; i < numLayers; i++) {
            String b = "block " + i + ": ";
            Norm ln1 = norms.get(2 * i);
            Norm ln2 = norms.get(2 * i + 1);
            Norm next = norms.get(2 * i + 2);
            Linear qkv = linears.get(4 * i);
            Linear proj = linears.get(4 * i + 1);
            Linear fc = linears.get(4 * i + 2);
            Linear out = linears.get(4 * i + 3);
            if (!(ln1.node() < qkv.node() && qkv.node() < proj.node() && proj.node() < ln2.node()
                    && ln2.node() < fc.node() && fc.node() < out.node() && out.node() < next.node())) {
                throw new NotMappable(b + "its normalisations and projections are not in GPT-2's order");
            }
            from(qkv, ln1, b + "c_attn");
            from(fc, ln2, b + "mlp.c_fc");
            check(b + "attn.c_attn.weight", qkv.weight(), hidden, 3L * hidden);
            check(b + "attn.c_proj.weight", proj.weight(), hidden, hidden);
            long inner = fc.weight().dims().length == 2 ? fc.weight().dims()[1] : -1;
            check(b + "mlp.c_fc.weight", fc.weight(), hidden, inner);
            check(b + "mlp.c_proj.weight", out.weight(), inner, hidden);
            Object[] act = activation(fc.node(), out.node(), b);
            Gpt2Weights.Activation a = (Gpt2Weights.Activation) act[0];
            if (activation != null && a != activation) {
                throw new NotMappable(b + "its GELU differs from the earlier blocks'");
            }
            activation = a;
            layers.add(new Gpt2Weights.Layer(ln1.gamma(), ln1.beta(),
                    qkv.weight(), bias(qkv.bias(), null, 3L * hidden, b + "attn.c_attn.bias"),
                    proj.weight(), bias(proj.bias(), ln2.skipBias(), hidden, b + "attn.c_proj.bias"),
                    ln2.gamma(), ln2.beta(),
                    fc.weight(), bias(fc.bias(), (Tensor) act[1], inner, b + "mlp.c_fc.bias"),
                    out.weight(), bias(out.bias(), next.skipBias(), hidden, b + "mlp.c_proj.bias")));
        }
        Norm lnF = norms.getLast();
        Linear head = linears.getLast();
        if (head.node() < lnF.node()) {
            throw new NotMappable("the LM head comes before ln_f");
        }
        from(head, lnF, "the LM head");
        if (head.bias() != null) {
            throw new NotMappable("the LM head has a bias, which GPT-2's has not");
        }
        if (!nodes.get(head.node()).getOutput(0).equals("logits")) {
            throw new NotMappable("the LM head's output is '" + nodes.get(head.node()).getOutput(0)
                    + "', not the graph's 'logits' (something follows it)");
        }
        check("the LM head", head.weight(), hidden, wte.dims()[0]);
        Tensor lmHead = head.weight();
        if (lmHead.raw().equals(wte.transposed().raw())) {
            lmHead = null;
        }
        Gpt2Shape shape = new Gpt2Shape(numLayers, hidden, numHeads, (int) wpe.dims()[0], (int) wte.dims()[0]);
        try {
            return new Gpt2Weights(shape, epsilon, activation, wte, wpe, layers, lnF.gamma(), lnF.beta(), lmHead);
        } catch (IllegalArgumentException e) {
            throw new NotMappable(e.getMessage());
        }
    }

    /** wte and wpe: EmbedLayerNormalization's tables, or the constant tables gathered by input_ids and position_ids. */
    private Tensor[] embeddings() throws NotMappable {
        Tensor wte = null;
        Tensor wpe = null;
        for (NodeProto n : nodes) {
            if (n.getOpType().equals("EmbedLayerNormalization")) {
                if (input(n, 1) != null || input(n, 4) != null) {
                    throw new NotMappable("EmbedLayerNormalization '" + n.getName() + "' has segment embeddings, which GPT-2 has not");
                }
                if (input(n, 8) == null) {
                    throw new NotMappable("EmbedLayerNormalization '" + n.getName() + "' takes no position ids");
                }
                return new Tensor[] {constant(n, 2), constant(n, 3)};
            }
            if (n.getOpType().equals("Gather") && weight(n.getInput(0)) != null) {
                Set<String> from = graphInputsBehind(n.getInput(1));
                Tensor table = weight(n.getInput(0));
                if (from.equals(Set.of("input_ids"))) {
                    if (wte != null) {
                        throw new NotMappable("two tables are gathered by input_ids");
                    }
                    wte = table;
                } else if (from.equals(Set.of("position_ids"))) {
                    if (wpe != null) {
                        throw new NotMappable("two tables are gathered by position_ids");
                    }
                    wpe = table;
                }
            }
        }
        if (wte == null || wpe == null) {
            throw new NotMappable("no " + (wte == null ? "token" : "position") + " embedding table (a constant gathered by "
                    + (wte == null ? "input_ids" : "position_ids") + ")");
        }
        return new Tensor[] {wte, wpe};
    }

    private List<Norm> norms() throws NotMappable {
        List<Norm> out = new ArrayList<>();
        for (int i = 0; i < nodes.size(); i++) {
            NodeProto n = nodes.get(i);
            switch (n.getOpType()) {
                case "LayerNormalization" -> {
                    long axis = intAttr(n, "axis", -1);
                    if (axis != -1) {
                        throw new NotMappable("LayerNormalization '" + n.getName() + "' normalises over axis " + axis);
                    }
                    out.add(new Norm(i, constant(n, 1), optional(n, 2), null, floatAttr(n, "epsilon", 1e-5f), n.getOutput(0)));
                }
                case "SkipLayerNormalization" -> out.add(new Norm(i, constant(n, 2), optional(n, 3), optional(n, 4),
                        floatAttr(n, "epsilon", 1e-12f), n.getOutput(0)));
                case "EmbedLayerNormalization" -> out.add(new Norm(i, constant(n, 5), constant(n, 6), null,
                        floatAttr(n, "epsilon", 1e-12f), n.getOutput(0)));
                default -> {
                }
            }
        }
        for (Norm n : out) {
            check("the normalisation at node " + nodes.get(n.node()).getName(), n.gamma(), hidden);
        }
        List<Norm> withBeta = new ArrayList<>();
        for (Norm n : out) {
            withBeta.add(n.beta() != null ? n : new Norm(n.node(), n.gamma(), Tensor.filled(0, hidden), n.skipBias(),
                    n.epsilon(), n.output()));
        }
        return withBeta;
    }

    /** The constant-weight projections in graph order: MatMul (+ constant Add), Gemm, fused Attention's QKV. */
    private List<Linear> linears(int numHeads) throws NotMappable {
        List<Linear> out = new ArrayList<>();
        for (int i = 0; i < nodes.size(); i++) {
            NodeProto n = nodes.get(i);
            switch (n.getOpType()) {
                case "MatMul" -> {
                    Tensor w = weight(n.getInput(1));
                    if (w != null) {
                        out.add(new Linear(i, w, addedBias(n.getOutput(0), w), n.getInput(0)));
                    }
                }
                case "Gemm" -> {
                    Tensor w = weight(n.getInput(1));
                    if (w == null) {
                        break;
                    }
                    if (intAttr(n, "transA", 0) != 0 || floatAttr(n, "alpha", 1) != 1 || floatAttr(n, "beta", 1) != 1) {
                        throw new NotMappable("Gemm '" + n.getName() + "' scales or transposes its input");
                    }
                    if (intAttr(n, "transB", 0) != 0) {
                        w = w.transposed();
                    }
                    Tensor b = optional(n, 2);
                    out.add(new Linear(i, w, b != null ? b : addedBias(n.getOutput(0), w), n.getInput(0)));
                }
                case "Attention" -> {
                    if (intAttr(n, "num_heads", -1) != numHeads) {
                        throw new NotMappable("Attention '" + n.getName() + "' has " + intAttr(n, "num_heads", -1)
                                + " heads, the cache " + numHeads);
                    }
                    if (intAttr(n, "unidirectional", 0) != 1) {
                        throw new NotMappable("Attention '" + n.getName() + "' is not unidirectional (causal)");
                    }
                    for (AttributeProto a : n.getAttributeList()) {
                        boolean scaleOk = a.getName().equals("scale")
                                && (a.getF() == 0 || Math.abs(a.getF() * Math.sqrt((double) hidden / numHeads) - 1) < 1e-6);
                        if (!Set.of("num_heads", "unidirectional", "mask_filter_value").contains(a.getName()) && !scaleOk
                                && !(a.getName().equals("past_present_share_buffer") && a.getI() == 0)
                                && !(a.getName().equals("do_rotary") && a.getI() == 0)) {
                            throw new NotMappable("Attention '" + n.getName() + "' has attribute " + a.getName()
                                    + ", which GPT-2's attention does not use");
                        }
                    }
                    for (int k : new int[] {5, 6, 7}) {
                        if (input(n, k) != null) {
                            throw new NotMappable("Attention '" + n.getName() + "' takes input " + k
                                    + " (attention bias or past sequence length), which the mapping does not know");
                        }
                    }
                    out.add(new Linear(i, constant(n, 1), optional(n, 2), n.getInput(0)));
                }
                default -> {
                }
            }
        }
        return out;
    }

    /** The constant added to a projection's output by the one node that reads it, if that is such an Add. */
    private Tensor addedBias(String output, Tensor weight) {
        List<Integer> readers = consumers.getOrDefault(output, List.of());
        if (readers.size() != 1) {
            return null;
        }
        NodeProto add = nodes.get(readers.getFirst());
        if (!add.getOpType().equals("Add")) {
            return null;
        }
        String other = add.getInput(0).equals(output) ? add.getInput(1) : add.getInput(0);
        Tensor b = weight(other);
        long out = weight.dims()[1];
        return b != null && b.hasDims(out) ? b : null;
    }

    /** The feed-forward's GELU between c_fc and mlp c_proj, and the c_fc bias a fused GELU adds. */
    private Object[] activation(int from, int to, String where) throws NotMappable {
        Set<String> ops = new HashSet<>();
        Gpt2Weights.Activation found = null;
        Tensor bias = null;
        for (int i = from + 1; i < to; i++) {
            NodeProto n = nodes.get(i);
            ops.add(n.getOpType());
            switch (n.getOpType()) {
                case "FastGelu" -> {
                    found = Gpt2Weights.Activation.GELU_TANH;
                    bias = optional(n, 1);
                }
                case "BiasGelu" -> {
                    found = Gpt2Weights.Activation.GELU_ERF;
                    bias = constant(n, 1);
                }
                case "Gelu" -> {
                    boolean tanh = n.getAttributeList().stream().anyMatch(a -> a.getName().equals("approximate")
                            && a.getS().toStringUtf8().equals("tanh"));
                    found = tanh ? Gpt2Weights.Activation.GELU_TANH : Gpt2Weights.Activation.GELU_ERF;
                }
                case "Tanh" -> found = found == null ? Gpt2Weights.Activation.GELU_TANH : found;
                case "Erf" -> found = found == null ? Gpt2Weights.Activation.GELU_ERF : found;
                default -> {
                }
            }
        }
        if (found == null) {
            throw new NotMappable(where + "no GELU between mlp.c_fc and mlp.c_proj (ops there: " + ops + ")");
        }
        return new Object[] {found, bias};
    }

    /** Requires that {@code linear} reads {@code norm}'s output, directly or through reshapes (or the logits gather). */
    private void from(Linear linear, Norm norm, String what) throws NotMappable {
        String t = linear.input();
        for (int hops = 0; hops < 8; hops++) {
            if (t.equals(norm.output())) {
                return;
            }
            Integer p = producer.get(t);
            if (p == null) {
                break;
            }
            NodeProto n = nodes.get(p);
            if (!PASS_THROUGH.contains(n.getOpType()) && !(n.getOpType().equals("Gather") && weight(n.getInput(0)) == null)) {
                break;
            }
            t = n.getInput(0);
        }
        throw new NotMappable(what + " does not read the normalisation before it");
    }

    /** Graph inputs that {@code tensor} is computed from. */
    private Set<String> graphInputsBehind(String tensor) {
        Set<String> inputs = new HashSet<>();
        Set<String> graphInputs = new HashSet<>();
        graph.getInputList().forEach(v -> graphInputs.add(v.getName()));
        List<String> todo = new ArrayList<>(List.of(tensor));
        Set<String> seen = new HashSet<>();
        while (!todo.isEmpty()) {
            String t = todo.removeLast();
            if (!seen.add(t) || t.isEmpty()) {
                continue;
            }
            if (graphInputs.contains(t) && !constants.containsKey(t)) {
                inputs.add(t);
            }
            Integer p = producer.get(t);
            if (p != null) {
                todo.addAll(nodes.get(p).getInputList());
            }
        }
        return inputs;
    }

    private static String input(NodeProto n, int k) {
        return k < n.getInputCount() && !n.getInput(k).isEmpty() ? n.getInput(k) : null;
    }

    private Tensor constant(NodeProto n, int k) throws NotMappable {
        Tensor t = optional(n, k);
        if (t == null) {
            throw new NotMappable(n.getOpType() + " '" + n.getName() + "': input " + k + " is not a constant");
        }
        return t;
    }

    private Tensor optional(NodeProto n, int k) throws NotMappable {
        String name = input(n, k);
        return name == null ? null : weight(name);
    }

    /** A float constant (initializer, Constant node, behind Identity), or a 2-D one behind Transpose [1, 0]. */
    private Tensor weight(String name) {
        TensorProto t = constants.get(name);
        if (t != null) {
            return tensor(t);
        }
        Integer p = producer.get(name);
        if (p == null) {
            return null;
        }
        NodeProto n = nodes.get(p);
        if (n.getOpType().equals("Identity")) {
            return weight(n.getInput(0));
        }
        if (n.getOpType().equals("Transpose")) {
            Tensor inner = weight(n.getInput(0));
            if (inner != null && inner.dims().length == 2) {
                return inner.transposed();
            }
        }
        return null;
    }

    private static Tensor tensor(TensorProto t) {
        if (t.getDataType() != TensorProto.DataType.FLOAT.getNumber()) {
            return null;
        }
        if (t.getDataLocation() == TensorProto.DataLocation.EXTERNAL) {
            throw new IllegalArgumentException("initializer '" + t.getName() + "' is stored as external data, which the mapping does not read");
        }
        long[] dims = t.getDimsList().stream().mapToLong(Long::longValue).toArray();
        if (!t.getRawData().isEmpty()) {
            return new Tensor(t.getRawData(), dims);
        }
        ByteBuffer b = ByteBuffer.allocate(t.getFloatDataCount() * Float.BYTES).order(ByteOrder.LITTLE_ENDIAN);
        t.getFloatDataList().forEach(b::putFloat);
        return new Tensor(ByteString.copyFrom(b.array()), dims);
    }

    private Tensor bias(Tensor own, Tensor fused, long size, String what) throws NotMappable {
        Tensor b = own == null ? fused : fused == null ? own : own.plus(fused);
        if (b == null) {
            return Tensor.filled(0, size);
        }
        check(what, b, size);
        return b;
    }

    private static void check(String what, Tensor t, long... dims) throws NotMappable {
        if (!t.hasDims(dims)) {
            throw new NotMappable(what + " is " + t + ", expected " + java.util.Arrays.toString(dims));
        }
    }

    private static long intAttr(NodeProto n, String name, long otherwise) {
        for (AttributeProto a : n.getAttributeList()) {
            if (a.getName().equals(name)) {
                return a.getI();
            }
        }
        return otherwise;
    }

    private static float floatAttr(NodeProto n, String name, float otherwise) {
        for (AttributeProto a : n.getAttributeList()) {
            if (a.getName().equals(name)) {
                return a.getF();
            }
        }
        return otherwise;
    }
}
