package io.spindle.runtime.family.gpt2;

import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import com.google.protobuf.ByteString;
import io.spindle.engine.exec.StepInput;
import io.spindle.engine.exec.StepOutput;
import io.spindle.model.ModelConfig;
import io.spindle.runtime.demo.DemoLayout;
import io.spindle.runtime.demo.DemoPreset;
import io.spindle.runtime.demo.Gpt2GraphBuilder;
import io.spindle.runtime.onnx.KvDtype;
import io.spindle.runtime.onnx.OrtRuntime;
import io.spindle.runtime.onnx.RewriteCache;
import io.spindle.testing.ModelFolders;
import io.spindle.testing.TestModels;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.api.Test;

import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code spindle.models.kv-layout=in-place}: every exporter layout of the demo GPT-2 and the external
 * onnxruntime-genai export (ONNX Runtime's fused ops, its own weight names and shared tensors, an
 * untied head initializer) compile into the in-place KV form, served by {@link InPlaceKvRunner}, and
 * give the unmodified export's logits (1e-4 with a float32 cache, {@link #FLOAT16_TOLERANCE} with a
 * float16 one) and greedy tokens, each sequence alone and three batched with chunked prompts beside
 * decoding rows; the compiled graph is cached by the source's SHA-256 and the cache's element type, and
 * rebuilt when the source changes; a graph that does not map, or whose compiled form computes
 * something else, is served as exported with one warning saying why.
 */
class InPlaceCompileTest {
    private static final float TOLERANCE = 1e-4f;
    /**
     * A float16 cache rounds queries, keys and values to 11 significant bits: measured here at most
     * 1.01e-4 on the tiny models' logits (every case below prints its own; float32 stays under 4e-7), so
     * 1e-3 is ten times what was seen and still far below what a wrong mapping or scale moves.
     */
    private static final float FLOAT16_TOLERANCE = 1e-3f;
    private static final OrtRuntime ORT = new OrtRuntime("cpu", 2);
    private static final int NEW_TOKENS = 10;

    @TempDir
    Path cache;

    static Stream<Arguments> layoutsAndDtypes() {
        return Stream.of(DemoLayout.OPTIMUM, DemoLayout.OPTIMUM_SPLIT, DemoLayout.ORT_GPT2, DemoLayout.ORT_FUSED,
                DemoLayout.ORT_FUSED_INT64).flatMap(l -> Stream.of(KvDtype.values()).map(d -> Arguments.of(l, d)));
    }

    @ParameterizedTest
    @MethodSource("layoutsAndDtypes")
    void everyDemoLayoutCompilesAndEqualsItsExport(DemoLayout layout, KvDtype dtype) throws Exception {
        equalsTheExport(TestModels.tinyExported(layout), dtype);
    }

    @ParameterizedTest
    @EnumSource(KvDtype.class)
    void theExternalFusedExportCompilesAndEqualsIt(KvDtype dtype) throws Exception {
        equalsTheExport(ModelFolders.GENAI_GPT2, dtype);
    }

    @Test
    void aGatheredServingFormCompilesToo() throws Exception {
        equalsTheExport(TestModels.tiny(DemoLayout.ORT_FUSED), KvDtype.FLOAT32);
    }

    private void equalsTheExport(Path dir, KvDtype dtype) throws Exception {
        ModelConfig config = ModelConfig.read(dir);
        try (Gpt2Decoder export = Gpt2Loader.load(ORT, dir, config);
             Gpt2Decoder compiled = Gpt2Loader.load(ORT, dir, config, cache, Gpt2Loader.KvSettings.inPlace(dtype),
                     io.spindle.runtime.onnx.ServedWeights.asExported())) {
            assertInstanceOf(InPlaceKvRunner.class, compiled, "compiled, not fallen back");
            assertEquals(Gpt2Graph.IN_PLACE_KV, compiled.graph().layoutName());
            assertEquals(dtype.javaType(), compiled.graph().kvType());
            assertEquals(dtype.id(), compiled.kvCacheDtype());
            assertEquals(export.kvBytesPerToken() * dtype.bytes() / 4, compiled.kvBytesPerToken());
            int vocab = export.graph().vocabSize();
            float tolerance = dtype == KvDtype.FLOAT32 ? TOLERANCE : FLOAT16_TOLERANCE;
            float[] worst = new float[1];
            int[][] prompts = {{(int) (464L % vocab), 11, 12, 13, 14, 15, 16}, {40, 101, 257}, {7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17}};
            List<int[]> batched = lockstep(export, compiled, prompts, 4, 100, tolerance, worst);
            for (int i = 0; i < prompts.length; i++) {
                List<int[]> alone = lockstep(export, compiled, new int[][] {prompts[i]}, 3, 200 + 10L * i, tolerance, worst);
                assertArrayEquals(batched.get(i), alone.getFirst(), "sequence " + i + ": batched = alone");
            }
            System.out.printf("InPlaceCompileTest %s, %s cache: max |Δlogit| vs the export %.3g%n",
                    dir.getFileName(), dtype.id(), worst[0]);
            assertEquals(0, compiled.numCachedSequences());
            assertEquals(0, compiled.allocatedBytes());
        }
    }

