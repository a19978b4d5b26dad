package io.spindle.runtime.onnx;

import ai.onnx.proto.OnnxMl.AttributeProto;
import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.OperatorSetIdProto;
import ai.onnx.proto.OnnxMl.StringStringEntryProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import ai.onnx.proto.OnnxMl.TensorShapeProto;
import ai.onnx.proto.OnnxMl.TypeProto;
import ai.onnx.proto.OnnxMl.ValueInfoProto;

import java.util.HashSet;
import java.util.Set;

/**
 * Rewrites a graph so that its head (a masked-LM head; a decoder's last feed-forward, final norm and
 * LM head) runs at chosen positions only: the entry of the graph's per-position tail (see {@link PerPositionTail}), [batch, seq, hidden], is flattened to
 * [batch·seq, hidden] and gathered at the flat indices fed as {@value #INPUT} ([1, n], int64), giving
 * [1, n, hidden]; the tail runs on that, so {@code logits} becomes [1, n, vocab] instead of
 * [batch, seq, vocab]. The leading 1 keeps every tail tensor at the rank the export was made for
 * (axis-2 layer norms, [1, 1, hidden] constants). Nothing else in the graph changes.
 */
public final class GatherRewrite {
    /** The added input: flat indices {@code row · seq + position} of the positions whose logits are wanted. */
    public static final String INPUT = "spindle_gather_index";
    /** Bump when the rewrite's output changes, so that cached rewrites of older versions are rebuilt. */
    public static final String VERSION = "head-gather-v1";

    private static final String FLAT = "spindle_gather_flat";
    private static final String GATHERED = "spindle_gathered";

    private GatherRewrite() {
    }

    /** The rewritten model and the tail it gathers before, for the log. */
    public record Rewritten(ModelProto model, PerPositionTail.Tail tail) {
    }

    public static Rewritten rewrite(ModelProto model, String output) throws PerPositionTail.NotRecognised {
        GraphProto g = model.getGraph();
        if (g.getInputList().stream().anyMatch(i -> i.getName().equals(INPUT))) {
            throw new PerPositionTail.NotRecognised("the graph already has an input '" + INPUT + "'");
        }
        if (g.getInitializerList().stream().anyMatch(t -> t.getDataLocation() == TensorProto.DataLocation.EXTERNAL)) {
            throw new PerPositionTail.NotRecognised("its weights live in external data files, which the rewrite "
                    + "does not copy");
        }
        long opset = model.getOpsetImportList().stream()
                .filter(o -> o.getDomain().isEmpty() || o.getDomain().equals("ai.onnx"))
                .mapToLong(OperatorSetIdProto::getVersion).max().orElse(0);
        if (opset < 11) {
            throw new PerPositionTail.NotRecognised("its opset " + opset + " is older than 11 (Flatten on a negative axis)");
        }
        PerPositionTail.Tail tail = PerPositionTail.find(g, output);
        String entry = tail.entry();
        int after = -1;
        for (int i = 0; i < g.getNodeCount(); i++) {
            if (g.getNode(i).getOutputList().contains(entry)) {
                after = i;
            }
        }
        GraphProto.Builder out = g.toBuilder().clearNode();
        if (after < 0) {
            addGather(out, entry);
        }
        Set<String> tailTensors = new HashSet<>();
        for (int i = 0; i < g.getNodeCount(); i++) {
            NodeProto n = g.getNode(i);
            if (tail.nodes().contains(i)) {
                NodeProto.Builder b = n.toBuilder();
                for (int k = 0; k < b.getInputCount(); k++) {
                    if (b.getInput(k).equals(entry)) {
                        b.setInput(k, GATHERED);
                    }
                }
                out.addNode(b);
                tailTensors.addAll(n.getOutputList());
            } else {
                out.addNode(n);
            }
            if (i == after) {
                addGather(out, entry);
            }
        }
        out.addInput(ValueInfoProto.newBuilder().setName(INPUT).setType(tensorType(TensorProto.DataType.INT64,
                dim(1), dim("num_gathered"))));
        // Shapes recorded for the tail's tensors described [batch, seq, …]; they are [1, n, …] now.
        out.clearValueInfo();
        g.getValueInfoList().stream().filter(v -> !tailTensors.contains(v.getName())).forEach(out::addValueInfo);
        for (int o = 0; o < out.getOutputCount(); o++) {
            if (out.getOutput(o).getName().equals(output)) {
                out.setOutput(o, gatheredOutput(out.getOutput(o)));
            }
        }
        ModelProto rewritten = model.toBuilder().setGraph(out)
                .addMetadataProps(StringStringEntryProto.newBuilder().setKey("spindle.rewrite").setValue(VERSION))
                .addMetadataProps(StringStringEntryProto.newBuilder().setKey("spindle.rewrite.entry").setValue(entry))
                .build();
        return new Rewritten(rewritten, tail);
    }

    private static void addGather(GraphProto.Builder g, String entry) {
        g.addNode(NodeProto.newBuilder().setOpType("Flatten").setName("spindle_gather_flatten").addInput(entry)
                .addOutput(FLAT).addAttribute(AttributeProto.newBuilder().setName("axis")
                        .setType(AttributeProto.AttributeType.INT).setI(-1)));
        g.addNode(NodeProto.newBuilder().setOpType("Gather").setName("spindle_gather").addInput(FLAT).addInput(INPUT)
                .addOutput(GATHERED).addAttribute(AttributeProto.newBuilder().setName("axis")
                        .setType(AttributeProto.AttributeType.INT).setI(0)));
    }

    /** [1, n, vocab], keeping the vocabulary size the export declared. */
    private static ValueInfoProto gatheredOutput(ValueInfoProto v) {
        if (!v.getType().hasTensorType()) {
            return v;
        }
        TypeProto.Tensor t = v.getType().getTensorType();
        int rank = t.getShape().getDimCount();
        TensorShapeProto.Dimension last = rank > 0 ? t.getShape().getDim(rank - 1) : dim("vocab");
        TypeProto.Tensor.Builder b = t.toBuilder().setShape(TensorShapeProto.newBuilder().addDim(dim(1))
                .addDim(dim("num_gathered")).addDim(last));
        return v.toBuilder().setType(TypeProto.newBuilder().setTensorType(b)).build();
    }

    private static TypeProto tensorType(TensorProto.DataType type, TensorShapeProto.Dimension... dims) {
        TensorShapeProto.Builder shape = TensorShapeProto.newBuilder();
        for (TensorShapeProto.Dimension d : dims) {
            shape.addDim(d);
        }
        return TypeProto.newBuilder().setTensorType(TypeProto.Tensor.newBuilder().setElemType(type.getNumber())
                .setShape(shape)).build();
    }

    private static TensorShapeProto.Dimension dim(long value) {
        return TensorShapeProto.Dimension.newBuilder().setDimValue(value).build();
    }

    private static TensorShapeProto.Dimension dim(String param) {
        return TensorShapeProto.Dimension.newBuilder().setDimParam(param).build();
    }
}
