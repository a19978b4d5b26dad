package io.spindle.engine;

import io.spindle.engine.request.EngineRequest;
import io.spindle.engine.request.FinishReason;
import io.spindle.engine.request.TokenEvent;
import io.spindle.model.ModelConfig;
import io.spindle.runtime.demo.DemoLayout;
import io.spindle.runtime.family.gpt2.Gpt2Loader;
import io.spindle.runtime.onnx.OrtRuntime;
import io.spindle.sampling.SamplingParams;
import io.spindle.sampling.constraint.CompiledConstraint;
import io.spindle.sampling.constraint.ConstraintCompiler;
import io.spindle.sampling.constraint.ConstraintSpec;
import io.spindle.sampling.constraint.TokenVocabulary;
import io.spindle.testing.RecordingListener;
import io.spindle.testing.TestModels;
import io.spindle.text.TokenBytes;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Constrained rows in a batch, on a real graph: each constrained sequence's output matches its regex
 * and ends when the constraint is complete, while an unconstrained sequence in the same steps
 * generates exactly what it generates alone.
 */
class ConstrainedEngineModelTest {
    private static final OrtRuntime ORT = new OrtRuntime("cpu", 2);
    private static final int[] PROMPT = {464, 2068, 7586, 21831, 18045};
    private static final SamplingParams SEEDED = new SamplingParams(1.0, 0, 1, 1, 0, 0, 11);

    private static Engine engine(DemoLayout layout) throws Exception {
        Path dir = TestModels.tiny(layout);
        return new Engine("constrained", Gpt2Loader.load(ORT, dir, ModelConfig.read(dir)),
                new EngineConfig(4, 64, 10_000_000, 16)).start();
    }

    @ParameterizedTest
    @EnumSource(value = DemoLayout.class, names = {"OPTIMUM", "IN_PLACE_KV"})
    void constrainedRowsMatchTheirRegexAndLeaveTheOthersAlone(DemoLayout layout) throws Exception {
        Path dir = TestModels.tiny(DemoLayout.OPTIMUM);
        ModelConfig config = ModelConfig.read(dir);
        TokenVocabulary vocab = TokenBytes.read(dir.resolve("tokenizer.json"), 50257, config.eosTokenIds());
        String regex = "(ab|cd){2,4}-[0-9]{2}";
        CompiledConstraint compiled = new ConstraintCompiler().compile(new ConstraintSpec.Regex(regex), vocab);
        int[] alone;
        try (Engine e = engine(layout)) {
            RecordingListener l = new RecordingListener();
            e.submit(new EngineRequest("free", PROMPT, SEEDED, 16, config.eosTokenIds(), -1, false, 0), l);
            assertInstanceOf(TokenEvent.Finished.class, l.awaitEnd());
            alone = l.tokens();
        }
        try (Engine e = engine(layout)) {
            RecordingListener free = new RecordingListener();
            RecordingListener[] held = {new RecordingListener(), new RecordingListener()};
            e.submit(new EngineRequest("free", PROMPT, SEEDED, 16, config.eosTokenIds(), -1, false, 0), free);
            for (int i = 0; i < held.length; i++) {
                e.submit(new EngineRequest("held" + i, PROMPT, new SamplingParams(1.0, 0, 1, 1, 0, 0, 100 + i), 40,
                        config.eosTokenIds(), -1, false, 0, compiled), held[i]);
            }
            assertInstanceOf(TokenEvent.Finished.class, free.awaitEnd());
            assertArrayEquals(alone, free.tokens(), "an unconstrained row is unaffected by constrained ones");
            for (RecordingListener h : held) {
                TokenEvent.Finished end = assertInstanceOf(TokenEvent.Finished.class, h.awaitEnd());
                ByteArrayOutputStream text = new ByteArrayOutputStream();
                for (int t : h.tokens()) {
                    if (!vocab.isEos(t)) {
                        text.writeBytes(vocab.bytes(t));
                    }
                }
                String out = text.toString(StandardCharsets.UTF_8);
                assertTrue(Pattern.compile(regex).matcher(out).matches(), out);
                assertEquals(FinishReason.STOP_TOKEN, end.reason(), "ends at the match, before max_tokens: " + out);
            }
        }
    }
}
