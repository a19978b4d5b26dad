package io.spindle.runtime.family.bert;

import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtSession;
import ai.onnxruntime.TensorInfo;
import io.spindle.engine.exec.EncoderRunner;
import io.spindle.runtime.demo.BertGraphBuilder;
import io.spindle.runtime.demo.BertGraphBuilder.Head;
import io.spindle.runtime.demo.BertShape;
import io.spindle.runtime.onnx.GatherRewrite;
import io.spindle.runtime.onnx.OrtRuntime;
import io.spindle.runtime.onnx.RewriteCache;
import io.spindle.testing.TestModels;
import io.spindle.text.TextTokenizer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.OutputStream;
import java.nio.FloatBuffer;
import java.nio.LongBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Model tests of the masked-LM rewrite on the project-built tiny BERT (bert-base-uncased's 30,522
 * vocabulary): the rewritten graph's logits at the masks equal the unmodified graph's at the same
 * positions, batched with padding and several masks per input, for the fused operators and for the
 * decomposed ones PyTorch exports; the rewrite is cached and a damaged cache file is rebuilt; a head
 * that is not recognised is served as exported.
 */
class MaskedLmGatherTest {
    private static final OrtRuntime ORT = new OrtRuntime("cpu", 2);
    private static final int VOCAB = BertShape.BERT_UNCASED_VOCAB;
    /** Different lengths (so the batch pads), one to four masks per input, two of them side by side. */
    private static final List<String> TEXTS = List.of(
            "The capital of France is [MASK].",
            "A [MASK] sat on the [MASK] all afternoon, purring at the [MASK] and the [MASK] outside.",
            "[MASK]",
            "Paris is [MASK] [MASK] city in Europe, and it has many museums, parks, bridges and cafés along the river.");
    private static TextTokenizer tokenizer;
    private static int mask;

    @TempDir
    Path tmp;

    @BeforeAll
    static void load() throws Exception {
        tokenizer = TextTokenizer.load(TestModels.tinyBert(Head.MASKED_LM).resolve("tokenizer.json"));
        mask = tokenizer.addedTokenId("[MASK]").orElseThrow();
    }

    @AfterAll
    static void close() {
        tokenizer.close();
    }

    @Test
    void rewrittenLogitsEqualTheExportsAtTheMasks() throws Exception {
        assertRewriteEqualsExport(TestModels.tinyBert(Head.MASKED_LM));
    }

