package io.spindle.testing;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.networknt.schema.InputFormat;
import com.networknt.schema.Schema;
import com.networknt.schema.SchemaRegistry;
import com.networknt.schema.SpecificationVersion;
import io.spindle.engine.Engine;
import io.spindle.engine.request.EngineRequest;
import io.spindle.engine.request.FinishReason;
import io.spindle.engine.request.TokenEvent;
import io.spindle.sampling.SamplingParams;
import io.spindle.sampling.constraint.CompiledConstraint;
import io.spindle.sampling.constraint.ConstraintCompiler;
import io.spindle.sampling.constraint.ConstraintSpec;
import io.spindle.sampling.constraint.TokenVocabulary;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Runs JSON-Schema-constrained generations through a real {@link Engine} with seeded random sampling
 * (temperature 1) and checks every output: strict UTF-8, parsed by Jackson, validated by networknt
 * (draft 2020-12, format assertions on). Used by the validity model test and the constraint benchmark.
 */
public final class ConstraintValidity {
    private static final ObjectMapper JSON = new ObjectMapper().enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);
    /** A fixed prompt ("The quick brown fox jumps"); the constraint, not the prompt, shapes the output. */
    public static final int[] PROMPT = {464, 2068, 7586, 21831, 18045};

    private ConstraintValidity() {
    }

    /** One schema's results over its seeds. {@code failures} holds up to 5 examples with the reason. */
    public record Outcome(String name, int runs, int valid, int truncated, int invalid, long tokens,
                          List<String> failures) {
        public boolean allValid() {
            return valid == runs;
        }
    }

    /**
     * Generates {@code seeds} outputs per schema (seed = {@code seedBase} + i), at most {@code inFlight}
     * submitted at once, and checks each.
     *
     * @param maxTokens each output's limit; an output cut there is counted as truncated (not valid)
     */
    public static List<Outcome> run(Engine engine, TokenVocabulary vocab, int[] stopIds, List<ConstraintSchemas.Named> schemas,
                                    int seeds, long seedBase, int maxTokens, int inFlight) throws Exception {
        ConstraintCompiler compiler = new ConstraintCompiler();
        List<Outcome> out = new ArrayList<>();
        for (ConstraintSchemas.Named named : schemas) {
            CompiledConstraint compiled = compiler.compile(new ConstraintSpec.JsonSchema(named.schema()), vocab);
            Schema validator = validator(named.schema());
            Semaphore slots = new Semaphore(inFlight);
            List<CompletableFuture<String>> results = new ArrayList<>();
            AtomicLong tokens = new AtomicLong();
            for (int i = 0; i < seeds; i++) {
                slots.acquire();
                CompletableFuture<String> result = new CompletableFuture<>();
                results.add(result);
                ByteArrayOutputStream text = new ByteArrayOutputStream();
                engine.submit(new EngineRequest(named.name() + "-" + i, PROMPT,
                        new SamplingParams(1.0, 0, 1, 1, 0, 0, seedBase + i), maxTokens, stopIds, -1, false, 0,
                        compiled), ev -> {
                    if (ev instanceof TokenEvent.Token t) {
                        tokens.incrementAndGet();
                        if (!vocab.isEos(t.tokenId())) {
                            text.writeBytes(vocab.bytes(t.tokenId()));
                        }
                    } else if (ev instanceof TokenEvent.Finished f) {
                        slots.release();
                        result.complete(f.reason() == FinishReason.LENGTH ? null : check(validator, text.toByteArray()));
                    } else if (ev.isEnd()) {
                        slots.release();
                        result.complete("ended with " + ev);
                    }
                });
            }
            int valid = 0;
            int truncated = 0;
            int invalid = 0;
            List<String> failures = new ArrayList<>();
            for (CompletableFuture<String> r : results) {
                String problem = r.get(10, TimeUnit.MINUTES);
                if (problem == null) {
                    truncated++;
                    if (failures.size() < 5) {
                        failures.add("truncated at " + maxTokens + " tokens");
                    }
                } else if (problem.isEmpty()) {
                    valid++;
                } else {
                    invalid++;
                    if (failures.size() < 5) {
                        failures.add(problem);
                    }
                }
            }
            out.add(new Outcome(named.name(), seeds, valid, truncated, invalid, tokens.get(), failures));
        }
        return out;
    }

    public static Schema validator(String schemaJson) {
        return SchemaRegistry.withDefaultDialect(SpecificationVersion.DRAFT_2020_12).getSchema(schemaJson, InputFormat.JSON);
    }

    /** "" when the output is valid UTF-8, parses and validates; otherwise what is wrong, with the output. */
    public static String check(Schema schema, byte[] output) {
        String text;
        try {
            text = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(output)).toString();
        } catch (CharacterCodingException e) {
            return "not UTF-8: " + new String(output, StandardCharsets.UTF_8);
        }
        try {
            JSON.readTree(text);
        } catch (Exception e) {
            return "not JSON (" + e.getMessage().lines().findFirst().orElse("") + "): " + text;
        }
        var errors = schema.validate(text, InputFormat.JSON, ctx -> ctx.executionConfig(c -> c.formatAssertionsEnabled(true)));
        return errors.isEmpty() ? "" : "invalid " + errors + ": " + text;
    }
}
