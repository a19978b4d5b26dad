package io.spindle.runtime.onnx;

import ai.onnx.proto.OnnxMl.AttributeProto;
import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.OperatorSetIdProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import ai.onnx.proto.OnnxMl.TensorShapeProto;
import ai.onnx.proto.OnnxMl.TypeProto;
import ai.onnx.proto.OnnxMl.ValueInfoProto;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import com.google.protobuf.ByteString;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.IntBuffer;
import java.nio.LongBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;

/**
 * Graphs quantized the way ONNX Runtime 1.29's Python tools write them, for tests of loading such
 * exports. An independent reference, written from the tools' source (not from Spindle's quantizer):
 * <ul>
 *   <li>{@link Form#INT4_MATMUL_NBITS}: {@code MatMul4BitsQuantizer} with {@code DefaultWeightOnlyQuantConfig}
 *       (asymmetric, QOperator): each MatMul with a 2-D float initializer B becomes {@code com.microsoft.MatMulNBits}
 *       named {@code <node>_Q4} over {@code <B>_Q4} (uint8 [N, k_blocks, block/2], column-wise blocks along K,
 *       two values a byte, low nibble first), {@code <B>_scales} (float [N·k_blocks]) and
 *       {@code <B>_zero_points} (uint8 [N·⌈k_blocks/2⌉], packed the same way); attributes K, N, bits,
 *       block_size and accuracy_level (4, as {@code --accuracy_level 4} writes it; the tool omits it when not
 *       given). Quantisation as MLAS's {@code MlasQuantizeBlockwise}: the range
 *       widened to hold 0, scale = range/15, zero point = round(−min/scale).</li>
 *   <li>{@link Form#INT8_DYNAMIC}: {@code quantize_dynamic(op_types_to_quantize=["MatMul"],
 *       extra_options={"EnableSubgraph": True})} (QOperator, IntegerOps, int8 weights per tensor, symmetric,
 *       MatMulConstBOnly; without EnableSubgraph the tool leaves a merged decoder's If branches float; here
 *       an activation from the outer graph is quantized inside the branch, the tool does it in the outer
 *       graph): per activation one
 *       {@code DynamicQuantizeLinear} ({@code <X>_QuantizeLinear} → {@code <X>_quantized}, {@code <X>_scale},
 *       {@code <X>_zero_point}, shared by every MatMul reading X), per MatMul {@code MatMulInteger}
 *       ({@code <node>_quant}) → {@code Cast} → {@code Mul} by {@code <node>_quant_scales_mul} (activation
 *       scale × weight scale); weights {@code <W>_quantized} (int8), {@code <W>_scale}, {@code <W>_zero_point}
 *       (0). With the tools' defaults {@code quantize_dynamic} would also turn fused {@code Attention} into
 *       {@code QAttention} and quantize {@code Gather} tables; that is left out, as most LLM recipes do.</li>
 *   <li>{@link Form#INT8_QDQ}: {@code quantize_static(quant_format=QDQ, op_types_to_quantize=["MatMul"])}
 *       with MinMax calibration (int8 activations asymmetric, int8 weights symmetric, per tensor): each
 *       weight stored as {@code <W>_quantized} with a {@code DequantizeLinear} {@code <W>_DequantizeLinear};
 *       each activation a MatMul reads or writes a {@code QuantizeLinear} → {@code DequantizeLinear} pair
 *       ({@code <X>_QuantizeLinear_Output}, {@code <X>_DequantizeLinear_Output}; a graph output keeps its name
 *       and its producer writes {@code <X>_QuantizeLinear_Input}). Like the tool, it does not enter
 *       subgraphs ({@code If} branches).</li>
 * </ul>
 * Each form first folds {@code Transpose}s of initializers into initializers, as {@code quant_pre_process}
 * (ONNX Runtime's constant folding) does and as Optimum's exports already are: a tied LM head
 * ({@code Transpose(wte)}) then has a constant B and is quantized, as in real quantized exports.
 * Unused float initializers are removed ({@code clean_initializers}).
 */
