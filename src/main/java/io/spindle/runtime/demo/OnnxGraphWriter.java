package io.spindle.runtime.demo;

import ai.onnx.proto.OnnxMl;
import ai.onnx.proto.OnnxMl.AttributeProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import ai.onnx.proto.OnnxMl.TensorShapeProto;
import ai.onnx.proto.OnnxMl.TypeProto;
import ai.onnx.proto.OnnxMl.ValueInfoProto;
import com.google.protobuf.ByteString;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;

/**
 * A thin, typed helper over the ONNX protobuf classes: named nodes, initializers and graph I/O.
 * Node output names are generated from a counter, so a builder reads like straight-line code.
 */
final class OnnxGraphWriter {
    static final int OPSET = 17;

    private final OnnxMl.GraphProto.Builder graph = OnnxMl.GraphProto.newBuilder();
    private int counter;

    private final String prefix;

    OnnxGraphWriter(String name) {
        this(name, "");
    }

    /**
     * @param prefix starts every generated name, so that a subgraph's names cannot shadow its outer
     *               graph's (ONNX forbids it)
     */
    OnnxGraphWriter(String name, String prefix) {
        graph.setName(name);
        this.prefix = prefix;
    }

    /** Adds a node with one output and returns that output's name. */
    String op(String opType, List<String> inputs, AttributeProto... attributes) {
        String out = prefix + opType.toLowerCase() + "_" + (counter++);
        opInto(opType, inputs, List.of(out), attributes);
        return out;
    }

    /** An ONNX Runtime contrib op (domain {@code com.microsoft}); empty names skip optional inputs and outputs. */
    void contribInto(String opType, List<String> inputs, List<String> outputs, AttributeProto... attributes) {
        usesContribOps = true;
        node(CONTRIB_DOMAIN, opType, inputs, outputs, attributes);
    }

    static final String CONTRIB_DOMAIN = "com.microsoft";
    private boolean usesContribOps;

    void opInto(String opType, List<String> inputs, List<String> outputs, AttributeProto... attributes) {
        node("", opType, inputs, outputs, attributes);
    }

    private void node(String domain, String opType, List<String> inputs, List<String> outputs,
                      AttributeProto... attributes) {
        NodeProto.Builder node = NodeProto.newBuilder()
                .setOpType(opType)
                .setName(prefix + opType + "_n" + (counter++))
                .addAllInput(inputs)
                .addAllOutput(outputs);
        if (!domain.isEmpty()) {
            node.setDomain(domain);
        }
        for (AttributeProto a : attributes) {
            node.addAttribute(a);
        }
        graph.addNode(node);
    }

    String floatInit(String name, float[] values, long... dims) {
        ByteBuffer buf = ByteBuffer.allocate(values.length * Float.BYTES).order(ByteOrder.LITTLE_ENDIAN);
        buf.asFloatBuffer().put(values);
        graph.addInitializer(TensorProto.newBuilder().setName(name).setDataType(TensorProto.DataType.FLOAT.getNumber())
                .addAllDims(box(dims)).setRawData(ByteString.copyFrom(buf.array())));
        return name;
    }

    /** A float initializer over a tensor's raw data (shared, not copied). */
    String init(String name, Gpt2Weights.Tensor t) {
        graph.addInitializer(TensorProto.newBuilder().setName(name).setDataType(TensorProto.DataType.FLOAT.getNumber())
                .addAllDims(box(t.dims())).setRawData(t.raw()));
        return name;
    }

    /** The values of a float initializer added earlier. */
    float[] floats(String name) {
        for (TensorProto t : graph.getInitializerList()) {
            if (t.getName().equals(name)) {
                float[] out = new float[t.getRawData().size() / Float.BYTES];
                t.getRawData().asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(out);
                return out;
            }
        }
        throw new IllegalArgumentException("no initializer " + name);
    }

