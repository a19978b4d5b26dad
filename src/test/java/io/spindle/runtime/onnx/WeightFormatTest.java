package io.spindle.runtime.onnx;

import ai.onnx.proto.OnnxMl.AttributeProto;
import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import com.google.protobuf.ByteString;
import io.spindle.runtime.demo.BertGraphBuilder.Head;
import io.spindle.runtime.demo.DemoLayout;
import io.spindle.runtime.demo.T5DemoWriter.Variant;
import io.spindle.runtime.onnx.OrtQuantizedGraphs.Form;
import io.spindle.testing.ModelFolders;
import io.spindle.testing.TestModels;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The weight format read from graphs: float exports, ONNX Runtime's quantized forms, mixed graphs. */
class WeightFormatTest {
    @TempDir
    static Path tmp;

    @ParameterizedTest
    @EnumSource(DemoLayout.class)
    void floatDemoGraphsAreFloat32(DemoLayout layout) throws Exception {
        Path dir = TestModels.tiny(layout);
        WeightFormat f = WeightFormat.read(dir.resolve(layout == DemoLayout.OPTIMUM_SPLIT
                ? "decoder_with_past_model.onnx" : "model.onnx"));
        assertEquals("float32", f.name());
        assertFalse(f.quantized());
        // Two blocks: c_attn (a fused Attention's packed weights), c_proj, c_fc, mlp c_proj; then the tied LM head.
        assertEquals("float32 ×9", f.describe());
    }

    @Test
    void externalGenaiExportIsFloat32() throws Exception {
        WeightFormat f = WeightFormat.read(ModelFolders.GENAI_GPT2.resolve("past.onnx"));
        assertEquals("float32", f.name(), f.describe());
        assertTrue(f.kinds().getFirst().count() >= 5 * 4, f.describe());
    }

    /** What {@link OrtQuantizedGraphs} writes, read back from the file, agrees with a full parse of it. */
    @ParameterizedTest
    @EnumSource(Form.class)
    void ortQuantizedGraphsAreRecognised(Form form) throws Exception {
        Path gpt2 = OrtQuantizedGraphs.copy(TestModels.tinyExported(DemoLayout.OPTIMUM), tmp.resolve("gpt2-" + form.id()), form);
        WeightFormat f = WeightFormat.read(gpt2.resolve("model.onnx"));
        String expected = switch (form) {
            case INT4_MATMUL_NBITS -> "int4 (MatMulNBits, block 32) ×9";
            case INT8_DYNAMIC -> "int8 (MatMulInteger) ×9";
            case INT8_QDQ -> "int8 (QDQ) ×9";
        };
        assertEquals(expected, f.describe());
        assertEquals(form == Form.INT4_MATMUL_NBITS ? "int4" : "int8", f.name());
        assertTrue(f.quantized());
        try (InputStream in = Files.newInputStream(gpt2.resolve("model.onnx"))) {
            assertEquals(f, WeightFormat.of(ModelProto.parseFrom(in).getGraph()));
        }
        // The fused layout's Attention keeps its packed float weights: the tools quantize MatMul only.
        Path fused = OrtQuantizedGraphs.copy(TestModels.tinyExported(DemoLayout.ORT_FUSED), tmp.resolve("fused-" + form.id()), form);
        assertEquals(expected.replace("×9", "×7") + ", float32 ×2", WeightFormat.read(fused.resolve("model.onnx")).describe());
    }

    /** A merged decoder's projections live in If branches that read the outer graph's initializers. */
    @Test
    void subgraphsAreCounted() throws Exception {
        Path t5 = OrtQuantizedGraphs.copy(TestModels.tinyT5(Variant.MERGED), tmp.resolve("t5-int4"), Form.INT4_MATMUL_NBITS);
        WeightFormat merged = WeightFormat.read(t5.resolve("decoder_model_merged.onnx"));
        assertEquals("int4", merged.name());
        WeightFormat floatMerged = WeightFormat.read(TestModels.tinyT5(Variant.MERGED).resolve("decoder_model_merged.onnx"));
        assertEquals(floatMerged.kinds().getFirst().count(), merged.kinds().getFirst().count(), merged.describe());
        Path bert = OrtQuantizedGraphs.copy(TestModels.tinyBert(Head.MASKED_LM), tmp.resolve("bert-dyn"), Form.INT8_DYNAMIC);
        assertEquals("int8", WeightFormat.read(bert.resolve("model.onnx")).name());
    }

    @Test
    void float16AndBlockwiseQdqAndMixedGraphs() throws Exception {
        GraphProto.Builder g = GraphProto.newBuilder()
                .addInitializer(tensor("w16", TensorProto.DataType.FLOAT16, 4, 4))
                .addInitializer(tensor("w32", TensorProto.DataType.FLOAT, 4, 4))
                .addInitializer(tensor("q4", TensorProto.DataType.INT4, 4, 4))
                .addInitializer(tensor("s", TensorProto.DataType.FLOAT, 1, 4))
                .addNode(node("", "MatMul", "x", "w16"))
                .addNode(node("", "DequantizeLinear", "q4", "s").toBuilder().setOutput(0, "w4")
                        .addAttribute(AttributeProto.newBuilder().setName("block_size").setType(AttributeProto.AttributeType.INT).setI(32)))
                .addNode(node("", "MatMul", "x", "w4"))
                .addNode(node("", "Transpose", "w32", "").toBuilder().setOutput(0, "w32t"))
                .addNode(node("", "MatMul", "x", "w32t"))
                .addNode(node("", "MatMul", "x", "y"));
        WeightFormat f = WeightFormat.of(g.build());
        assertEquals("int4", f.name());
        assertEquals("float16 ×1, float32 ×1, int4 (QDQ, block 32) ×1", f.describe());
        Path file = tmp.resolve("mixed.onnx");
        try (OutputStream out = Files.newOutputStream(file)) {
            ModelProto.newBuilder().setIrVersion(8).setGraph(g).build().writeTo(out);
        }
        assertEquals(f, WeightFormat.read(file));
        GraphProto.Builder half = GraphProto.newBuilder().addInitializer(tensor("w16", TensorProto.DataType.FLOAT16, 4, 4))
                .addNode(node("", "Gemm", "x", "w16"));
        assertEquals("float16", WeightFormat.of(half.build()).name());
        assertEquals("unknown", WeightFormat.of(GraphProto.getDefaultInstance()).name());
    }

    private static TensorProto tensor(String name, TensorProto.DataType type, long... dims) {
        return TensorProto.newBuilder().setName(name).setDataType(type.getNumber()).addAllDims(java.util.Arrays.stream(dims).boxed().toList())
                .setRawData(ByteString.copyFrom(new byte[64])).build();
    }

    private static NodeProto node(String domain, String op, String a, String b) {
        NodeProto.Builder n = NodeProto.newBuilder().setOpType(op).setDomain(domain).addInput(a).addOutput(op + "_" + a + "_" + b);
        if (!b.isEmpty()) {
            n.addInput(b);
        }
        return n.build();
    }
}
