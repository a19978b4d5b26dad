package io.spindle.engine;

import io.spindle.model.ModelConfig;
import io.spindle.runtime.demo.DemoLayout;
import io.spindle.runtime.family.gpt2.Gpt2Loader;
import io.spindle.runtime.onnx.OrtRuntime;
import io.spindle.sampling.constraint.TokenVocabulary;
import io.spindle.testing.ConstraintSchemas;
import io.spindle.testing.ConstraintValidity;
import io.spindle.testing.TestModels;
import io.spindle.text.TokenBytes;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Every output of seeded random sampling (temperature 1) under each of the twenty shared JSON Schemas,
 * on the tiny demo GPT-2 through the real engine (batched rows), is UTF-8 that Jackson parses and
 * networknt validates, and ends before max_tokens. The same list at 1,000 seeds is
 * {@code bench.ConstraintBenchmark}'s validity run.
 */
class ConstraintValidityModelTest {
    private static final int SEEDS = 5;

    @Test
    void everyConstrainedOutputParsesAndValidates() throws Exception {
        Path dir = TestModels.tiny(DemoLayout.OPTIMUM);
        ModelConfig config = ModelConfig.read(dir);
        TokenVocabulary vocab = TokenBytes.read(dir.resolve("tokenizer.json"), 50257, config.eosTokenIds());
        try (Engine engine = new Engine("validity", Gpt2Loader.load(new OrtRuntime("cpu", 2), dir, config),
                new EngineConfig(16, 512, 64L << 20, 64)).start()) {
            int maxTokens = engine.contextLength() - ConstraintValidity.PROMPT.length;
            List<ConstraintValidity.Outcome> outcomes = ConstraintValidity.run(engine, vocab, config.eosTokenIds(),
                    ConstraintSchemas.ALL, SEEDS, 1, maxTokens, 32);
            assertEquals(20, outcomes.size());
            for (ConstraintValidity.Outcome o : outcomes) {
                System.out.printf("constraint validity %-22s %d/%d valid, %d tokens%n", o.name(), o.valid(), o.runs(), o.tokens());
            }
            for (ConstraintValidity.Outcome o : outcomes) {
                assertTrue(o.allValid(), o.name() + ": " + o.valid() + "/" + o.runs() + " valid; " + o.failures());
            }
        }
    }
}
