package io.spindle.runtime.family.gpt2;

import io.spindle.engine.exec.StepInput;
import io.spindle.engine.exec.StepInput.Logits;
import io.spindle.engine.exec.StepOutput;
import io.spindle.model.ModelConfig;
import io.spindle.runtime.demo.DemoLayout;
import io.spindle.runtime.onnx.GatherRewrite;
import io.spindle.runtime.onnx.OrtRuntime;
import io.spindle.runtime.onnx.RewriteCache;
import io.spindle.testing.ModelFolders;
import io.spindle.testing.TestModels;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Logits only where sampled: exports that compute every position's logits are rewritten at load time
 * (cached by the source's hash), the demo builder writes the same form directly, and either gives the
 * unmodified graph's logits at every position the engine reads, across batched prompt chunks and
 * decode steps, in every layout and on the external onnxruntime-genai export.
 */
class LogitsGatherTest {
    private static final float TOLERANCE = 1e-4f;
    private static final OrtRuntime ORT = new OrtRuntime("cpu", 2);

    @TempDir
    static Path cache;

    /** The in-place KV form is Spindle's own, always gathered: no export of it to rewrite. */
    @ParameterizedTest
    @EnumSource(value = DemoLayout.class, names = "IN_PLACE_KV", mode = EnumSource.Mode.EXCLUDE)
    void rewrittenExportGivesTheExportsLogitsWhereRead(DemoLayout layout) throws Exception {
        Path dir = TestModels.tinyExported(layout);
        try (Gpt2Decoder exported = Gpt2Loader.load(ORT, dir, ModelConfig.read(dir));
             Gpt2Decoder rewritten = Gpt2Loader.load(ORT, dir, ModelConfig.read(dir), cache)) {
            assertFalse(exported.graph().gathersLogits(), "the export computes every position");
            assertTrue(rewritten.graph().gathersLogits(), "rewritten at load");
            assertSameLogitsWhereRead(exported, rewritten);
        }
        String graph = layout == DemoLayout.OPTIMUM_SPLIT ? "decoder_with_past_model.onnx" : "model.onnx";
        Path file = new RewriteCache(cache).file(dir.resolve(graph), GatherRewrite.VERSION);
        assertTrue(Files.isRegularFile(file) && Files.isRegularFile(RewriteCache.checksum(file)), "cached at " + file);
        // A second load serves the cached rewrite (same file, same logits).
        long modified = Files.getLastModifiedTime(file).toMillis();
        try (Gpt2Decoder again = Gpt2Loader.load(ORT, dir, ModelConfig.read(dir), cache)) {
            assertTrue(again.graph().gathersLogits());
        }
        assertEquals(modified, Files.getLastModifiedTime(file).toMillis(), "not rewritten again");
    }

    @ParameterizedTest
    @EnumSource(DemoLayout.class)
    void builderWritesTheGatheredFormDirectly(DemoLayout layout) throws Exception {
        // The in-place KV form has no export of its own: the plain export of the same weights is its reference.
        Path exportedDir = TestModels.tinyExported(layout == DemoLayout.IN_PLACE_KV ? DemoLayout.OPTIMUM : layout);
        Path servingDir = TestModels.tiny(layout);
        try (Gpt2Decoder exported = Gpt2Loader.load(ORT, exportedDir, ModelConfig.read(exportedDir));
             Gpt2Decoder serving = Gpt2Loader.load(ORT, servingDir, ModelConfig.read(servingDir), cache)) {
            assertTrue(serving.graph().gathersLogits());
            assertSameLogitsWhereRead(exported, serving);
        }
        String source = RewriteCache.sha256(servingDir.resolve(layout == DemoLayout.OPTIMUM_SPLIT
                ? "decoder_model.onnx" : "model.onnx"));
        try (var files = Files.list(cache)) {
            assertTrue(files.noneMatch(f -> f.getFileName().toString().startsWith(source)),
                    "the builder's graph is not rewritten");
        }
    }

    @Test
    void externalOnnxRuntimeGenaiExportIsRewrittenToo(@TempDir Path tmp) throws Exception {
        Path dir = ModelFolders.copyGenaiGpt2(tmp.resolve("genai"));
        try (Gpt2Decoder exported = Gpt2Loader.load(ORT, dir, ModelConfig.read(dir));
             Gpt2Decoder rewritten = Gpt2Loader.load(ORT, dir, ModelConfig.read(dir), tmp.resolve("rewritten"))) {
            assertFalse(exported.graph().gathersLogits());
            assertTrue(rewritten.graph().gathersLogits(), "the fused-op export's LM head is recognised");
            assertSameLogitsWhereRead(exported, rewritten);
        }
    }

    @Test
    void positionsNotAskedForAreNotComputed() throws Exception {
        Path dir = TestModels.tiny(DemoLayout.OPTIMUM);
        try (Gpt2Decoder runner = Gpt2Loader.load(ORT, dir, ModelConfig.read(dir))) {
            int[] tokens = {15496, 995, 11, 318, 257, 1332};
            StepOutput out = runner.execute(List.of(new StepInput(1, tokens, 0, 4, 0, Logits.NONE),
                    new StepInput(2, tokens, 0, 3, 0, Logits.LAST)));
            float[] l = new float[runner.vocabSize()];
            assertThrows(IllegalStateException.class, () -> out.copyLogits(0, l));
            out.copyLogits(1, l);
            assertThrows(IllegalStateException.class, () -> ((StepOutput.EveryPosition) out).copyLogits(1, 0, l));
        }
    }

    /**
     * Three sequences through both runners: prompt chunks that need no logits, that need the last,
     * and that need every position, in one batch; then decode steps, one of them joining late.
     */
    private static void assertSameLogitsWhereRead(Gpt2Decoder reference, Gpt2Decoder candidate) throws Exception {
        int[] a = {15496, 995, 11, 318, 257, 1332, 13, 40, 41, 42, 0, 0, 0};
        int[] b = {464, 2068, 7586, 21831, 0, 0, 0, 0};
        int[] c = {50256, 100, 200, 300, 400, 500, 600, 0, 0, 0};
        int vocab = reference.vocabSize();
        for (int[] t : List.of(a, b, c)) {
            for (int i = 0; i < t.length; i++) {
                t[i] %= vocab;
            }
        }
        List<List<StepInput>> steps = new ArrayList<>();
        steps.add(List.of(new StepInput(1, a, 0, 4, 10, Logits.NONE), new StepInput(2, b, 0, 4, 4, Logits.LAST),
                new StepInput(3, c, 0, 3, 7, Logits.EVERY)));
        steps.add(List.of(new StepInput(1, a, 4, 10, 10, Logits.EVERY), new StepInput(2, b, 4, 5, 4, Logits.LAST),
                new StepInput(3, c, 3, 7, 7, Logits.LAST)));
        steps.add(List.of(new StepInput(1, a, 10, 11, 10, Logits.LAST), new StepInput(2, b, 5, 6, 4, Logits.LAST),
                new StepInput(3, c, 7, 8, 7, Logits.LAST)));
        steps.add(List.of(new StepInput(2, b, 6, 7, 4, Logits.LAST), new StepInput(1, a, 11, 12, 10, Logits.LAST)));
        for (int s = 0; s < steps.size(); s++) {
            List<StepInput> step = steps.get(s);
            StepOutput want = reference.execute(step);
            StepOutput got = candidate.execute(step);
            for (int r = 0; r < step.size(); r++) {
                StepInput in = step.get(r);
                String where = "step " + s + ", sequence " + in.sequenceId();
                if (in.logits() == Logits.LAST) {
                    assertClose(logits(want, r, -1), logits(got, r, -1), where);
                } else if (in.logits() == Logits.EVERY) {
                    for (int p = 0; p < in.length(); p++) {
                        assertClose(logits(want, r, p), logits(got, r, p), where + ", position " + p);
                    }
                }
            }
        }
        for (long id = 1; id <= 3; id++) {
            reference.release(id);
            candidate.release(id);
        }
        assertEquals(0, candidate.numCachedSequences());
    }

    private static float[] logits(StepOutput out, int row, int position) {
        float[] l = new float[60000];
        if (position < 0) {
            out.copyLogits(row, l);
        } else {
            ((StepOutput.EveryPosition) out).copyLogits(row, position, l);
        }
        return l;
    }

    private static void assertClose(float[] want, float[] got, String where) {
        float max = 0;
        for (int i = 0; i < want.length; i++) {
            assertTrue(Float.isFinite(want[i]), where + ": reference logit " + i + " is " + want[i]);
            max = Math.max(max, Math.abs(want[i] - got[i]));
        }
        assertTrue(max <= TOLERANCE, where + ": max |Δ| " + max);
    }
}