    @Test
    void eachCacheElementTypeIsItsOwnCachedFile(@TempDir Path models) throws Exception {
        Path dir = copy(TestModels.tinyExported(DemoLayout.OPTIMUM), models.resolve("m"));
        ModelConfig config = ModelConfig.read(dir);
        Path f32 = new InPlaceCompile(dir.resolve("model.onnx"), cache, KvDtype.FLOAT32).file();
        Path f16 = new InPlaceCompile(dir.resolve("model.onnx"), cache, KvDtype.FLOAT16).file();
        assertNotEquals(f32, f16);
        for (KvDtype dtype : KvDtype.values()) {
            try (Gpt2Decoder runner = Gpt2Loader.load(ORT, dir, config, cache, Gpt2Loader.KvSettings.inPlace(dtype),
                    io.spindle.runtime.onnx.ServedWeights.asExported())) {
                assertEquals(dtype.javaType(), runner.graph().kvType());
            }
        }
        assertTrue(Files.isRegularFile(f32) && Files.isRegularFile(f16));
        // A float16 load after both were compiled is served from its own file, not the float32 one.
        try (Recorded log = new Recorded();
             Gpt2Decoder again = Gpt2Loader.load(ORT, dir, config, cache, Gpt2Loader.KvSettings.inPlace(KvDtype.FLOAT16),
                     io.spindle.runtime.onnx.ServedWeights.asExported())) {
            assertEquals(ai.onnxruntime.OnnxJavaType.FLOAT16, again.graph().kvType());
            assertTrue(log.infos().stream().anyMatch(m -> m.contains("(float16 cache)") && m.contains("(cached)")
                    && m.contains(f16.toString())), log.infos().toString());
        }
    }

    @Test
    void theCompiledGraphIsCachedAndRebuiltWhenTheSourceChanges(@TempDir Path models) throws Exception {
        Path dir = copy(TestModels.tinyExported(DemoLayout.OPTIMUM), models.resolve("m"));
        ModelConfig config = ModelConfig.read(dir);
        Path file = new InPlaceCompile(dir.resolve("model.onnx"), cache, KvDtype.FLOAT32).file();
        try (Recorded log = new Recorded();
             Gpt2Decoder first = Gpt2Loader.load(ORT, dir, config, cache, Gpt2Loader.KvForm.IN_PLACE)) {
            assertInstanceOf(InPlaceKvRunner.class, first);
            assertTrue(Files.isRegularFile(file) && Files.isRegularFile(RewriteCache.checksum(file)));
            assertTrue(log.infos().stream().anyMatch(m -> m.contains("compiled into the in-place KV form")), log.infos().toString());
        }
        FileTime written = Files.getLastModifiedTime(file);
        try (Recorded log = new Recorded();
             Gpt2Decoder second = Gpt2Loader.load(ORT, dir, config, cache, Gpt2Loader.KvForm.IN_PLACE)) {
            assertInstanceOf(InPlaceKvRunner.class, second);
            assertTrue(log.infos().stream().anyMatch(m -> m.contains("(cached)")), log.infos().toString());
            assertEquals(written, Files.getLastModifiedTime(file), "served from the cache, not compiled again");
            try (Gpt2Decoder export = Gpt2Loader.load(ORT, dir, config)) {
                lockstep(export, second, new int[][] {{1, 2, 3, 4, 5}}, 4, 1);
            }
        }
        // Other weights in the same file: a new source hash, a new compiled graph, the new weights' logits.
        try (OutputStream out = Files.newOutputStream(dir.resolve("model.onnx"))) {
            new Gpt2GraphBuilder(DemoPreset.TINY.shape(), DemoLayout.OPTIMUM, true, 99, false).write(out);
        }
        Path rebuilt = new InPlaceCompile(dir.resolve("model.onnx"), cache, KvDtype.FLOAT32).file();
        assertNotEquals(file, rebuilt);
        try (Recorded log = new Recorded();
             Gpt2Decoder third = Gpt2Loader.load(ORT, dir, config, cache, Gpt2Loader.KvForm.IN_PLACE);
             Gpt2Decoder export = Gpt2Loader.load(ORT, dir, config)) {
            assertInstanceOf(InPlaceKvRunner.class, third);
            assertTrue(Files.isRegularFile(rebuilt));
            assertTrue(log.infos().stream().anyMatch(m -> m.contains("compiled into the in-place KV form")), log.infos().toString());
            lockstep(export, third, new int[][] {{1, 2, 3, 4, 5}}, 4, 1);
        }
    }

