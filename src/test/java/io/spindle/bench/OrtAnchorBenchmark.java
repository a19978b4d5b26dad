package io.spindle.bench;

import ai.onnx.proto.OnnxMl;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import com.google.protobuf.ByteString;
import io.spindle.runtime.demo.DemoPreset;
import io.spindle.runtime.onnx.OrtRuntime;

import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * What ONNX Runtime itself reaches on this machine, with Spindle's session options
 * ({@link OrtRuntime}): (1) one MatMul per GPT-2-124M weight shape (K × N, W an initializer) at M
 * rows, GFLOP/s; (2) the whole GPT-2-124M-shaped demo graph (Optimum layout) run bare, one prompt of
 * P tokens from an empty cache: prompt tokens/s and the GFLOP/s its matmuls imply. The gap between
 * (1) and (2), and between (2) and the server's time to first token, is where prefill time goes.
 * Medians of several runs. Run it with load-tests/bench-ort-anchor.sh.
 */
public final class OrtAnchorBenchmark {
    /** GPT-2-124M's weight matmuls: qkv, attention out, fc, mlp out, LM head. */
    private static final int[][] SHAPES = {{768, 2304}, {768, 768}, {768, 3072}, {3072, 768}, {768, 50257}};

    public static void main(String[] args) throws Exception {
        Map<String, String> opt = BenchServer.options(args);
        int threads = Integer.parseInt(opt.getOrDefault("threads", "0"));
        int runs = Integer.parseInt(opt.getOrDefault("runs", "7"));
        int[] rows = parse(opt.getOrDefault("rows", "1,32,128,512"));
        int[] prompts = parse(opt.getOrDefault("prompts", "128,512"));
        OrtRuntime ort = new OrtRuntime("cpu", threads);
        System.out.printf("ONNX Runtime alone, Spindle's session options, intra-op threads %s, %d cores, medians of %d%n",
                threads == 0 ? "default" : threads, Runtime.getRuntime().availableProcessors(), runs);
        Path dir = Files.createTempDirectory("spindle-anchor");
        System.out.println("\n| K × N | " + String.join(" | ", java.util.Arrays.stream(rows).mapToObj(m -> "M = " + m + " GFLOP/s").toList())
                + " |\n|---|" + "---|".repeat(rows.length));
        for (int[] kn : SHAPES) {
            Path graph = dir.resolve("matmul-" + kn[0] + "x" + kn[1] + ".onnx");
            writeMatMul(graph, kn[0], kn[1]);
            StringBuilder line = new StringBuilder("| " + kn[0] + " × " + kn[1] + " |");
            try (OrtSession s = ort.open(graph)) {
                for (int m : rows) {
                    double sec = median(time(s, Map.of("x", floats(ort.env(), m, kn[0])), runs));
                    line.append(String.format(" %.0f |", 2.0 * m * kn[0] * kn[1] / sec / 1e9));
                }
            }
            System.out.println(line);
        }
        Path exported = BenchServer.exportedDemoModel(DemoPreset.GPT2_124M).resolve("model.onnx");
        Path serving = BenchServer.demoModel(DemoPreset.GPT2_124M).resolve("model.onnx");
        // Weight matmuls per prompt token (12 layers × (qkv + out + fc + mlp out)), 2 FLOPs each; the
        // LM head's 768 × 50,257 per position whose logits are computed (all of them as exported, the
        // last one in Spindle's serving form, which also runs the last feed-forward there only).
        double layerFlops = 2.0 * (768 * 2304 + 768 * 768 + 2 * 768 * 3072);
        double headFlops = 2.0 * 768 * 50257;
        System.out.printf("%n| GPT-2-124M graph, bare, batch 1 | prompt tokens/s | s per prompt | implied weight-matmul GFLOP/s |%n"
                + "|---|---|---|---|%n");
        try (OrtSession all = ort.open(exported); OrtSession last = ort.open(serving)) {
            for (int p : prompts) {
                // Interleaved, so that both forms see the same machine.
                List<Double> tAll = new ArrayList<>();
                List<Double> tLast = new ArrayList<>();
                Map<String, OnnxTensor> inAll = PrefillProfile.inputs(ort.env(), all, p);
                Map<String, OnnxTensor> inLast = PrefillProfile.inputs(ort.env(), last, p);
                for (int r = 0; r < runs; r++) {
                    tAll.addAll(time(all, inAll, 1));
                    tLast.addAll(time(last, inLast, 1));
                }
                double sAll = median(tAll);
                double sLast = median(tLast);
                System.out.printf("| %d-token prompt, logits at every position (as exported) | %.0f | %.3f | %.0f |%n",
                        p, p / sAll, sAll, p * (12 * layerFlops + headFlops) / sAll / 1e9);
                System.out.printf("| %d-token prompt, logits at the last position (serving form) | %.0f | %.3f | %.0f |%n",
                        p, p / sLast, sLast, (p * 12 * layerFlops + headFlops) / sLast / 1e9);
            }
        }
    }