public final class OrtQuantizedGraphs {
    public enum Form {
        INT4_MATMUL_NBITS("int4"), INT8_DYNAMIC("int8-dynamic"), INT8_QDQ("int8-qdq");

        private final String id;

        Form(String id) {
            this.id = id;
        }

        public String id() {
            return id;
        }
    }

    public static final int BLOCK_SIZE = 32;
    /** accuracy_level 4: int8 compute, what ONNX Runtime's docs recommend on CPUs. */
    public static final int ACCURACY_LEVEL = 4;
    private static final String MS = "com.microsoft";

    private OrtQuantizedGraphs() {
    }

    /**
     * A copy of model folder {@code dir} at {@code dest} (reused when complete) with every {@code .onnx}
     * graph quantized in {@code form}; the other files copied unchanged.
     */
    public static synchronized Path copy(Path dir, Path dest, Form form) {
        try {
            if (Files.isRegularFile(dest.resolve(".complete"))) {
                return dest;
            }
            Files.createDirectories(dest);
            Calibration calibration = new Calibration();
            try (Stream<Path> files = Files.list(dir)) {
                // The encoder first: its outputs are the decoders' calibration inputs, as a data reader would feed them.
                for (Path f : files.filter(Files::isRegularFile)
                        .sorted(java.util.Comparator.comparing((Path p) -> !p.getFileName().toString().startsWith("encoder"))
                                .thenComparing(Path::toString)).toList()) {
                    Path to = dest.resolve(f.getFileName());
                    if (f.getFileName().toString().endsWith(".onnx")) {
                        quantize(f, to, form, calibration);
                    } else {
                        Files.copy(f, to, StandardCopyOption.REPLACE_EXISTING);
                    }
                }
            }
            Files.writeString(dest.resolve(".complete"), form.id());
            return dest;
        } catch (IOException | OrtException e) {
            throw new IllegalStateException("quantizing " + dir + " as " + form.id() + ": " + e, e);
        }
    }

    public static void quantize(Path source, Path target, Form form) throws IOException, OrtException {
        quantize(source, target, form, new Calibration());
    }

    private static void quantize(Path source, Path target, Form form, Calibration calibration) throws IOException, OrtException {
        ModelProto model;
        try (InputStream in = new BufferedInputStream(Files.newInputStream(source), 1 << 20)) {
            model = ModelProto.parseFrom(in);
        }
        ModelProto quantized = quantize(model, form, calibration);
        try (OutputStream out = new BufferedOutputStream(Files.newOutputStream(target), 1 << 20)) {
            quantized.writeTo(out);
        }
    }

    public static ModelProto quantize(ModelProto model, Form form) throws OrtException {
        return quantize(model, form, new Calibration());
    }

    private static ModelProto quantize(ModelProto model, Form form, Calibration calibration) throws OrtException {
        ModelProto.Builder m = model.toBuilder();
        GraphProto.Builder g = m.getGraphBuilder();
        foldTransposedInitializers(g);
        switch (form) {
            case INT4_MATMUL_NBITS -> new NBits(g).graph(g, List.of());
            case INT8_DYNAMIC -> new Dynamic(g).graph(g, List.of());
            case INT8_QDQ -> new Qdq(g, calibration.ranges(m.build())).run();
        }
        cleanInitializers(g);
        if (form != Form.INT8_QDQ && m.getOpsetImportList().stream().noneMatch(o -> o.getDomain().equals(MS))) {
            m.addOpsetImport(OperatorSetIdProto.newBuilder().setDomain(MS).setVersion(1));
        }
        return m.build();
    }

    // --- MatMulNBits ---------------------------------------------------------------------------

    /** MatMul4BitsQuantizer: every MatMul with a 2-D float initializer B, in every (sub)graph. */
    private static final class NBits {
        private final Set<String> done = new HashSet<>();

        NBits(GraphProto.Builder main) {
        }

