package io.spindle.engine;

import com.networknt.schema.Error;
import com.networknt.schema.InputFormat;
import com.networknt.schema.Schema;
import com.networknt.schema.SchemaRegistry;
import com.networknt.schema.SpecificationVersion;
import io.spindle.engine.request.EngineRequest;
import io.spindle.engine.request.FinishReason;
import io.spindle.engine.request.TokenEvent;
import io.spindle.model.ModelConfig;
import io.spindle.runtime.demo.T5DemoWriter.Variant;
import io.spindle.runtime.family.t5.T5Loader;
import io.spindle.runtime.family.t5.T5Runner;
import io.spindle.runtime.onnx.OrtRuntime;
import io.spindle.sampling.SamplingParams;
import io.spindle.sampling.constraint.CompiledConstraint;
import io.spindle.sampling.constraint.ConstraintCompiler;
import io.spindle.sampling.constraint.ConstraintSpec;
import io.spindle.sampling.constraint.TokenVocabulary;
import io.spindle.testing.RecordingListener;
import io.spindle.testing.TestModels;
import io.spindle.text.IncrementalDetokenizer;
import io.spindle.text.TextTokenizer;
import io.spindle.text.TokenBytes;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Predicate;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Constrained generation on the demo T5 (random weights, SentencePiece vocabulary with byte fallback), split
 * and merged decoders, with seeded random sampling: the text the client receives (the tokens through the
 * real tokenizer's incremental detokenizer, whose decoder drops the first piece's ▁) matches the regex, is
 * one of the choices (multi-byte ones spelled from byte pieces) or parses and validates against the schema;
 * every row ends with a whole match before max_tokens, a complete one without drawing EOS (the engine ends
 * it, as EOS would); the first token, drawn from the prefill's logits, is masked like the others; and an unconstrained row
 * in the same steps generates exactly what it generates alone.
 */
class T5ConstrainedEngineModelTest {
    private static final OrtRuntime ORT = new OrtRuntime("cpu", 2);
    private static final int MAX = 120;
    private static final String SCHEMA = "{\"type\":\"object\",\"properties\":{"
            + "\"name\":{\"type\":\"string\",\"maxLength\":10},"
            + "\"mood\":{\"type\":\"string\",\"enum\":[\"calm\",\"ravi\u00e9\",\"\u65e5\u672c\"]},"
            + "\"age\":{\"type\":\"integer\"},\"ok\":{\"type\":\"boolean\"}},"
            + "\"required\":[\"name\",\"mood\",\"age\",\"ok\"],\"additionalProperties\":false}";

    /** @param endsComplete every match is complete (nothing may follow): the engine ends the row, EOS is never drawn */
    private record Case(ConstraintSpec spec, Predicate<String> holds, boolean endsComplete) {
    }

    private static SamplingParams seeded(long seed) {
        return new SamplingParams(1.0, 0, 1, 1, 0, 0, seed);
    }

