package io.spindle.runtime.onnx;

import ai.onnx.proto.OnnxMl.AttributeProto;
import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import com.google.protobuf.CodedInputStream;
import com.google.protobuf.WireFormat;

import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * What a graph's weight projections are stored as: each matrix product with constant weights
 * ({@code MatMul}/{@code Gemm} over a float initializer, directly or through a {@code Transpose}; a
 * {@code DequantizeLinear} of an integer initializer feeding one (QDQ); {@code MatMulInteger} and ONNX
 * Runtime's fused forms of it; {@code MatMulNBits}; the fused {@code Attention}'s packed projection)
 * counted by its {@link Kind}. Embedding tables read by {@code Gather} are not projections and are not
 * counted. Read from the graph file without its weights' bytes ({@link #read}), so that a 500 MB graph
 * costs the heap its nodes, not its size.
 *
 * @param kinds how many projections of each kind, most first
 */
public record WeightFormat(List<Count> kinds) {
    /** One way of storing a projection's weights. {@code block} is 0 where the scheme has no blocks. */
    public record Kind(int bits, boolean floating, String scheme, int block) {
        /** Short, for the API: {@code float32}, {@code int8}, {@code int4}. */
        public String precision() {
            return (floating ? "float" : "int") + bits;
        }

        @Override
        public String toString() {
            if (floating) {
                return precision();
            }
            return precision() + " (" + scheme + (block > 0 ? ", block " + block : "") + ")";
        }
    }

    public record Count(Kind kind, int count) {
    }

    public static final Kind FLOAT32 = new Kind(32, true, "", 0);
    public static final Kind FLOAT16 = new Kind(16, true, "", 0);

    /**
     * The format in a word or two for {@code /v1/models}: the quantized precisions present
     * ({@code int4}, {@code int8}, {@code int4+int8}) when any projection is quantized (a float LM head
     * beside int4 blocks is still an int4 model; {@link #describe} has the counts), else the float
     * precision(s), {@code unknown} when no projection was found.
     */
    public String name() {
        List<String> quantized = kinds.stream().filter(c -> !c.kind().floating())
                .map(c -> c.kind()).sorted(Comparator.comparingInt(Kind::bits))
                .map(Kind::precision).distinct().toList();
        if (!quantized.isEmpty()) {
            return String.join("+", quantized);
        }
        List<String> floats = kinds.stream().map(c -> c.kind().precision()).distinct().sorted().toList();
        return floats.isEmpty() ? "unknown" : String.join("+", floats);
    }

    /** For the log, e.g. {@code int4 (MatMulNBits, block 32) ×9, float32 ×1}. */
    public String describe() {
        if (kinds.isEmpty()) {
            return "no projection with constant weights found";
        }
        StringBuilder s = new StringBuilder();
        for (Count c : kinds) {
            s.append(s.isEmpty() ? "" : ", ").append(c.kind()).append(" ×").append(c.count());
        }
        return s.toString();
    }

    /** True when some projection is stored in integers. */
    public boolean quantized() {
        return kinds.stream().anyMatch(c -> !c.kind().floating());
    }

    /**
     * The format of the graph in {@code file}, reading its nodes and its initializers' names and types
     * but skipping their data (heap: the nodes, not the weights).
     */
    public static WeightFormat read(Path file) throws IOException {
        Map<String, Integer> types = new HashMap<>();
        List<NodeProto> nodes = new ArrayList<>();
        try (InputStream in = new BufferedInputStream(Files.newInputStream(file), 1 << 16)) {
            CodedInputStream model = CodedInputStream.newInstance(in);
            model.setSizeLimit(Integer.MAX_VALUE);
            for (int tag; (tag = model.readTag()) != 0; ) {
                if (WireFormat.getTagFieldNumber(tag) != MODEL_GRAPH) {
                    model.skipField(tag);
                    continue;
                }
                int limit = model.pushLimit(model.readRawVarint32());
                for (int g; (g = model.readTag()) != 0; ) {
                    switch (WireFormat.getTagFieldNumber(g)) {
                        case GRAPH_NODE -> nodes.add(NodeProto.parseFrom(model.readBytes()));
                        case GRAPH_INITIALIZER -> {
                            int t = model.pushLimit(model.readRawVarint32());
                            String name = "";
                            int type = 0;
                            for (int f; (f = model.readTag()) != 0; ) {
                                switch (WireFormat.getTagFieldNumber(f)) {
                                    case TENSOR_DATA_TYPE -> type = model.readInt32();
                                    case TENSOR_NAME -> name = model.readString();
                                    default -> model.skipField(f);
                                }
                            }
                            model.popLimit(t);
                            types.put(name, type);
                        }
                        default -> model.skipField(g);
                    }
                }
                model.popLimit(limit);
            }
        }
        return of(nodes, types);
    }

    /** The format of a model served from several graphs (T5's encoder and decoders): their counts summed. */
    public static WeightFormat combine(List<WeightFormat> graphs) {
        Map<Kind, Integer> counts = new HashMap<>();
        for (WeightFormat g : graphs) {
            for (Count c : g.kinds()) {
                counts.merge(c.kind(), c.count(), Integer::sum);
            }
        }
        return new WeightFormat(counts.entrySet().stream().map(e -> new Count(e.getKey(), e.getValue()))
                .sorted(Comparator.comparingInt(Count::count).reversed().thenComparing(c -> c.kind().toString())).toList());
    }