        /** {@code outer}: the enclosing graphs, innermost last, where B may live. */
        void graph(GraphProto.Builder g, List<GraphProto.Builder> outer) {
            List<GraphProto.Builder> stack = new ArrayList<>(outer);
            stack.add(g);
            for (int i = 0; i < g.getNodeCount(); i++) {
                NodeProto.Builder n = g.getNodeBuilder(i);
                for (AttributeProto.Builder a : n.getAttributeBuilderList()) {
                    if (a.hasG()) {
                        graph(a.getGBuilder(), stack);
                    }
                }
                if (!n.getOpType().equals("MatMul") || !n.getDomain().isEmpty()) {
                    continue;
                }
                GraphProto.Builder holder = holderOf(n.getInput(1), stack);
                if (holder == null) {
                    continue;
                }
                TensorProto b = initializer(holder, n.getInput(1));
                if (b.getDimsCount() != 2 || b.getDataType() != TensorProto.DataType.FLOAT.getNumber()) {
                    continue;
                }
                int k = (int) b.getDims(0);
                int cols = (int) b.getDims(1);
                float[] w = floats(b);
                int kBlocks = (k + BLOCK_SIZE - 1) / BLOCK_SIZE;
                int blob = BLOCK_SIZE / 2;
                byte[] packed = new byte[cols * kBlocks * blob];
                float[] scales = new float[cols * kBlocks];
                int zpPerColumn = (kBlocks + 1) / 2;
                byte[] zeroPoints = new byte[cols * zpPerColumn];
                for (int c = 0; c < cols; c++) {
                    for (int kb = 0; kb < kBlocks; kb++) {
                        float min = 0;
                        float max = 0;
                        for (int r = kb * BLOCK_SIZE; r < Math.min(k, (kb + 1) * BLOCK_SIZE); r++) {
                            min = Math.min(min, w[r * cols + c]);
                            max = Math.max(max, w[r * cols + c]);
                        }
                        float scale = (max - min) / 15f;
                        int zp = scale == 0 ? 0 : Math.clamp(Math.round(-min / scale), 0, 15);
                        float reciprocal = scale == 0 ? 0 : 1f / scale;
                        scales[c * kBlocks + kb] = scale;
                        int zpAt = c * zpPerColumn + kb / 2;
                        zeroPoints[zpAt] |= (byte) (kb % 2 == 0 ? zp : zp << 4);
                        for (int j = 0; j < BLOCK_SIZE; j++) {
                            int r = kb * BLOCK_SIZE + j;
                            float v = r < k ? w[r * cols + c] : 0;
                            int q = Math.clamp(Math.round(v * reciprocal + zp), 0, 15);
                            int at = (c * kBlocks + kb) * blob + j / 2;
                            packed[at] |= (byte) (j % 2 == 0 ? q : q << 4);
                        }
                    }
                }
                String name = b.getName();
                // A merged decoder's two branches read the same outer weights: one quantized copy serves both.
                if (done.add(name)) {
                    holder.addInitializer(tensor(name + "_Q4", TensorProto.DataType.UINT8, packed, cols, kBlocks, blob));
                    holder.addInitializer(floatTensor(name + "_scales", scales, scales.length));
                    holder.addInitializer(tensor(name + "_zero_points", TensorProto.DataType.UINT8, zeroPoints,
                            zeroPoints.length));
                }
                NodeProto.Builder q = NodeProto.newBuilder().setOpType("MatMulNBits").setDomain(MS)
                        .setName(n.getName().isEmpty() ? "" : n.getName() + "_Q4")
                        .addInput(n.getInput(0)).addInput(name + "_Q4").addInput(name + "_scales")
                        .addInput(name + "_zero_points").addOutput(n.getOutput(0))
                        .addAttribute(intAttr("K", k)).addAttribute(intAttr("N", cols)).addAttribute(intAttr("bits", 4))
                        .addAttribute(intAttr("block_size", BLOCK_SIZE)).addAttribute(intAttr("accuracy_level", ACCURACY_LEVEL));
                g.setNode(i, q);
            }
        }
    }

