package io.spindle.runtime.onnx;

import io.spindle.engine.exec.EncoderRunner;
import io.spindle.engine.exec.StepInput;
import io.spindle.engine.exec.StepOutput;
import io.spindle.model.ModelConfig;
import io.spindle.runtime.demo.BertGraphBuilder;
import io.spindle.runtime.demo.DemoLayout;
import io.spindle.runtime.demo.T5DemoWriter;
import io.spindle.runtime.family.bert.BertLoader;
import io.spindle.runtime.family.gpt2.Gpt2Decoder;
import io.spindle.runtime.family.gpt2.Gpt2Loader;
import io.spindle.runtime.family.gpt2.InPlaceKvRunner;
import io.spindle.runtime.family.t5.T5Loader;
import io.spindle.runtime.family.t5.T5Runner;
import io.spindle.runtime.onnx.quant.QuantizeSettings;
import io.spindle.runtime.onnx.quant.WeightQuantizer;
import io.spindle.testing.TestModels;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * spindle.models.quantize applied by the loaders ({@link ServedWeights}): the served graph is the
 * quantized form of the graph the loader settled on (after its float32 probes), cached by source and
 * settings; a changed setting writes another file, a damaged cache file is rebuilt rather than served,
 * and without a cache directory the model is served in float.
 */
class ServedWeightsTest {
    private static final OrtRuntime ORT = new OrtRuntime("cpu", 1);
    private static final QuantizeSettings INT4 = QuantizeSettings.of(QuantizeSettings.Format.INT4);
    private static final QuantizeSettings INT8 = QuantizeSettings.of(QuantizeSettings.Format.INT8);
    private static final int[] PROMPT = {5, 17, 99, 3, 42, 7};

    @TempDir
    Path tmp;

    @Test
    void aGpt2ExportIsServedQuantizedGatheredAndCachedBySourceAndSettings() throws Exception {
        Path dir = TestModels.tiny(DemoLayout.OPTIMUM);
        ModelConfig config = ModelConfig.read(dir);
        Path cache = tmp.resolve("cache");
        float[] reference;
        try (Gpt2Decoder plain = Gpt2Loader.load(ORT, dir, config, cache)) {
            reference = lastLogits(plain);
        }

        ServedWeights weights = new ServedWeights(INT4, cache);
        float[] served;
        try (Gpt2Decoder runner = Gpt2Loader.load(ORT, dir, config, cache, Gpt2Loader.KvForm.AS_EXPORTED, weights)) {
            assertTrue(runner.graph().gathersLogits(), "quantized after the head rewrite, which it keeps");
            served = lastLogits(runner);
        }
        assertEquals("int4", weights.format().name(), weights.format().describe());
        assertQuantizedNotFloat(reference, served);
        Path file = only(cache, INT4);
        FileTime written = Files.getLastModifiedTime(file);

        // Reused as it is, then a damaged copy is rebuilt, not served.
        Thread.sleep(20);
        try (Gpt2Decoder again = Gpt2Loader.load(ORT, dir, config, cache, Gpt2Loader.KvForm.AS_EXPORTED,
                new ServedWeights(INT4, cache))) {
            assertEquals(written, Files.getLastModifiedTime(file), "the cached quantized graph is reused");
            assertEquals(0f, maxAbsDiff(served, lastLogits(again)));
        }
        byte[] bytes = Files.readAllBytes(file);
        bytes[bytes.length / 2] ^= 0x5a;
        Files.write(file, bytes);
        ServedWeights rebuilt = new ServedWeights(INT4, cache);
        try (Gpt2Decoder again = Gpt2Loader.load(ORT, dir, config, cache, Gpt2Loader.KvForm.AS_EXPORTED, rebuilt)) {
            assertEquals(0f, maxAbsDiff(served, lastLogits(again)), "rebuilt, the same graph again");
        }
        assertEquals("int4", rebuilt.format().name());
        assertNotEquals(bytes[bytes.length / 2], Files.readAllBytes(file)[bytes.length / 2]);

        // Another setting, another file.
        ServedWeights int8 = new ServedWeights(INT8, cache);
        try (Gpt2Decoder runner = Gpt2Loader.load(ORT, dir, config, cache, Gpt2Loader.KvForm.AS_EXPORTED, int8)) {
            assertQuantizedNotFloat(reference, lastLogits(runner));
        }
        assertEquals("int8", int8.format().name());
        assertTrue(Files.isRegularFile(only(cache, INT8)));
        assertTrue(Files.isRegularFile(file));
    }

    @Test
    void anExportWithLogitsAtEveryPositionIsRewrittenInFloatThenQuantized() throws Exception {
        Path dir = TestModels.tinyExported(DemoLayout.OPTIMUM);
        ModelConfig config = ModelConfig.read(dir);
        Path cache = tmp.resolve("cache");
        ServedWeights weights = new ServedWeights(INT4, cache);
        try (Gpt2Decoder runner = Gpt2Loader.load(ORT, dir, config, cache, Gpt2Loader.KvForm.AS_EXPORTED, weights)) {
            assertTrue(runner.graph().gathersLogits(), "the gather rewrite, probed in float32, is what is quantized");
        }
        Path rewritten = new RewriteCache(cache).file(dir.resolve("model.onnx"), GatherRewrite.VERSION);
        Path served = new RewriteCache(cache).file(rewritten, WeightQuantizer.VERSION + "-" + INT4.cacheTag());
        assertTrue(Files.isRegularFile(served), served.toString());
        assertEquals(WeightFormat.read(served).describe(), weights.format().describe(),
                "one graph served, counted once (the quantized export opened first and dropped is forgotten)");
    }

