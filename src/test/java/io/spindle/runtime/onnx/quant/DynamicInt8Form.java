package io.spindle.runtime.onnx.quant;

import ai.onnx.proto.OnnxMl.AttributeProto;
import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import com.google.protobuf.ByteString;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The int8 form ONNX Runtime's {@code quantize_dynamic} writes with its defaults (QInt8 weights, per
 * tensor, symmetric; activations quantized to uint8 at run time): {@code DynamicQuantizeLinear(A)},
 * {@code MatMulInteger}, {@code Cast}, and a {@code Mul} by the product of the scales, which ONNX
 * Runtime's optimizer fuses into {@code DynamicQuantizeMatMul}. Only for measuring it against
 * {@code MatMulNBits} bits = 8 ({@code QuantizeBenchmark}); main graph only, MatMul only.
 */
public final class DynamicInt8Form {
    private DynamicInt8Form() {
    }

    public static ModelProto rewrite(ModelProto model) {
        return rewrite(model, false, false);
    }

    public static ModelProto rewrite(ModelProto model, boolean perChannel) {
        return rewrite(model, perChannel, false);
    }

    /** @param perChannel one scale per output column (quantize_dynamic's per_channel=True) instead of one per tensor */
    public static ModelProto rewrite(ModelProto model, boolean perChannel, boolean scalarZeroPoint) {
        GraphProto g = model.getGraph();
        Map<String, TensorProto> inits = new HashMap<>();
        g.getInitializerList().forEach(t -> inits.put(t.getName(), t));
        Map<String, String> transposed = new HashMap<>();
        for (NodeProto n : g.getNodeList()) {
            if (n.getOpType().equals("Transpose") && inits.containsKey(n.getInput(0)) && inits.get(n.getInput(0)).getDimsCount() == 2) {
                transposed.put(n.getOutput(0), n.getInput(0));
            }
        }
        GraphProto.Builder out = g.toBuilder().clearNode();
        Set<String> replaced = new HashSet<>();
        int i = 0;
        for (NodeProto n : g.getNodeList()) {
            String b = n.getOpType().equals("MatMul") ? n.getInput(1) : null;
            boolean t = b != null && transposed.containsKey(b);
            TensorProto w = b == null ? null : inits.get(t ? transposed.get(b) : b);
            if (w == null || w.getDataType() != TensorProto.DataType.FLOAT_VALUE || w.getDimsCount() != 2) {
                out.addNode(n);
                continue;
            }
            float[] v = WeightQuantizer.floats(w);
            int rows = (int) w.getDims(0);
            int cols = (int) w.getDims(1);
            int k = t ? cols : rows;
            int nOut = t ? rows : cols;
            float[] scales = new float[perChannel ? nOut : 1];
            for (int r = 0; r < k; r++) {
                for (int c = 0; c < nOut; c++) {
                    float x = Math.abs(t ? v[c * k + r] : v[r * nOut + c]);
                    int at = perChannel ? c : 0;
                    scales[at] = Math.max(scales[at], x);
                }
            }
            for (int c = 0; c < scales.length; c++) {
                scales[c] = scales[c] == 0 ? 1 : scales[c] / 127;
            }
            byte[] q = new byte[k * nOut];
            for (int r = 0; r < k; r++) {
                for (int c = 0; c < nOut; c++) {
                    float x = t ? v[c * k + r] : v[r * nOut + c];
                    q[r * nOut + c] = (byte) Math.max(-127, Math.min(127, Math.round(x / scales[perChannel ? c : 0])));
                }
            }
            String p = "dq" + (i++) + "_";
            out.addInitializer(TensorProto.newBuilder().setName(p + "W").setDataType(TensorProto.DataType.INT8_VALUE)
                    .addDims(k).addDims(nOut).setRawData(ByteString.copyFrom(q)));
            TensorProto.Builder zp = TensorProto.newBuilder().setName(p + "W_zp").setDataType(TensorProto.DataType.INT8_VALUE)
                    .setRawData(ByteString.copyFrom(new byte[scalarZeroPoint ? 1 : scales.length]));
            ByteBuffer sb = ByteBuffer.allocate(4 * scales.length).order(ByteOrder.LITTLE_ENDIAN);
            sb.asFloatBuffer().put(scales);
            TensorProto.Builder sc = TensorProto.newBuilder().setName(p + "W_scale").setDataType(TensorProto.DataType.FLOAT_VALUE)
                    .setRawData(ByteString.copyFrom(sb.array()));
            if (perChannel) {
                if (!scalarZeroPoint) {
                    zp.addDims(nOut);
                }
                sc.addDims(nOut);
            }
            out.addInitializer(zp);
            out.addInitializer(sc);
            out.addNode(node("DynamicQuantizeLinear", List.of(n.getInput(0)), List.of(p + "Aq", p + "As", p + "Azp")));
            out.addNode(node("MatMulInteger", List.of(p + "Aq", p + "W", p + "Azp", p + "W_zp"), List.of(p + "Yi")));
            out.addNode(node("Cast", List.of(p + "Yi"), List.of(p + "Yf"),
                    AttributeProto.newBuilder().setName("to").setType(AttributeProto.AttributeType.INT)
                            .setI(TensorProto.DataType.FLOAT_VALUE).build()));
            out.addNode(node("Mul", List.of(p + "As", p + "W_scale"), List.of(p + "S")));
            out.addNode(node("Mul", List.of(p + "Yf", p + "S"), List.of(n.getOutput(0))));
            replaced.add(w.getName());
            if (t) {
                replaced.add(b);
            }
        }
        Set<String> used = new HashSet<>();
        out.getNodeList().forEach(n -> used.addAll(n.getInputList()));
        // Drop dead Transposes, then initializers nobody reads any more.
        List<NodeProto> live = out.getNodeList().stream()
                .filter(n -> !(replaced.contains(n.getOutput(0)) && !used.contains(n.getOutput(0)))).toList();
        out.clearNode().addAllNode(live);
        used.clear();
        out.getNodeList().forEach(n -> used.addAll(n.getInputList()));
        List<TensorProto> keep = out.getInitializerList().stream()
                .filter(x -> !replaced.contains(x.getName()) || used.contains(x.getName())).toList();
        out.clearInitializer().addAllInitializer(keep);
        return model.toBuilder().setGraph(out).build();
    }

    private static NodeProto node(String op, List<String> in, List<String> out, AttributeProto... attrs) {
        NodeProto.Builder b = NodeProto.newBuilder().setOpType(op).setName(out.getFirst() + "_node").addAllInput(in)
                .addAllOutput(out);
        for (AttributeProto a : attrs) {
            b.addAttribute(a);
        }
        return b.build();
    }
}