    // --- quantize_dynamic ----------------------------------------------------------------------

    /** ONNXQuantizer in IntegerOps mode, MatMul only, const B only; subgraphs quantized with the graph holding B. */
    private static final class Dynamic {
        private final Set<String> quantizedWeights = new HashSet<>();

        Dynamic(GraphProto.Builder main) {
        }

        void graph(GraphProto.Builder g, List<GraphProto.Builder> outer) {
            List<GraphProto.Builder> stack = new ArrayList<>(outer);
            stack.add(g);
            Set<String> quantizedActivations = new HashSet<>();
            List<NodeProto> out = new ArrayList<>();
            for (int i = 0; i < g.getNodeCount(); i++) {
                NodeProto.Builder n = g.getNodeBuilder(i);
                for (AttributeProto.Builder a : n.getAttributeBuilderList()) {
                    if (a.hasG()) {
                        graph(a.getGBuilder(), stack);
                    }
                }
                GraphProto.Builder holder = n.getOpType().equals("MatMul") && n.getDomain().isEmpty()
                        ? holderOf(n.getInput(1), stack) : null;
                TensorProto b = holder == null ? null : initializer(holder, n.getInput(1));
                if (b == null || b.getDataType() != TensorProto.DataType.FLOAT.getNumber()
                        || holderOf(n.getInput(0), stack) != null) {
                    out.add(n.build());
                    continue;
                }
                String x = n.getInput(0);
                if (quantizedActivations.add(x)) {
                    out.add(NodeProto.newBuilder().setOpType("DynamicQuantizeLinear").setName(x + "_QuantizeLinear")
                            .addInput(x).addOutput(x + "_quantized").addOutput(x + "_scale").addOutput(x + "_zero_point")
                            .build());
                }
                String w = b.getName();
                if (quantizedWeights.add(w)) {
                    float[] values = floats(b);
                    float scale = symmetricInt8Scale(values);
                    byte[] q = new byte[values.length];
                    for (int j = 0; j < values.length; j++) {
                        q[j] = (byte) Math.clamp((long) Math.rint(values[j] / scale), -127, 127);
                    }
                    long[] dims = b.getDimsList().stream().mapToLong(Long::longValue).toArray();
                    holder.addInitializer(tensor(w + "_quantized", TensorProto.DataType.INT8, q, dims));
                    holder.addInitializer(floatTensor(w + "_scale", new float[] {scale}));
                    holder.addInitializer(tensor(w + "_zero_point", TensorProto.DataType.INT8, new byte[1]));
                }
                String y = n.getOutput(0);
                String name = n.getName().isEmpty() ? "" : n.getName() + "_quant";
                String integer = y + "_output_quantized";
                String cast = integer + "_cast_output";
                String scalesMul = name.isEmpty() ? x + "_scale_" + w + "_scale_mul" : name + "_scales_mul";
                out.add(NodeProto.newBuilder().setOpType("MatMulInteger").setName(name)
                        .addInput(x + "_quantized").addInput(w + "_quantized").addInput(x + "_zero_point")
                        .addInput(w + "_zero_point").addOutput(integer).build());
                out.add(NodeProto.newBuilder().setOpType("Cast").setName(integer + "_cast").addInput(integer)
                        .addOutput(cast).addAttribute(intAttr("to", TensorProto.DataType.FLOAT.getNumber())).build());
                out.add(NodeProto.newBuilder().setOpType("Mul").setName(scalesMul).addInput(x + "_scale")
                        .addInput(w + "_scale").addOutput(scalesMul + ":0").build());
                out.add(NodeProto.newBuilder().setOpType("Mul").setName(name.isEmpty() ? "" : name + "_output_scale_mul")
                        .addInput(cast).addInput(scalesMul + ":0").addOutput(y).build());
            }
            g.clearNode().addAllNode(out);
        }
    }

    // --- QDQ -----------------------------------------------------------------------------------