    @Test
    void aGraphWithAnOpTheMappingDoesNotKnowFallsBackSayingWhich(@TempDir Path models) throws Exception {
        Path dir = copy(TestModels.tinyExported(DemoLayout.OPTIMUM), models.resolve("m"));
        ModelProto model = ModelProto.parseFrom(Files.readAllBytes(dir.resolve("model.onnx")));
        // Block 0's GELU gets a Sin: a valid graph (ONNX Runtime serves it), but not GPT-2's.
        ModelProto.Builder b = model.toBuilder();
        int tanh = -1;
        for (int i = 0; i < b.getGraph().getNodeCount(); i++) {
            if (b.getGraph().getNode(i).getOpType().equals("Tanh")) {
                tanh = i;
                break;
            }
        }
        NodeProto node = b.getGraph().getNode(tanh);
        b.getGraphBuilder().setNode(tanh, node.toBuilder().setOpType("Sin").setName("doctored_sin"));
        Files.write(dir.resolve("model.onnx"), b.build().toByteArray());
        try (Recorded log = new Recorded();
             Gpt2Decoder runner = Gpt2Loader.load(ORT, dir, ModelConfig.read(dir), cache, Gpt2Loader.KvForm.IN_PLACE)) {
            assertInstanceOf(Gpt2Runner.class, runner, "served as exported");
            assertEquals(1, log.warnings().size(), log.warnings().toString());
            String warning = log.warnings().getFirst();
            assertTrue(warning.contains("served as exported") && warning.contains("doctored_sin")
                    && warning.contains("Sin, an op the GPT-2 mapping does not know"), warning);
        }
        assertTrue(Files.notExists(new InPlaceCompile(dir.resolve("model.onnx"), cache, KvDtype.FLOAT32).file()));
    }

    @ParameterizedTest
    @EnumSource(KvDtype.class)
    void aCompiledGraphThatComputesSomethingElseIsNotServed(KvDtype dtype, @TempDir Path models) throws Exception {
        Path dir = copy(TestModels.tinyExported(DemoLayout.OPTIMUM), models.resolve("m"));
        ModelProto model = ModelProto.parseFrom(Files.readAllBytes(dir.resolve("model.onnx")));
        // Block 0's attention scale is not 1/√head_dim: nothing the mapping reads, so only the probe sees it.
        ModelProto.Builder b = model.toBuilder();
        for (int i = 0; i < b.getGraph().getInitializerCount(); i++) {
            TensorProto t = b.getGraph().getInitializer(i);
            if (t.getName().equals("h.0.scale")) {
                byte[] half = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putFloat(0.5f).array();
                b.getGraphBuilder().setInitializer(i, t.toBuilder().setRawData(ByteString.copyFrom(half)));
            }
        }
        Files.write(dir.resolve("model.onnx"), b.build().toByteArray());
        try (Recorded log = new Recorded();
             Gpt2Decoder runner = Gpt2Loader.load(ORT, dir, ModelConfig.read(dir), cache, Gpt2Loader.KvSettings.inPlace(dtype),
                     io.spindle.runtime.onnx.ServedWeights.asExported())) {
            assertInstanceOf(Gpt2Runner.class, runner, "served as exported");
            assertEquals(1, log.warnings().size(), log.warnings().toString());
            assertTrue(log.warnings().getFirst().contains("does not compute what the export does"), log.warnings().getFirst());
        }
        Path file = new InPlaceCompile(dir.resolve("model.onnx"), cache, dtype).file();
        assertTrue(Files.notExists(file), "nothing cached");
        try (Stream<Path> left = Files.list(cache)) {
            assertEquals(List.of(), left.filter(f -> f.getFileName().toString().contains(InPlaceCompile.version(dtype))).toList(),
                    "no compiled or temporary file left");
        }
    }

    /**
     * Feeds both runners the same steps (prompts chunked by {@code chunk} beside decoding rows, the
     * first sequence's prompt logits read at every position), the reference's greedy token appended
     * each time; every logit read agrees and every greedy token is the same. Returns the tokens.
     */
    private static List<int[]> lockstep(Gpt2Decoder reference, Gpt2Decoder compiled, int[][] prompts, int chunk, long ids)
            throws Exception {
        return lockstep(reference, compiled, prompts, chunk, ids, TOLERANCE, new float[1]);
    }

