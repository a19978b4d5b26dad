package io.spindle.runtime.onnx.quant;

import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.LongBuffer;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The packed weights mean what ONNX Runtime reads them as: for random weights (with an outlier and an
 * all-zero column), ORT's MatMulNBits output equals A × dequantize(B) computed here in double from
 * the packed bytes by the operator's documented layout (not by the quantizer's code), each weight's
 * error is at most |scale|/2, and the same holds for GatherBlockQuantized and for a Gemm with its bias.
 */
class PackingTest {
    private static final int M = 5;

    /** W' [k][n] from a MatMulNBits node's initializers, by the contrib op's spec. */
    static double[][] dequantize(ModelProto m, NodeProto node) {
        int k = (int) Graphs.attr(node, "K");
        int n = (int) Graphs.attr(node, "N");
        int bits = (int) Graphs.attr(node, "bits");
        int block = (int) Graphs.attr(node, "block_size");
        int kBlocks = (k + block - 1) / block;
        byte[] b = Graphs.initializer(m, node.getInput(1)).getRawData().toByteArray();
        float[] scales = floatsOf(Graphs.initializer(m, node.getInput(2)));
        byte[] zp = node.getInputCount() > 3 && !node.getInput(3).isEmpty()
                ? Graphs.initializer(m, node.getInput(3)).getRawData().toByteArray() : null;
        TensorProto bt = Graphs.initializer(m, node.getInput(1));
        assertEquals(java.util.List.of((long) n, (long) kBlocks, (long) block * bits / 8), bt.getDimsList(), "B shape");
        assertEquals(n * kBlocks, scales.length);
        int blob = block * bits / 8;
        int zpPerColumn = (kBlocks * bits + 7) / 8;
        double[][] w = new double[k][n];
        for (int col = 0; col < n; col++) {
            for (int row = 0; row < k; row++) {
                int blk = row / block;
                int i = row % block;
                int at = (col * kBlocks + blk) * blob + (bits == 4 ? i / 2 : i);
                int code = bits == 4 ? ((b[at] & 0xFF) >> (4 * (i & 1))) & 0xF : b[at] & 0xFF;
                int z;
                if (zp == null) {
                    z = 1 << (bits - 1);
                } else {
                    int zat = col * zpPerColumn + (bits == 4 ? blk / 2 : blk);
                    z = bits == 4 ? ((zp[zat] & 0xFF) >> (4 * (blk & 1))) & 0xF : zp[zat] & 0xFF;
                }
                w[row][col] = (code - z) * (double) scales[col * kBlocks + blk];
            }
        }
        return w;
    }

    static float[] floatsOf(TensorProto t) {
        float[] f = new float[t.getRawData().size() / 4];
        t.getRawData().asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(f);
        return f;
    }

    static float[] weights(Random r, int k, int n) {
        float[] w = new float[k * n];
        for (int i = 0; i < w.length; i++) {
            w[i] = (float) (r.nextGaussian() * 0.05);
        }
        w[3 * n + 1] = 0.9f; // an outlier in one block
        for (int row = 0; row < k; row++) {
            w[row * n + n - 1] = 0; // an all-zero column
        }
        return w;
    }

    @ParameterizedTest(name = "int{0} symmetric={1} block={2} K={3} N={4}")
    @CsvSource({"4,false,32,100,24", "4,true,32,100,24", "4,false,16,64,7", "4,true,128,200,9", "4,false,256,40,3",
            "8,false,32,100,24", "8,true,64,130,5", "8,false,128,256,6", "8,true,16,33,4"})
    void matMulNBitsComputesTheProductOfTheDequantizedWeights(int bits, boolean symmetric, int block, int k, int n)
            throws Exception {
        Random r = new Random(bits * 1000L + block + k);
        float[] w = weights(r, k, n);
        float[] a = new float[M * k];
        for (int i = 0; i < a.length; i++) {
            a[i] = (float) r.nextGaussian();
        }
        for (int accuracy : new int[] {0, 4}) {
            var settings = new QuantizeSettings(bits == 4 ? QuantizeSettings.Format.INT4 : QuantizeSettings.Format.INT8,
                    block, symmetric, accuracy, true, false);
            WeightQuantizer.Result result = WeightQuantizer.quantize(Graphs.matMul(w, k, n), settings);
            assertEquals(1, result.quantizedMatMuls());
            ModelProto q = result.model();
            assertTrue(q.getGraph().getInitializerList().stream().noneMatch(t -> t.getName().equals("W")), "float W removed");
            NodeProto node = Graphs.onlyNode(q, "MatMulNBits");
            assertEquals(symmetric ? 3 : 4, node.getInputCount(), "zero points only when asymmetric");
            double[][] deq = dequantize(q, node);
            int kBlocks = (k + block - 1) / block;
            float[] scales = floatsOf(Graphs.initializer(q, node.getInput(2)));
            for (int row = 0; row < k; row++) {
                for (int col = 0; col < n; col++) {
                    double half = Math.abs(scales[col * kBlocks + row / block]) / 2;
                    double err = Math.abs(deq[row][col] - w[row * n + col]);
                    assertTrue(err <= half * (1 + 1e-5) + 1e-9, "W[" + row + "][" + col + "] error " + err + " > scale/2 " + half);
                }
            }
            float[] y = Graphs.run(q, "A", a, M, k);
            assertEquals(M * n, y.length);
            for (int i = 0; i < M; i++) {
                for (int col = 0; col < n; col++) {
                    double want = 0;
                    double mag = 0;
                    for (int row = 0; row < k; row++) {
                        want += a[i * k + row] * deq[row][col];
                        mag += Math.abs(a[i * k + row] * deq[row][col]);
                    }
                    // Level 0 computes in float; level 4 quantizes A to int8 per block (error ≤ 1/254 of each block's max).
                    double tol = accuracy == 0 ? 1e-5 * mag + 1e-6 : 0.01 * mag + 1e-5;
                    assertEquals(want, y[i * n + col], tol, "accuracy " + accuracy + ", Y[" + i + "][" + col + "]");
                }
            }
        }
    }