    /** QDQQuantizer over the main graph's MatMuls with a float initializer B; activations from calibration. */
    private static final class Qdq {
        private final GraphProto.Builder g;
        private final Map<String, float[]> ranges;
        private final Set<String> outputs = new HashSet<>();

        Qdq(GraphProto.Builder g, Map<String, float[]> ranges) {
            this.g = g;
            this.ranges = ranges;
            g.getOutputList().forEach(o -> outputs.add(o.getName()));
        }

        void run() {
            Set<String> weights = new HashSet<>();
            Set<String> activations = new HashSet<>();
            for (NodeProto n : g.getNodeList()) {
                if (isQuantizable(g, n)) {
                    weights.add(n.getInput(1));
                    activations.add(n.getInput(0));
                    activations.add(n.getOutput(0));
                }
            }
            Map<String, String> renamed = new HashMap<>();
            for (String w : weights) {
                TensorProto b = initializer(g, w);
                float[] values = floats(b);
                float scale = symmetricInt8Scale(values);
                byte[] q = new byte[values.length];
                for (int j = 0; j < values.length; j++) {
                    q[j] = (byte) Math.clamp((long) Math.rint(values[j] / scale), -127, 127);
                }
                g.addInitializer(tensor(w + "_quantized", TensorProto.DataType.INT8, q,
                        b.getDimsList().stream().mapToLong(Long::longValue).toArray()));
                g.addInitializer(floatTensor(w + "_scale", new float[] {scale}));
                g.addInitializer(tensor(w + "_zero_point", TensorProto.DataType.INT8, new byte[1]));
                renamed.put(w, w + "_DequantizeLinear_Output");
            }
            for (String x : activations) {
                float[] range = ranges.get(x);
                if (range == null) {
                    throw new IllegalStateException("no calibration range for " + x);
                }
                float min = Math.min(range[0], 0);
                float max = Math.max(range[1], 0);
                float scale = (max - min) / 255f;
                if (scale == 0) {
                    scale = 1;
                }
                int zp = (int) Math.clamp(Math.rint(-128 - min / scale), -128, 127);
                g.addInitializer(floatTensor(x + "_scale", new float[] {scale}));
                g.addInitializer(tensor(x + "_zero_point", TensorProto.DataType.INT8, new byte[] {(byte) zp}));
                if (!outputs.contains(x)) {
                    renamed.put(x, x + "_DequantizeLinear_Output");
                }
            }
            List<NodeProto> out = new ArrayList<>();
            for (String w : weights) {
                out.add(NodeProto.newBuilder().setOpType("DequantizeLinear").setName(w + "_DequantizeLinear")
                        .addInput(w + "_quantized").addInput(w + "_scale").addInput(w + "_zero_point")
                        .addOutput(w + "_DequantizeLinear_Output").build());
            }
            for (String x : g.getInputList().stream().map(ValueInfoProto::getName).filter(activations::contains).toList()) {
                out.addAll(pair(x));
            }
            for (NodeProto n : g.getNodeList()) {
                NodeProto.Builder b = n.toBuilder();
                for (int k = 0; k < b.getInputCount(); k++) {
                    b.setInput(k, renamed.getOrDefault(b.getInput(k), b.getInput(k)));
                }
                for (int k = 0; k < b.getOutputCount(); k++) {
                    if (outputs.contains(b.getOutput(k)) && activations.contains(b.getOutput(k))) {
                        b.setOutput(k, b.getOutput(k) + "_QuantizeLinear_Input");
                    }
                }
                out.add(b.build());
                for (String y : n.getOutputList()) {
                    if (activations.contains(y)) {
                        out.addAll(pair(y));
                    }
                }
            }
            g.clearNode().addAllNode(out);
        }