    /** A float scalar tensor, e.g. for a Constant node's value. */
    static TensorProto floatTensor(float value) {
        ByteBuffer buf = ByteBuffer.allocate(Float.BYTES).order(ByteOrder.LITTLE_ENDIAN).putFloat(0, value);
        return TensorProto.newBuilder().setDataType(TensorProto.DataType.FLOAT.getNumber())
                .setRawData(ByteString.copyFrom(buf.array())).build();
    }

    String longInit(String name, long[] values, long... dims) {
        ByteBuffer buf = ByteBuffer.allocate(values.length * Long.BYTES).order(ByteOrder.LITTLE_ENDIAN);
        buf.asLongBuffer().put(values);
        graph.addInitializer(TensorProto.newBuilder().setName(name).setDataType(TensorProto.DataType.INT64.getNumber())
                .addAllDims(box(dims)).setRawData(ByteString.copyFrom(buf.array())));
        return name;
    }

    String scalar(String name, float value) {
        return floatInit(name, new float[] {value});
    }

    void input(String name, TensorProto.DataType type, Object... dims) {
        graph.addInput(valueInfo(name, type, dims));
    }

    void output(String name, TensorProto.DataType type, Object... dims) {
        graph.addOutput(valueInfo(name, type, dims));
    }

    /** This graph as a protobuf, e.g. to be an {@code If} node's branch. */
    OnnxMl.GraphProto build() {
        return graph.build();
    }

    static AttributeProto graphAttr(String name, OnnxMl.GraphProto value) {
        return AttributeProto.newBuilder().setName(name).setType(AttributeProto.AttributeType.GRAPH).setG(value).build();
    }

    void writeModel(OutputStream out, String producer) throws IOException {
        OnnxMl.ModelProto.Builder model = OnnxMl.ModelProto.newBuilder()
                .setIrVersion(8)
                .setProducerName(producer)
                .addOpsetImport(OnnxMl.OperatorSetIdProto.newBuilder().setDomain("").setVersion(OPSET));
        if (usesContribOps) {
            model.addOpsetImport(OnnxMl.OperatorSetIdProto.newBuilder().setDomain(CONTRIB_DOMAIN).setVersion(1));
        }
        model.setGraph(graph).build().writeTo(out);
    }

    static AttributeProto intAttr(String name, long value) {
        return AttributeProto.newBuilder().setName(name).setType(AttributeProto.AttributeType.INT).setI(value).build();
    }

    static AttributeProto floatAttr(String name, float value) {
        return AttributeProto.newBuilder().setName(name).setType(AttributeProto.AttributeType.FLOAT).setF(value).build();
    }

    static AttributeProto intsAttr(String name, long... values) {
        AttributeProto.Builder b = AttributeProto.newBuilder().setName(name).setType(AttributeProto.AttributeType.INTS);
        for (long v : values) {
            b.addInts(v);
        }
        return b.build();
    }

    static AttributeProto tensorAttr(String name, TensorProto value) {
        return AttributeProto.newBuilder().setName(name).setType(AttributeProto.AttributeType.TENSOR).setT(value).build();
    }

    private static ValueInfoProto valueInfo(String name, TensorProto.DataType type, Object... dims) {
        TensorShapeProto.Builder shape = TensorShapeProto.newBuilder();
        for (Object d : dims) {
            TensorShapeProto.Dimension.Builder dim = TensorShapeProto.Dimension.newBuilder();
            if (d instanceof String s) {
                dim.setDimParam(s);
            } else {
                dim.setDimValue(((Number) d).longValue());
            }
            shape.addDim(dim);
        }
        TypeProto.Tensor.Builder tensor = TypeProto.Tensor.newBuilder().setElemType(type.getNumber()).setShape(shape);
        return ValueInfoProto.newBuilder().setName(name).setType(TypeProto.newBuilder().setTensorType(tensor)).build();
    }

    private static List<Long> box(long[] dims) {
        return java.util.Arrays.stream(dims).boxed().toList();
    }
}