    @Test
    void rewrittenLogitsEqualTheExportsForDecomposedLayerNormsAndGelu() throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("decomposed"));
        try (OutputStream out = Files.newOutputStream(dir.resolve("model.onnx"))) {
            new BertGraphBuilder(BertShape.TINY, Head.MASKED_LM, 99, BertGraphBuilder.Ops.DECOMPOSED).write(out);
        }
        ModelProto model = ModelProto.parseFrom(Files.readAllBytes(dir.resolve("model.onnx")));
        assertTrue(model.getGraph().getNodeList().stream().noneMatch(n -> n.getOpType().equals("LayerNormalization")),
                "layer norms written as ReduceMean/Sub/Pow/Sqrt/Div/Mul/Add");
        assertRewriteEqualsExport(dir);
    }

    @Test
    void theTailStartsBeforeTheLastLayersFeedForwardBlock() throws Exception {
        ModelProto model = ModelProto.parseFrom(Files.readAllBytes(TestModels.tinyBert(Head.MASKED_LM).resolve("model.onnx")));
        GatherRewrite.Rewritten r = GatherRewrite.rewrite(model, "logits");
        // Head: dense, GELU, layer norm, decoder; last layer: the attention's layer norm, then the feed-forward
        // block (intermediate and output dense) and its layer norm. Nothing of the attention itself.
        String summary = r.tail().summary();
        assertTrue(summary.contains("LayerNormalization×3") && summary.contains("MatMul×4"), summary);
        assertFalse(summary.contains("Reshape") || summary.contains("Softmax") || summary.contains("Transpose"), summary);
        GraphProto g = r.model().getGraph();
        assertTrue(g.getInputList().stream().anyMatch(i -> i.getName().equals(GatherRewrite.INPUT)));
        assertEquals(1, g.getNodeList().stream().filter(n -> n.getOpType().equals("Gather")
                && n.getInputList().contains(GatherRewrite.INPUT)).count());
    }

    @Test
    void theRewriteIsCachedAndADamagedCacheFileIsRebuilt() throws Exception {
        Path dir = TestModels.tinyBert(Head.MASKED_LM);
        Path cacheDir = tmp.resolve("rewritten");
        List<int[]> inputs = inputs();
        float[][] first;
        try (Closing runner = load(dir, cacheDir)) {
            first = runner.encode(inputs);
        }
        Path file = new RewriteCache(cacheDir).file(dir.resolve("model.onnx"), GatherRewrite.VERSION);
        assertTrue(Files.isRegularFile(file) && Files.isRegularFile(RewriteCache.checksum(file)), "cached at " + file);
        long written = Files.getLastModifiedTime(file).toMillis();
        try (Closing runner = load(dir, cacheDir)) {
            assertEquals(written, Files.getLastModifiedTime(file).toMillis(), "served from the cache, not rewritten again");
            assertRowsEqual(first, runner.encode(inputs), 0);
        }
        byte[] bytes = Files.readAllBytes(file);
        bytes[bytes.length / 2] ^= 0x5a;
        Files.write(file, bytes);
        try (Closing runner = load(dir, cacheDir)) {
            assertTrue(runner.gathered(), "rebuilt, not served as exported");
            assertEquals(Files.readString(RewriteCache.checksum(file)).strip(), RewriteCache.sha256(file),
                    "the damaged file was replaced by a sound one");
            assertRowsEqual(first, runner.encode(inputs), 0);
        }
        Files.write(file, java.util.Arrays.copyOf(bytes, 1000));
        try (Closing runner = load(dir, cacheDir)) {
            assertTrue(runner.gathered(), "a file cut short is rebuilt too");
            assertRowsEqual(first, runner.encode(inputs), 0);
        }
    }

    @Test
    void anUnrecognisedHeadIsServedAsExported() throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("reshaped"));
        ModelProto model = ModelProto.parseFrom(Files.readAllBytes(TestModels.tinyBert(Head.MASKED_LM).resolve("model.onnx")));
        // logits = Reshape(x, Shape(x)): the same values, through an operator that may move values between positions.
        GraphProto.Builder g = model.getGraph().toBuilder();
        for (int i = 0; i < g.getNodeCount(); i++) {
            if (g.getNode(i).getOutputList().contains("logits")) {
                g.setNode(i, g.getNode(i).toBuilder().setOutput(0, "pre_logits"));
            }
        }
        g.addNode(NodeProto.newBuilder().setOpType("Shape").addInput("pre_logits").addOutput("pre_shape"));
        g.addNode(NodeProto.newBuilder().setOpType("Reshape").addInput("pre_logits").addInput("pre_shape").addOutput("logits"));
        Files.write(dir.resolve("model.onnx"), model.toBuilder().setGraph(g).build().toByteArray());
        try (Closing runner = load(dir, tmp.resolve("rewritten"))) {
            assertFalse(runner.gathered());
            assertRowsEqual(exportLogitsAtMasks(dir, inputs()), runner.encode(inputs()), 1e-5);
        }
        assertFalse(Files.exists(tmp.resolve("rewritten").resolve(
                RewriteCache.sha256(dir.resolve("model.onnx")) + "-" + GatherRewrite.VERSION + ".onnx")));
    }

    /** Batched, and each input alone: every mask's logits equal the unmodified graph's at that position. */
    private void assertRewriteEqualsExport(Path dir) throws Exception {
        List<int[]> inputs = inputs();
        float[][] expected = exportLogitsAtMasks(dir, inputs);
        try (Closing runner = load(dir, tmp.resolve("rewritten"))) {
            assertTrue(runner.gathered(), "the head runs at the masks only");
            try (OrtSession rewritten = ORT.open(new RewriteCache(tmp.resolve("rewritten"))
                    .file(dir.resolve("model.onnx"), GatherRewrite.VERSION))) {
                long[] shape = ((TensorInfo) rewritten.getOutputInfo().get("logits").getInfo()).getShape();
                assertArrayEquals(new long[] {1, -1, VOCAB}, shape, "logits are [1, masks, vocab]");
            }
            float[][] together = runner.encode(inputs);
            assertRowsEqual(expected, together, 1e-5);
            for (int i = 0; i < inputs.size(); i++) {
                float[] alone = runner.encode(List.of(inputs.get(i)))[0];
                assertRowsEqual(new float[][] {expected[i]}, new float[][] {alone}, 1e-5);
            }
        }
    }

    private static void assertRowsEqual(float[][] expected, float[][] actual, double tolerance) {
        assertEquals(expected.length, actual.length);
        for (int i = 0; i < expected.length; i++) {
            assertEquals(expected[i].length, actual[i].length, "input " + i + ": one row of logits per mask");
            for (int k = 0; k < expected[i].length; k++) {
                if (Math.abs(expected[i][k] - actual[i][k]) > tolerance) {
                    assertEquals(expected[i][k], actual[i][k], tolerance, "input " + i + " mask " + k / VOCAB
                            + " token " + k % VOCAB);
                }
            }
        }
    }

    /** The unmodified graph's logits for the whole padded batch, picked at each input's masks. */
    private static float[][] exportLogitsAtMasks(Path dir, List<int[]> inputs) throws Exception {
        int seq = BertFeed.paddedLength(inputs);
        long[] ids = new long[inputs.size() * seq];
        long[] attention = new long[ids.length];
        for (int r = 0; r < inputs.size(); r++) {
            for (int t = 0; t < inputs.get(r).length; t++) {
                ids[r * seq + t] = inputs.get(r)[t];
                attention[r * seq + t] = 1;
            }
        }
        long[] shape = {inputs.size(), seq};
        float[] all;
        try (OrtSession session = ORT.open(dir.resolve("model.onnx"));
             OnnxTensor a = OnnxTensor.createTensor(ORT.env(), LongBuffer.wrap(ids), shape);
             OnnxTensor b = OnnxTensor.createTensor(ORT.env(), LongBuffer.wrap(attention), shape);
             OnnxTensor c = OnnxTensor.createTensor(ORT.env(), LongBuffer.wrap(new long[ids.length]), shape)) {
            Map<String, OnnxTensor> feed = new HashMap<>(Map.of("input_ids", a, "attention_mask", b, "token_type_ids", c));
            try (OrtSession.Result r = session.run(feed)) {
                FloatBuffer fb = ((OnnxTensor) r.get(0)).getFloatBuffer();
                all = new float[fb.remaining()];
                fb.get(all);
            }
        }
        assertEquals((long) inputs.size() * seq * VOCAB, all.length);
        float[][] out = new float[inputs.size()][];
        for (int r = 0; r < inputs.size(); r++) {
            int[] in = inputs.get(r);
            List<Integer> at = new ArrayList<>();
            for (int t = 0; t < in.length; t++) {
                if (in[t] == mask) {
                    at.add(t);
                }
            }
            out[r] = new float[at.size() * VOCAB];
            for (int m = 0; m < at.size(); m++) {
                System.arraycopy(all, (r * seq + at.get(m)) * VOCAB, out[r], m * VOCAB, VOCAB);
            }
        }
        return out;
    }

    private static List<int[]> inputs() {
        List<int[]> in = new ArrayList<>();
        TEXTS.forEach(t -> in.add(tokenizer.encode(t, true)));
        return in;
    }

    private static Closing load(Path dir, Path cacheDir) throws Exception {
        EncoderRunner runner = BertLoader.load(ORT, dir, 512, mask, cacheDir);
        return new Closing(assertInstanceOf(MaskedLmEncoder.class, runner));
    }

    /** A masked-LM runner for try-with-resources. */
    private record Closing(MaskedLmEncoder runner) implements AutoCloseable {
        float[][] encode(List<int[]> inputs) throws Exception {
            return runner.encode(inputs);
        }

        boolean gathered() {
            return runner.gathered();
        }

        @Override
        public void close() {
            runner.close();
        }
    }
}