        private List<NodeProto> pair(String x) {
            boolean output = outputs.contains(x);
            String qIn = output ? x + "_QuantizeLinear_Input" : x;
            String dqOut = output ? x : x + "_DequantizeLinear_Output";
            return List.of(
                    NodeProto.newBuilder().setOpType("QuantizeLinear").setName(x + "_QuantizeLinear").addInput(qIn)
                            .addInput(x + "_scale").addInput(x + "_zero_point").addOutput(x + "_QuantizeLinear_Output").build(),
                    NodeProto.newBuilder().setOpType("DequantizeLinear").setName(x + "_DequantizeLinear")
                            .addInput(x + "_QuantizeLinear_Output").addInput(x + "_scale").addInput(x + "_zero_point")
                            .addOutput(dqOut).build());
        }
    }

    private static boolean isQuantizable(GraphProto.Builder g, NodeProto n) {
        if (!n.getOpType().equals("MatMul") || !n.getDomain().isEmpty()) {
            return false;
        }
        TensorProto b = initializer(g, n.getInput(1));
        return b != null && b.getDataType() == TensorProto.DataType.FLOAT.getNumber() && initializer(g, n.getInput(0)) == null;
    }

    /**
     * MinMax calibration: the float graph run by ONNX Runtime with every tensor a quantizable MatMul
     * reads or writes added as an output, over two deterministic inputs (batch 1, 8 positions, no own
     * past). What one graph of a folder outputs feeds the next where names match, as a calibration data
     * reader would: an encoder's {@code last_hidden_state} becomes the decoders' {@code encoder_hidden_states},
     * a decoder's cross-attention presents the with-past decoder's cross-attention pasts.
     */
    private static final class Calibration {
        private static final int SEEDS = 2;
        private final List<Map<String, Value>> produced = new ArrayList<>();

        Calibration() {
            for (int i = 0; i < SEEDS; i++) {
                produced.add(new HashMap<>());
            }
        }

        Map<String, float[]> ranges(ModelProto model) throws OrtException {
            GraphProto.Builder g = model.getGraph().toBuilder();
            Set<String> have = new HashSet<>();
            g.getOutputList().forEach(o -> have.add(o.getName()));
            Set<String> wanted = new HashSet<>();
            for (NodeProto n : g.getNodeList()) {
                if (isQuantizable(g, n)) {
                    wanted.add(n.getInput(0));
                    wanted.add(n.getOutput(0));
                }
            }
            Map<String, float[]> ranges = new HashMap<>();
            if (wanted.isEmpty()) {
                return ranges;
            }
            for (String t : wanted) {
                if (have.add(t)) {
                    g.addOutput(ValueInfoProto.newBuilder().setName(t).setType(TypeProto.newBuilder()
                            .setTensorType(TypeProto.Tensor.newBuilder().setElemType(TensorProto.DataType.FLOAT.getNumber()))));
                }
            }
            Set<String> fetch = new HashSet<>(wanted);
            model.getGraph().getOutputList().forEach(o -> fetch.add(o.getName()));
            OrtEnvironment env = OrtEnvironment.getEnvironment();
            try (OrtSession.SessionOptions options = new OrtSession.SessionOptions()) {
                options.setIntraOpNumThreads(1);
                try (OrtSession session = env.createSession(model.toBuilder().setGraph(g).build().toByteArray(), options)) {
                    for (int seed = 0; seed < SEEDS; seed++) {
                        Map<String, OnnxTensor> feed = feeds(env, model.getGraph(), 8, seed, produced.get(seed));
                        try (OrtSession.Result r = session.run(feed, fetch)) {
                            for (String t : fetch) {
                                OnnxTensor out = (OnnxTensor) r.get(t).orElseThrow();
                                if (out.getInfo().type != ai.onnxruntime.OnnxJavaType.FLOAT) {
                                    continue;
                                }
                                FloatBuffer values = out.getFloatBuffer();
                                float[] all = new float[values.remaining()];
                                values.get(all);
                                produced.get(seed).put(t, new Value(all, out.getInfo().getShape()));
                                if (!wanted.contains(t)) {
                                    continue;
                                }
                                float[] range = ranges.computeIfAbsent(t, k -> new float[] {Float.MAX_VALUE, -Float.MAX_VALUE});
                                for (float v : all) {
                                    range[0] = Math.min(range[0], v);
                                    range[1] = Math.max(range[1], v);
                                }
                            }
                        } finally {
                            feed.values().forEach(OnnxTensor::close);
                        }
                    }
                }
            }
            return ranges;
        }
    }