    @ParameterizedTest(name = "int{0} symmetric={1} block={2}")
    @CsvSource({"4,false,32", "4,true,16", "8,false,64", "8,true,32"})
    void gatherBlockQuantizedReturnsTheDequantizedRows(int bits, boolean symmetric, int block) throws Exception {
        int v = 50;
        int h = 128;
        Random r = new Random(7 + bits + block);
        float[] e = weights(r, v, h);
        GraphProto.Builder g = GraphProto.newBuilder().setName("emb")
                .addInput(Graphs.value("ids", TensorProto.DataType.INT64, 1, "s"))
                .addOutput(Graphs.value("Y", TensorProto.DataType.FLOAT, 1, "s", h))
                .addInitializer(Graphs.floats("E", e, v, h))
                .addNode(Graphs.node("Gather", "g", new String[] {"E", "ids"}, "Y"));
        var settings = new QuantizeSettings(bits == 4 ? QuantizeSettings.Format.INT4 : QuantizeSettings.Format.INT8,
                block, symmetric, 4, true, true);
        WeightQuantizer.Result result = WeightQuantizer.quantize(Graphs.model(g), settings);
        assertEquals(1, result.quantizedGathers());
        ModelProto q = result.model();
        NodeProto node = Graphs.onlyNode(q, "GatherBlockQuantized");
        long[] ids = {0, 3, 49, 3, 17};
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        float[] y;
        try (OrtSession s = env.createSession(q.toByteArray(), new OrtSession.SessionOptions());
             OnnxTensor t = OnnxTensor.createTensor(env, LongBuffer.wrap(ids), new long[] {1, ids.length});
             OrtSession.Result out = s.run(Map.of("ids", t))) {
            FloatBuffer fb = ((OnnxTensor) out.get(0)).getFloatBuffer();
            y = new float[fb.remaining()];
            fb.get(y);
        }
        assertEquals(ids.length * h, y.length);
        byte[] data = Graphs.initializer(q, node.getInput(0)).getRawData().toByteArray();
        float[] scales = floatsOf(Graphs.initializer(q, node.getInput(2)));
        byte[] zp = node.getInputCount() > 3 ? Graphs.initializer(q, node.getInput(3)).getRawData().toByteArray() : null;
        int blocks = h / block;
        int rowBytes = h * bits / 8;
        int zpRow = (blocks * bits + 7) / 8;
        for (int i = 0; i < ids.length; i++) {
            int row = (int) ids[i];
            for (int c = 0; c < h; c++) {
                int at = row * rowBytes + (bits == 4 ? c / 2 : c);
                int code = bits == 4 ? ((data[at] & 0xFF) >> (4 * (c & 1))) & 0xF : data[at] & 0xFF;
                int b = c / block;
                int z = zp == null ? 1 << (bits - 1) : bits == 4 ? ((zp[row * zpRow + b / 2] & 0xFF) >> (4 * (b & 1))) & 0xF
                        : zp[row * zpRow + b] & 0xFF;
                double want = (code - z) * (double) scales[row * blocks + b];
                assertEquals(want, y[i * h + c], 1e-6, "row " + row + " column " + c);
                assertTrue(Math.abs(want - e[row * h + c]) <= Math.abs(scales[row * blocks + b]) / 2 * (1 + 1e-5) + 1e-9);
            }
        }
    }

    @Test
    void aGemmWithTransposedWeightsKeepsItsBias() throws Exception {
        int k = 96;
        int n = 10;
        Random r = new Random(3);
        float[] wT = weights(r, n, k); // stored [N, K], transB = 1
        float[] c = new float[n];
        for (int i = 0; i < n; i++) {
            c[i] = i - 4.5f;
        }
        GraphProto.Builder g = GraphProto.newBuilder().setName("gemm")
                .addInput(Graphs.value("A", TensorProto.DataType.FLOAT, "m", k))
                .addOutput(Graphs.value("Y", TensorProto.DataType.FLOAT, "m", n))
                .addInitializer(Graphs.floats("W", wT, n, k)).addInitializer(Graphs.floats("C", c, n))
                .addNode(Graphs.node("Gemm", "gemm", new String[] {"A", "W", "C"}, "Y", Graphs.intAttr("transB", 1)));
        var settings = new QuantizeSettings(QuantizeSettings.Format.INT4, 32, false, 0, true, false);
        WeightQuantizer.Result result = WeightQuantizer.quantize(Graphs.model(g), settings);
        assertEquals(1, result.quantizedMatMuls());
        NodeProto node = Graphs.onlyNode(result.model(), "MatMulNBits");
        assertEquals("C", node.getInput(5), "the bias input");
        double[][] deq = dequantize(result.model(), node);
        float[] a = new float[M * k];
        for (int i = 0; i < a.length; i++) {
            a[i] = (float) r.nextGaussian();
        }
        float[] y = Graphs.run(result.model(), "A", a, M, k);
        for (int i = 0; i < M; i++) {
            for (int col = 0; col < n; col++) {
                double want = c[col];
                for (int row = 0; row < k; row++) {
                    want += a[i * k + row] * deq[row][col];
                }
                assertEquals(want, y[i * n + col], 1e-4, "Y[" + i + "][" + col + "]");
            }
        }
    }
}