    /** @param worst its element 0 raised to the largest |Δlogit| seen */
    private static List<int[]> lockstep(Gpt2Decoder reference, Gpt2Decoder compiled, int[][] prompts, int chunk, long ids,
                                        float tolerance, float[] worst) throws Exception {
        int n = prompts.length;
        int vocab = reference.graph().vocabSize();
        int[][] tokens = new int[n][];
        int[] known = new int[n];
        int[] fed = new int[n];
        for (int i = 0; i < n; i++) {
            tokens[i] = Arrays.copyOf(prompts[i], prompts[i].length + NEW_TOKENS);
            known[i] = prompts[i].length;
        }
        float[] want = new float[vocab];
        float[] got = new float[vocab];
        for (int s = 0; ; s++) {
            List<StepInput> step = new ArrayList<>();
            List<Integer> who = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                if (known[i] - prompts[i].length == NEW_TOKENS) {
                    continue;
                }
                int p = prompts[i].length;
                int to = fed[i] < p ? Math.min(fed[i] + chunk, p) : known[i];
                StepInput.Logits logits = to < known[i] ? StepInput.Logits.NONE
                        : i == 0 && fed[i] < p ? StepInput.Logits.EVERY : StepInput.Logits.LAST;
                if (i == 0 && fed[i] < p) {
                    logits = StepInput.Logits.EVERY;
                }
                step.add(new StepInput(ids + i, tokens[i], fed[i], to, p, logits));
                who.add(i);
            }
            if (step.isEmpty()) {
                break;
            }
            StepOutput r = reference.execute(step);
            List<float[]> expected = new ArrayList<>();
            for (int k = 0; k < step.size(); k++) {
                StepInput in = step.get(k);
                if (in.logits() == StepInput.Logits.EVERY) {
                    for (int p = 0; p < in.length(); p++) {
                        ((StepOutput.EveryPosition) r).copyLogits(k, p, want);
                        expected.add(want.clone());
                    }
                }
                if (in.logits() != StepInput.Logits.NONE && in.to() == known[who.get(k)]) {
                    r.copyLogits(k, want);
                    expected.add(want.clone());
                }
            }
            StepOutput c = compiled.execute(step);
            int e = 0;
            for (int k = 0; k < step.size(); k++) {
                StepInput in = step.get(k);
                int i = who.get(k);
                String where = "step " + s + ", sequence " + i;
                if (in.logits() == StepInput.Logits.EVERY) {
                    for (int p = 0; p < in.length(); p++) {
                        ((StepOutput.EveryPosition) c).copyLogits(k, p, got);
                        assertClose(expected.get(e++), got, where + ", position " + p, tolerance, worst);
                    }
                }
                fed[i] = in.to();
                if (in.logits() != StepInput.Logits.NONE && in.to() == known[i]) {
                    c.copyLogits(k, got);
                    float[] w = expected.get(e++);
                    assertClose(w, got, where, tolerance, worst);
                    assertEquals(argmax(w), argmax(got), where + ": greedy token");
                    tokens[i][known[i]++] = argmax(w);
                }
            }
        }
        for (int i = 0; i < n; i++) {
            reference.release(ids + i);
            compiled.release(ids + i);
        }
        return Arrays.asList(tokens);
    }

    private static void assertClose(float[] expected, float[] actual, String what, float tolerance, float[] seen) {
        float worst = 0;
        for (int i = 0; i < expected.length; i++) {
            worst = Math.max(worst, Math.abs(expected[i] - actual[i]));
        }
        seen[0] = Math.max(seen[0], worst);
        assertTrue(worst <= tolerance, what + ": max |Δlogit| = " + worst);
    }

    private static int argmax(float[] l) {
        int best = 0;
        for (int i = 1; i < l.length; i++) {
            if (l[i] > l[best]) {
                best = i;
            }
        }
        return best;
    }

    private static Path copy(Path from, Path to) throws Exception {
        Files.createDirectories(to);
        try (Stream<Path> files = Files.list(from)) {
            for (Path f : files.toList()) {
                Files.copy(f, to.resolve(f.getFileName()));
            }
        }
        return to;
    }

    /** The loader's log records while open. */
    private static final class Recorded extends Handler implements AutoCloseable {
        private final Logger logger = Logger.getLogger(Gpt2Loader.class.getName());
        private final List<LogRecord> records = new ArrayList<>();

        Recorded() {
            logger.addHandler(this);
        }

        @Override
        public synchronized void publish(LogRecord record) {
            records.add(record);
        }

        synchronized List<String> warnings() {
            return records.stream().filter(r -> r.getLevel() == Level.WARNING).map(LogRecord::getMessage).toList();
        }

        synchronized List<String> infos() {
            return records.stream().filter(r -> r.getLevel() == Level.INFO).map(LogRecord::getMessage).toList();
        }

        @Override
        public void flush() {
        }

        @Override
        public void close() {
            logger.removeHandler(this);
        }
    }
}