    private record Value(float[] data, long[] shape) {
        /** An earlier graph's output that feeds input {@code name}, if any. */
        static Value feeding(String name, Map<String, Value> produced) {
            if (name.equals("encoder_hidden_states")) {
                return produced.get("last_hidden_state");
            }
            if (name.startsWith("past_key_values.") && name.contains(".encoder.")) {
                return produced.get(name.replace("past_key_values.", "present."));
            }
            return null;
        }
    }

    /**
     * Inputs for one calibration pass, from the graph's declared inputs: batch 1, {@code n} positions,
     * empty pasts, a full mask, positions 0…n−1, token ids below 1,000; float inputs (an encoder's
     * hidden states, the in-place cache) deterministic values in [−1, 1].
     */
    private static Map<String, OnnxTensor> feeds(OrtEnvironment env, GraphProto graph, int n, int seed,
                                                 Map<String, Value> produced) throws OrtException {
        Set<String> initializers = new HashSet<>();
        graph.getInitializerList().forEach(t -> initializers.add(t.getName()));
        Map<String, OnnxTensor> feed = new LinkedHashMap<>();
        for (ValueInfoProto in : graph.getInputList()) {
            if (initializers.contains(in.getName())) {
                continue;
            }
            String name = in.getName();
            Value earlier = Value.feeding(name, produced);
            if (earlier != null) {
                feed.put(name, OnnxTensor.createTensor(env, FloatBuffer.wrap(earlier.data()), earlier.shape()));
                continue;
            }
            TypeProto.Tensor t = in.getType().getTensorType();
            long[] shape = new long[t.getShape().getDimCount()];
            for (int d = 0; d < shape.length; d++) {
                TensorShapeProto.Dimension dim = t.getShape().getDim(d);
                String p = dim.getDimParam();
                shape[d] = dim.hasDimValue() ? dim.getDimValue() : p.contains("batch") ? 1 : p.contains("past") ? 0
                        : p.equals("max_length") ? 2L * n : n;
            }
            int size = 1;
            for (long s : shape) {
                size *= (int) s;
            }
            long[] v = new long[size];
            for (int i = 0; i < size; i++) {
                long pos = shape.length == 0 ? 0 : i % shape[shape.length - 1];
                v[i] = name.contains("mask") ? 1 : name.contains("position") || name.equals(GatherRewrite.INPUT) ? pos
                        : name.equals("seqlens_k") ? n - 1 : name.equals("total_sequence_length") ? n
                        : name.contains("token_type") ? 0 : (i * 37L + 11 + seed * 101L) % 1000;
            }
            TensorProto.DataType type = TensorProto.DataType.forNumber(t.getElemType());
            OnnxTensor tensor = switch (type) {
                case INT64 -> OnnxTensor.createTensor(env, LongBuffer.wrap(v), shape);
                case INT32 -> {
                    int[] w = new int[size];
                    for (int i = 0; i < size; i++) {
                        w[i] = (int) v[i];
                    }
                    yield OnnxTensor.createTensor(env, IntBuffer.wrap(w), shape);
                }
                case BOOL -> OnnxTensor.createTensor(env, ByteBuffer.allocateDirect(size), shape, ai.onnxruntime.OnnxJavaType.BOOL);
                case FLOAT -> {
                    float[] w = new float[size];
                    for (int i = 0; i < size; i++) {
                        w[i] = (float) Math.sin(i * 0.7 + seed);
                    }
                    yield OnnxTensor.createTensor(env, FloatBuffer.wrap(w), shape);
                }
                default -> throw new IllegalArgumentException("no calibration feed for " + name + " of type " + type);
            };
            feed.put(name, tensor);
        }
        return feed;
    }

    // --- shared --------------------------------------------------------------------------------