    private static List<Double> time(OrtSession s, Map<String, OnnxTensor> inputs, int runs) throws Exception {
        List<Double> out = new ArrayList<>();
        for (int r = 0; r < runs + 2; r++) {
            long t0 = System.nanoTime();
            s.run(inputs).close();
            if (r >= 2) {
                out.add((System.nanoTime() - t0) / 1e9);
            }
        }
        return out;
    }

    private static OnnxTensor floats(OrtEnvironment env, int m, int k) throws Exception {
        float[] x = new float[m * k];
        SplittableRandom r = new SplittableRandom(1);
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) r.nextGaussian();
        }
        return OnnxTensor.createTensor(env, FloatBuffer.wrap(x), new long[] {m, k});
    }

    private static void writeMatMul(Path file, int k, int n) throws Exception {
        ByteBuffer w = ByteBuffer.allocate(k * n * 4).order(ByteOrder.LITTLE_ENDIAN);
        SplittableRandom r = new SplittableRandom(2);
        for (int i = 0; i < k * n; i++) {
            w.putFloat((float) (r.nextGaussian() * 0.02));
        }
        OnnxMl.GraphProto.Builder g = OnnxMl.GraphProto.newBuilder().setName("anchor")
                .addInitializer(OnnxMl.TensorProto.newBuilder().setName("w").addDims(k).addDims(n)
                        .setDataType(OnnxMl.TensorProto.DataType.FLOAT.getNumber()).setRawData(ByteString.copyFrom(w.array())))
                .addNode(OnnxMl.NodeProto.newBuilder().setOpType("MatMul").addInput("x").addInput("w").addOutput("y"))
                .addInput(io("x", "m", k)).addOutput(io("y", "m", n));
        try (OutputStream out = Files.newOutputStream(file)) {
            OnnxMl.ModelProto.newBuilder().setIrVersion(8).setProducerName("spindle-anchor")
                    .addOpsetImport(OnnxMl.OperatorSetIdProto.newBuilder().setDomain("").setVersion(17))
                    .setGraph(g).build().writeTo(out);
        }
    }

    private static OnnxMl.ValueInfoProto io(String name, String rows, int cols) {
        OnnxMl.TensorShapeProto shape = OnnxMl.TensorShapeProto.newBuilder()
                .addDim(OnnxMl.TensorShapeProto.Dimension.newBuilder().setDimParam(rows))
                .addDim(OnnxMl.TensorShapeProto.Dimension.newBuilder().setDimValue(cols)).build();
        return OnnxMl.ValueInfoProto.newBuilder().setName(name).setType(OnnxMl.TypeProto.newBuilder()
                .setTensorType(OnnxMl.TypeProto.Tensor.newBuilder()
                        .setElemType(OnnxMl.TensorProto.DataType.FLOAT.getNumber()).setShape(shape))).build();
    }

    private static int[] parse(String csv) {
        return java.util.Arrays.stream(csv.split(",")).map(String::trim).mapToInt(Integer::parseInt).toArray();
    }

    private static double median(List<Double> v) {
        List<Double> s = new ArrayList<>(v);
        Collections.sort(s);
        return s.get(s.size() / 2);
    }

    private OrtAnchorBenchmark() {
    }
}
