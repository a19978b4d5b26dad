package io.spindle.runtime.onnx.capi;

import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.OperatorSetIdProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import ai.onnx.proto.OnnxMl.TensorShapeProto;
import ai.onnx.proto.OnnxMl.TypeProto;
import ai.onnx.proto.OnnxMl.ValueInfoProto;

/**
 * The one-operator graphs {@link DeviceCopy} runs to copy between tensors through a session, so that
 * the copy happens where the session's provider keeps memory (CUDA's {@code cudaMemcpy} inside its
 * kernels; ONNX Runtime stays the only code touching the device):
 * <ul>
 *   <li>{@link #pad}: {@code out = Pad(data, pads)}, constant 0: copies a rank-4 tensor into a larger one
 *   (a grown cache, a slot, a prefix written at the start of a slot) or an equal one (pads all 0);</li>
 *   <li>{@link #slice}: {@code out = Slice(data, starts, ends)}: copies a box out of one (positions of a slot).</li>
 * </ul>
 * {@code pads}, {@code starts} and {@code ends} are int64 inputs the CUDA kernels read from host memory.
 */
public final class CopyGraphs {
    static final int RANK = 4;

    private CopyGraphs() {
    }

    public static byte[] pad(ElementType type) {
        GraphProto graph = GraphProto.newBuilder().setName("spindle_pad_copy")
                .addNode(NodeProto.newBuilder().setOpType("Pad").setName("pad").addInput("data").addInput("pads").addOutput("out"))
                .addInput(tensor("data", type.code, RANK))
                .addInput(vector("pads", 2 * RANK))
                .addOutput(tensor("out", type.code, RANK))
                .build();
        return model(graph);
    }

    public static byte[] slice(ElementType type) {
        GraphProto graph = GraphProto.newBuilder().setName("spindle_slice_copy")
                .addNode(NodeProto.newBuilder().setOpType("Slice").setName("slice")
                        .addInput("data").addInput("starts").addInput("ends").addOutput("out"))
                .addInput(tensor("data", type.code, RANK))
                .addInput(vector("starts", RANK))
                .addInput(vector("ends", RANK))
                .addOutput(tensor("out", type.code, RANK))
                .build();
        return model(graph);
    }

    private static byte[] model(GraphProto graph) {
        return ModelProto.newBuilder().setIrVersion(8).setProducerName("spindle").setGraph(graph)
                .addOpsetImport(OperatorSetIdProto.newBuilder().setDomain("").setVersion(17))
                .build().toByteArray();
    }

    private static ValueInfoProto tensor(String name, int elementType, int rank) {
        TensorShapeProto.Builder shape = TensorShapeProto.newBuilder();
        for (int i = 0; i < rank; i++) {
            shape.addDim(TensorShapeProto.Dimension.newBuilder().setDimParam(name + "_" + i));
        }
        return ValueInfoProto.newBuilder().setName(name).setType(TypeProto.newBuilder()
                .setTensorType(TypeProto.Tensor.newBuilder().setElemType(elementType).setShape(shape))).build();
    }

    private static ValueInfoProto vector(String name, int length) {
        TensorShapeProto shape = TensorShapeProto.newBuilder()
                .addDim(TensorShapeProto.Dimension.newBuilder().setDimValue(length)).build();
        return ValueInfoProto.newBuilder().setName(name).setType(TypeProto.newBuilder()
                .setTensorType(TypeProto.Tensor.newBuilder().setElemType(TensorProto.DataType.INT64.getNumber())
                        .setShape(shape))).build();
    }
}