    /** quant_pre_process's constant folding, as far as quantization cares: Transpose of an initializer. */
    private static void foldTransposedInitializers(GraphProto.Builder g) {
        List<NodeProto> kept = new ArrayList<>();
        for (NodeProto n : g.getNodeList()) {
            TensorProto src = n.getOpType().equals("Transpose") ? initializer(g, n.getInput(0)) : null;
            if (src == null || src.getDimsCount() != 2 || src.getDataType() != TensorProto.DataType.FLOAT.getNumber()) {
                kept.add(n);
                continue;
            }
            int rows = (int) src.getDims(0);
            int cols = (int) src.getDims(1);
            float[] v = floats(src);
            float[] t = new float[v.length];
            for (int r = 0; r < rows; r++) {
                for (int c = 0; c < cols; c++) {
                    t[c * rows + r] = v[r * cols + c];
                }
            }
            g.addInitializer(floatTensor(n.getOutput(0), t, cols, rows));
        }
        g.clearNode().addAllNode(kept);
    }

    /** Removes initializers no node of the graph (or its subgraphs) reads and no output names. */
    private static void cleanInitializers(GraphProto.Builder g) {
        Set<String> read = new HashSet<>();
        readIn(g.build(), read);
        g.getOutputList().forEach(o -> read.add(o.getName()));
        List<TensorProto> keep = g.getInitializerList().stream().filter(t -> read.contains(t.getName())).toList();
        g.clearInitializer().addAllInitializer(keep);
    }

    private static void readIn(GraphProto g, Set<String> into) {
        for (NodeProto n : g.getNodeList()) {
            into.addAll(n.getInputList());
            for (AttributeProto a : n.getAttributeList()) {
                if (a.hasG()) {
                    readIn(a.getG(), into);
                }
                a.getGraphsList().forEach(s -> readIn(s, into));
            }
        }
    }

    private static GraphProto.Builder holderOf(String name, List<GraphProto.Builder> stack) {
        for (int i = stack.size() - 1; i >= 0; i--) {
            if (initializer(stack.get(i), name) != null) {
                return stack.get(i);
            }
        }
        return null;
    }

    private static TensorProto initializer(GraphProto.Builder g, String name) {
        for (TensorProto t : g.getInitializerList()) {
            if (t.getName().equals(name)) {
                return t;
            }
        }
        return null;
    }

    /** max |w| / 127: quant_utils.compute_scale_zp for symmetric int8 ([-127, 127]). */
    private static float symmetricInt8Scale(float[] values) {
        float absMax = 0;
        for (float v : values) {
            absMax = Math.max(absMax, Math.abs(v));
        }
        return absMax == 0 ? 1f : absMax / 127f;
    }

    static float[] floats(TensorProto t) {
        if (t.getFloatDataCount() > 0) {
            float[] out = new float[t.getFloatDataCount()];
            for (int i = 0; i < out.length; i++) {
                out[i] = t.getFloatData(i);
            }
            return out;
        }
        FloatBuffer b = t.getRawData().asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer();
        float[] out = new float[b.remaining()];
        b.get(out);
        return out;
    }

    private static TensorProto floatTensor(String name, float[] values, long... dims) {
        ByteBuffer buf = ByteBuffer.allocate(values.length * Float.BYTES).order(ByteOrder.LITTLE_ENDIAN);
        buf.asFloatBuffer().put(values);
        return tensor(name, TensorProto.DataType.FLOAT, buf.array(), dims);
    }

    private static TensorProto tensor(String name, TensorProto.DataType type, byte[] raw, long... dims) {
        TensorProto.Builder t = TensorProto.newBuilder().setName(name).setDataType(type.getNumber())
                .setRawData(ByteString.copyFrom(raw));
        for (long d : dims) {
            t.addDims(d);
        }
        return t.build();
    }

    private static AttributeProto intAttr(String name, long value) {
        return AttributeProto.newBuilder().setName(name).setType(AttributeProto.AttributeType.INT).setI(value).build();
    }
}