    @Test
    void anExportCompiledIntoTheInPlaceFormIsQuantizedAfterItsProbe() throws Exception {
        Path dir = TestModels.tiny(DemoLayout.OPTIMUM);
        ModelConfig config = ModelConfig.read(dir);
        Path cache = tmp.resolve("cache");
        float[] reference;
        try (Gpt2Decoder plain = Gpt2Loader.load(ORT, dir, config, cache)) {
            reference = lastLogits(plain);
        }
        for (int load = 0; load < 2; load++) {
            ServedWeights weights = new ServedWeights(INT4, cache);
            try (Gpt2Decoder runner = Gpt2Loader.load(ORT, dir, config, cache, Gpt2Loader.KvForm.IN_PLACE, weights)) {
                assertInstanceOf(InPlaceKvRunner.class, runner, "load " + load);
                assertQuantizedNotFloat(reference, lastLogits(runner));
            }
            assertEquals("int4", weights.format().name(), "load " + load);
        }
    }

    @Test
    void t5AndBertAreServedQuantizedToo() throws Exception {
        Path t5 = TestModels.tinyT5(T5DemoWriter.Variant.SPLIT);
        ServedWeights t5Weights = new ServedWeights(INT8, tmp.resolve("cache"));
        try (T5Runner runner = T5Loader.load(ORT, t5, ModelConfig.read(t5), t5Weights)) {
            assertTrue(runner.vocabSize() > 0);
        }
        assertEquals("int8", t5Weights.format().name(), t5Weights.format().describe());
        try (Stream<Path> files = Files.list(tmp.resolve("cache"))) {
            assertEquals(3, files.filter(f -> f.toString().endsWith(".onnx")).count(), "encoder and both decoders");
        }

        Path bert = TestModels.tinyBert(BertGraphBuilder.Head.FEATURES);
        ServedWeights bertWeights = new ServedWeights(INT4, tmp.resolve("cache"));
        try (EncoderRunner runner = BertLoader.load(ORT, bert, 64, -1, tmp.resolve("cache"), bertWeights)) {
            assertTrue(runner != null);
        }
        assertEquals("int4", bertWeights.format().name(), bertWeights.format().describe());
    }

    @Test
    void withoutACacheDirectoryOrWithNoneTheGraphsAreServedInFloat() throws Exception {
        Path dir = TestModels.tiny(DemoLayout.OPTIMUM);
        ModelConfig config = ModelConfig.read(dir);
        ServedWeights noCache = new ServedWeights(INT4, null);
        try (Gpt2Decoder runner = Gpt2Loader.load(ORT, dir, config, null, Gpt2Loader.KvForm.AS_EXPORTED, noCache)) {
            assertTrue(runner.vocabSize() > 0);
        }
        assertEquals("float32", noCache.format().name());
        ServedWeights none = new ServedWeights(QuantizeSettings.NONE, tmp.resolve("cache"));
        try (Gpt2Decoder runner = Gpt2Loader.load(ORT, dir, config, tmp.resolve("cache"), Gpt2Loader.KvForm.AS_EXPORTED,
                none)) {
            assertTrue(runner.vocabSize() > 0);
        }
        assertEquals("float32", none.format().name());
        assertTrue(!Files.exists(tmp.resolve("cache")), "nothing written: the demo graph already gathers its logits");
    }

    private static Path only(Path cache, QuantizeSettings s) throws IOException {
        try (Stream<Path> files = Files.list(cache)) {
            List<Path> found = files.filter(f -> f.getFileName().toString().endsWith(
                    WeightQuantizer.VERSION + "-" + s.cacheTag() + ".onnx")).toList();
            assertEquals(1, found.size(), found.toString());
            return found.get(0);
        }
    }

    private static float[] lastLogits(Gpt2Decoder runner) throws Exception {
        StepOutput out = runner.execute(List.of(new StepInput(1, PROMPT, 0, PROMPT.length, PROMPT.length)));
        float[] logits = new float[runner.vocabSize()];
        out.copyLogits(0, logits);
        runner.release(1);
        return logits;
    }

    /** Close to float32 (relative RMS error as QuantizedExportTest measures it) but not float32 itself. */
    private static void assertQuantizedNotFloat(float[] reference, float[] served) {
        double err = 0;
        double mean = 0;
        for (float r : reference) {
            mean += r;
        }
        mean /= reference.length;
        double spread = 0;
        for (int i = 0; i < reference.length; i++) {
            err += (served[i] - reference[i]) * (double) (served[i] - reference[i]);
            spread += (reference[i] - mean) * (reference[i] - mean);
        }
        double relative = Math.sqrt(err / spread);
        assertTrue(relative > 1e-4, "the served logits are float32's: " + relative);
        assertTrue(relative < 0.2, "relative RMS error " + relative);
    }

    private static float maxAbsDiff(float[] a, float[] b) {
        float max = 0;
        for (int i = 0; i < a.length; i++) {
            max = Math.max(max, Math.abs(a[i] - b[i]));
        }
        return max;
    }
}