    @ParameterizedTest
    @EnumSource(Variant.class)
    void constrainedT5RowsGiveTextThatMatchesAndEndsWhenComplete(Variant variant) throws Exception {
        Path dir = TestModels.tinyT5(variant);
        ModelConfig config = ModelConfig.read(dir);
        Schema schema = SchemaRegistry.withDefaultDialect(SpecificationVersion.DRAFT_2020_12).getSchema(SCHEMA, InputFormat.JSON);
        Pattern code = Pattern.compile("[0-9]{3}-[a-z]{2}");
        // Multi-byte text: é has a piece in the demo vocabulary, ç, ü and 日本 come from <0xNN> byte pieces.
        List<String> choices = List.of("caf\u00e9 au lait", "\u65e5\u672c");
        Pattern words = Pattern.compile("(\u00e7a va|\u00fcber|\u65e5\u672c)( (\u00e7a va|\u00fcber|\u65e5\u672c)){0,2}");
        List<Case> cases = List.of(
                new Case(new ConstraintSpec.Regex(code.pattern()), t -> code.matcher(t).matches(), true),
                new Case(new ConstraintSpec.Choice(choices), choices::contains, true),
                new Case(new ConstraintSpec.Regex(words.pattern()), t -> words.matcher(t).matches(), false),
                // A leading space the first piece's ▁ cannot give (the decoder drops it): a <0x20> piece must.
                new Case(new ConstraintSpec.Regex(" [0-9]{2}"), t -> t.matches(" [0-9]{2}"), true),
                new Case(new ConstraintSpec.JsonSchema(SCHEMA), t -> {
                    List<Error> errors = schema.validate(t, InputFormat.JSON, ctx -> ctx.executionConfig(c -> c.formatAssertionsEnabled(true)));
                    return errors.isEmpty();
                }, true));
        try (TextTokenizer tokenizer = TextTokenizer.load(dir.resolve("tokenizer.json"))) {
            int[] source = tokenizer.encode("translate English to German: The house is wonderful.", true);
            int[] alone;
            try (Engine e = engine(dir, config)) {
                alone = generate(e, source, config).tokens();
            }
            T5Runner runner = T5Loader.load(ORT, dir, config);
            TokenVocabulary vocab = TokenBytes.read(dir.resolve("tokenizer.json"), runner.vocabSize(), config.eosTokenIds());
            try (Engine e = new Engine("t5-constrained", runner, new EngineConfig(16, 256, 10_000_000, 32)).start()) {
                ConstraintCompiler compiler = new ConstraintCompiler();
                RecordingListener free = new RecordingListener();
                e.submit(new EngineRequest("free", source, seeded(11), 16, config.eosTokenIds(), -1, false, 0), free);
                List<RecordingListener> held = new ArrayList<>();
                int seeds = 4;
                for (Case c : cases) {
                    CompiledConstraint compiled = compiler.compile(c.spec(), vocab);
                    for (int s = 0; s < seeds; s++) {
                        RecordingListener l = new RecordingListener();
                        e.submit(new EngineRequest(c.spec().kind() + s, source, seeded(100 + s), MAX, config.eosTokenIds(),
                                -1, false, 0, compiled), l);
                        held.add(l);
                    }
                }
                assertInstanceOf(TokenEvent.Finished.class, free.awaitEnd());
                assertArrayEquals(alone, free.tokens(), "an unconstrained row is unaffected by constrained ones");
                for (int i = 0; i < held.size(); i++) {
                    Case c = cases.get(i / seeds);
                    RecordingListener l = held.get(i);
                    TokenEvent.Finished end = assertInstanceOf(TokenEvent.Finished.class, l.awaitEnd());
                    String text = clientText(tokenizer, l.tokens());
                    assertTrue(c.holds().test(text), variant + " " + c.spec().kind() + ": '" + text + "'");
                    assertEquals(FinishReason.STOP_TOKEN, end.reason(), "ends when complete: " + text);
                    assertTrue(l.tokens().length < MAX, "before max_tokens: " + text);
                    int[] tokens = l.tokens();
                    for (int k = 0; k < tokens.length; k++) {
                        boolean eos = vocab.isEos(tokens[k]);
                        assertTrue(!eos || (!c.endsComplete() && k == tokens.length - 1),
                                "EOS only last, where the match may go on; a complete one is ended by the engine: " + text);
                    }
                }
            }
        }
    }

    /** The concatenated deltas a client receives for these tokens (the server's incremental detokenizer). */
    static String clientText(TextTokenizer tokenizer, int[] tokens) {
        IncrementalDetokenizer d = new IncrementalDetokenizer(tokenizer);
        StringBuilder out = new StringBuilder();
        for (int t : tokens) {
            out.append(d.next(t));
        }
        return out.append(d.flush()).toString();
    }

    private static Engine engine(Path dir, ModelConfig config) throws Exception {
        return new Engine("t5-alone", T5Loader.load(ORT, dir, config), new EngineConfig(16, 256, 10_000_000, 32)).start();
    }

    private static RecordingListener generate(Engine e, int[] source, ModelConfig config) throws Exception {
        RecordingListener l = new RecordingListener();
        e.submit(new EngineRequest("alone", source, seeded(11), 16, config.eosTokenIds(), -1, false, 0), l);
        assertInstanceOf(TokenEvent.Finished.class, l.awaitEnd());
        return l;
    }
}
