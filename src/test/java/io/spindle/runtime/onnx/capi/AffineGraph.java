package io.spindle.runtime.onnx.capi;

import ai.onnx.proto.OnnxMl;
import ai.onnx.proto.OnnxMl.TensorProto;
import ai.onnx.proto.OnnxMl.TensorShapeProto;
import ai.onnx.proto.OnnxMl.TypeProto;
import ai.onnx.proto.OnnxMl.ValueInfoProto;
import com.google.protobuf.ByteString;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * A graph small enough to check by hand: {@code y = x · W + state}, x [rows, 4], W [4, 3] (an
 * initializer), state and y [rows, 3]. {@code state} plays the part of a cache kept on the device.
 */
final class AffineGraph {
    static final int IN = 4;
    static final int OUT = 3;
    static final float[] W = {1, 2, 3, -1, 0.5f, 0, 2, -2, 1, 0, 0.25f, 4};

    private AffineGraph() {
    }

    static byte[] bytes() {
        ByteBuffer w = ByteBuffer.allocate(W.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        w.asFloatBuffer().put(W);
        OnnxMl.GraphProto graph = OnnxMl.GraphProto.newBuilder()
                .setName("affine")
                .addInitializer(TensorProto.newBuilder().setName("W").setDataType(TensorProto.DataType.FLOAT.getNumber())
                        .addDims(IN).addDims(OUT).setRawData(ByteString.copyFrom(w.array())))
                .addNode(OnnxMl.NodeProto.newBuilder().setOpType("MatMul").setName("mm").addInput("x").addInput("W").addOutput("xw"))
                .addNode(OnnxMl.NodeProto.newBuilder().setOpType("Add").setName("add").addInput("xw").addInput("state").addOutput("y"))
                .addInput(info("x", IN))
                .addInput(info("state", OUT))
                .addOutput(info("y", OUT))
                .build();
        return OnnxMl.ModelProto.newBuilder().setIrVersion(8).setProducerName("spindle-test").setGraph(graph)
                .addOpsetImport(OnnxMl.OperatorSetIdProto.newBuilder().setDomain("").setVersion(17))
                .build().toByteArray();
    }

    private static ValueInfoProto info(String name, int cols) {
        TensorShapeProto shape = TensorShapeProto.newBuilder()
                .addDim(TensorShapeProto.Dimension.newBuilder().setDimParam("rows"))
                .addDim(TensorShapeProto.Dimension.newBuilder().setDimValue(cols))
                .build();
        return ValueInfoProto.newBuilder().setName(name).setType(TypeProto.newBuilder().setTensorType(
                TypeProto.Tensor.newBuilder().setElemType(TensorProto.DataType.FLOAT.getNumber()).setShape(shape))).build();
    }

    /** What the graph computes, in Java. */
    static float[] expected(float[] x, float[] state, int rows) {
        float[] y = new float[rows * OUT];
        for (int r = 0; r < rows; r++) {
            for (int j = 0; j < OUT; j++) {
                float s = state[r * OUT + j];
                for (int k = 0; k < IN; k++) {
                    s += x[r * IN + k] * W[k * OUT + j];
                }
                y[r * OUT + j] = s;
            }
        }
        return y;
    }
}
