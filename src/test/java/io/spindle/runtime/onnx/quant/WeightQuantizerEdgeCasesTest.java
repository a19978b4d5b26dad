package io.spindle.runtime.onnx.quant;

import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.StringStringEntryProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import com.google.protobuf.ByteString;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** What the quantizer leaves alone, and how it treats weights with several readers. */
class WeightQuantizerEdgeCasesTest {
    private static final QuantizeSettings INT4 = QuantizeSettings.of(QuantizeSettings.Format.INT4);

    private static float[] random(int n) {
        Random r = new Random(n);
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) r.nextGaussian();
        }
        return v;
    }

    @Test
    void noneReturnsTheModelItself() {
        ModelProto m = Graphs.matMul(random(64 * 8), 64, 8);
        WeightQuantizer.Result r = WeightQuantizer.quantize(m, QuantizeSettings.NONE);
        assertSame(m, r.model());
        assertEquals(0, r.quantizedMatMuls());
    }

    @Test
    void externalDataLeavesTheGraphAloneAndSaysWhy() {
        ModelProto m = Graphs.matMul(random(64 * 8), 64, 8);
        ModelProto.Builder b = m.toBuilder();
        TensorProto w = b.getGraph().getInitializer(0);
        b.getGraphBuilder().setInitializer(0, w.toBuilder().clearRawData().setDataLocation(TensorProto.DataLocation.EXTERNAL)
                .addExternalData(StringStringEntryProto.newBuilder().setKey("location").setValue("model.onnx.data")));
        WeightQuantizer.Result r = WeightQuantizer.quantize(b.build(), INT4);
        assertEquals(0, r.quantizedMatMuls());
        assertEquals(b.build(), r.model());
        assertTrue(r.leftAsIs().getFirst().contains("external data"), r.leftAsIs().toString());
    }

    @Test
    void float16AndShortKAreListed() {
        GraphProto.Builder g = GraphProto.newBuilder().setName("g")
                .addInput(Graphs.value("A", TensorProto.DataType.FLOAT, "m", 8))
                .addInput(Graphs.value("H", TensorProto.DataType.FLOAT16, "m", 32))
                .addOutput(Graphs.value("Y", TensorProto.DataType.FLOAT, "m", 4))
                .addOutput(Graphs.value("Z", TensorProto.DataType.FLOAT16, "m", 4))
                .addInitializer(Graphs.floats("short", random(8 * 4), 8, 4))
                .addInitializer(TensorProto.newBuilder().setName("half").setDataType(TensorProto.DataType.FLOAT16_VALUE)
                        .addDims(32).addDims(4).setRawData(ByteString.copyFrom(new byte[32 * 4 * 2])))
                .addNode(Graphs.node("MatMul", "a", new String[] {"A", "short"}, "Y"))
                .addNode(Graphs.node("MatMul", "b", new String[] {"H", "half"}, "Z"));
        WeightQuantizer.Result r = WeightQuantizer.quantize(Graphs.model(g), INT4);
        assertEquals(0, r.quantizedMatMuls());
        assertEquals(List.of("short: K = 8 is below 16", "half: a 16-bit float weight (only float32 weights are quantized)"),
                r.leftAsIs());
    }

    @Test
    void aWeightWithAnotherFloatReaderStaysAndTwoProductsShareOneQuantizedCopy() throws Exception {
        int k = 32;
        int n = 32;
        float[] w = random(k * n);
        GraphProto.Builder g = GraphProto.newBuilder().setName("g")
                .addInput(Graphs.value("A", TensorProto.DataType.FLOAT, "m", k))
                .addOutput(Graphs.value("Y", TensorProto.DataType.FLOAT, "m", n))
                .addInitializer(Graphs.floats("W", w, k, n))
                .addNode(Graphs.node("MatMul", "p1", new String[] {"A", "W"}, "P1"))
                .addNode(Graphs.node("MatMul", "p2", new String[] {"P1", "W"}, "P2"))
                .addNode(Graphs.node("Add", "plusW", new String[] {"P2", "W"}, "Y")); // W read as a float too (m = 32)
        WeightQuantizer.Result r = WeightQuantizer.quantize(Graphs.model(g), INT4);
        assertEquals(2, r.quantizedMatMuls());
        var names = r.model().getGraph().getInitializerList().stream().map(TensorProto::getName).toList();
        assertTrue(names.contains("W"), "still read by the Add: " + names);
        assertEquals(1, names.stream().filter(x -> x.startsWith("W_Q4") && !x.contains("scales") && !x.contains("zero")).count(),
                names.toString());
        assertTrue(r.leftAsIs().contains("W: read by Add, which the quantizer does not rewrite"), r.leftAsIs().toString());
        assertTrue(r.model().getOpsetImportList().stream().anyMatch(o -> o.getDomain().equals("com.microsoft")));
        float[] a = random(k * k);
        float[] y = Graphs.run(r.model(), "A", a, k, k);
        assertEquals(k * n, y.length);
    }
}