    /** The format of an already parsed graph. */
    public static WeightFormat of(GraphProto graph) {
        Map<String, Integer> types = new HashMap<>();
        graph.getInitializerList().forEach(t -> types.put(t.getName(), t.getDataType()));
        return of(graph.getNodeList(), types);
    }

    private static final int MODEL_GRAPH = 7;
    private static final int GRAPH_NODE = 1;
    private static final int GRAPH_INITIALIZER = 5;
    private static final int TENSOR_DATA_TYPE = 2;
    private static final int TENSOR_NAME = 8;

    private static WeightFormat of(List<NodeProto> nodes, Map<String, Integer> initializerTypes) {
        Map<Kind, Integer> counts = new TreeMap<>(Comparator.comparing(Kind::toString));
        new Scan(counts).graph(nodes, new HashMap<>(initializerTypes));
        List<Count> kinds = new ArrayList<>();
        counts.forEach((k, c) -> kinds.add(new Count(k, c)));
        kinds.sort(Comparator.comparingInt(Count::count).reversed());
        return new WeightFormat(List.copyOf(kinds));
    }

    /** Counts projections in one graph and its subgraphs (which see the outer graph's constants). */
    private record Scan(Map<Kind, Integer> counts) {
        void graph(List<NodeProto> nodes, Map<String, Integer> constants) {
            Map<String, NodeProto> producer = new HashMap<>();
            for (NodeProto n : nodes) {
                n.getOutputList().forEach(o -> producer.put(o, n));
                if (n.getOpType().equals("Constant")) {
                    for (AttributeProto a : n.getAttributeList()) {
                        if (a.hasT()) {
                            constants.put(n.getOutput(0), a.getT().getDataType());
                        }
                    }
                }
            }
            for (NodeProto n : nodes) {
                for (AttributeProto a : n.getAttributeList()) {
                    List<GraphProto> subs = new ArrayList<>(a.getGraphsList());
                    if (a.hasG()) {
                        subs.add(a.getG());
                    }
                    for (GraphProto sub : subs) {
                        Map<String, Integer> inner = new HashMap<>(constants);
                        sub.getInitializerList().forEach(t -> inner.put(t.getName(), t.getDataType()));
                        graph(sub.getNodeList(), inner);
                    }
                }
                Kind k = kind(n, constants, producer);
                if (k != null) {
                    counts.merge(k, 1, Integer::sum);
                }
            }
        }

        private static Kind kind(NodeProto n, Map<String, Integer> constants, Map<String, NodeProto> producer) {
            String domain = n.getDomain();
            boolean plain = domain.isEmpty() || domain.equals("ai.onnx");
            boolean ms = domain.equals("com.microsoft");
            String op = n.getOpType();
            if (n.getInputCount() < 2) {
                return null;
            }
            String b = n.getInput(1);
            if (plain && (op.equals("MatMul") || op.equals("Gemm")) || ms && op.equals("Attention")) {
                return weightOf(b, constants, producer);
            }
            if (plain && op.equals("MatMulInteger") || ms && (op.equals("MatMulIntegerToFloat")
                    || op.equals("DynamicQuantizeMatMul") || op.equals("QAttention"))) {
                return constants.containsKey(b) ? new Kind(8, false, "MatMulInteger", 0) : null;
            }
            if (plain && op.equals("QLinearMatMul") || ms && op.equals("QGemm")) {
                return n.getInputCount() > 3 && constants.containsKey(n.getInput(3)) ? new Kind(8, false, op, 0) : null;
            }
            if (ms && op.equals("MatMulNBits")) {
                return new Kind((int) attr(n, "bits", 4), false, "MatMulNBits", (int) attr(n, "block_size", 0));
            }
            return null;
        }

        /** The kind of weights {@code b} holds: a float constant (maybe transposed or cast) or a dequantized integer one. */
        private static Kind weightOf(String b, Map<String, Integer> constants, Map<String, NodeProto> producer) {
            for (int hops = 0; hops < 4; hops++) {
                Integer type = constants.get(b);
                if (type != null) {
                    return type == TensorProto.DataType.FLOAT.getNumber() ? FLOAT32
                            : type == TensorProto.DataType.FLOAT16.getNumber() ? FLOAT16
                            : type == TensorProto.DataType.BFLOAT16.getNumber() ? new Kind(16, true, "bfloat16", 0) : null;
                }
                NodeProto p = producer.get(b);
                if (p == null || p.getInputCount() == 0) {
                    return null;
                }
                if (p.getOpType().equals("DequantizeLinear")) {
                    Integer q = constants.get(p.getInput(0));
                    return q == null ? null : switch (TensorProto.DataType.forNumber(q)) {
                        case INT8, UINT8 -> new Kind(8, false, "QDQ", (int) attr(p, "block_size", 0));
                        case INT4, UINT4 -> new Kind(4, false, "QDQ", (int) attr(p, "block_size", 0));
                        case INT16, UINT16 -> new Kind(16, false, "QDQ", 0);
                        case null, default -> null;
                    };
                }
                if (!List.of("Transpose", "Cast", "Identity", "Reshape").contains(p.getOpType())) {
                    return null;
                }
                b = p.getInput(0);
            }
            return null;
        }

        private static long attr(NodeProto n, String name, long otherwise) {
            for (AttributeProto a : n.getAttributeList()) {
                if (a.getName().equals(name)) {
                    return a.getI();
                }
            }
            return otherwise;
        }
    }
}
