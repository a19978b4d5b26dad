package io.spindle.sampling.constraint;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Plays a random "model": at each step a seeded random choice among the allowed token ids, more and
 * more often the candidate that brings completion nearest (so that walks end in bounded steps), and
 * checks the state's contracts on the way: something is always allowed, EOS only when it accepts,
 * only EOS once complete.
 */
public final class ConstraintWalker {
    private final CompiledConstraint compiled;
    private final SplittableRandom random;

    public ConstraintWalker(CompiledConstraint compiled, long seed) {
        this.compiled = compiled;
        this.random = new SplittableRandom(seed);
    }

    /** One generation; returns the text (asserted to be valid UTF-8) that ended with EOS. */
    public String walk(int maxTokens) {
        ConstraintState st = compiled.start();
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        TokenVocabulary v = compiled.vocabulary();
        int eos = v.eosIds()[0];
        for (int step = 0; step < maxTokens; step++) {
            int[] allowed = ids(st.allowedTokens(), v.size());
            assertTrue(allowed.length > 0, "a live state allows some token");
            assertEquals(st.allowsEos(), st.isAllowed(eos), "EOS is allowed exactly when the constraint accepts");
            if (st.isComplete()) {
                assertEquals(1, allowed.length, "only EOS once complete");
                assertEquals(eos, allowed[0]);
            }
            int chosen = choose(allowed, st, step);
            st.advance(chosen);
            if (chosen == eos) {
                assertTrue(st.hasEnded());
                return utf8(out.toByteArray());
            }
            out.writeBytes(v.bytes(chosen));
        }
        fail("no EOS after " + maxTokens + " tokens: " + utf8Lenient(out.toByteArray()));
        return null;
    }

    private int choose(int[] allowed, ConstraintState st, int step) {
        double greed = step < 8 ? 0.1 : Math.min(1.0, 0.1 + step / 60.0);
        if (random.nextDouble() >= greed) {
            return allowed[random.nextInt(allowed.length)];
        }
        // the nearest-to-completion of a few random candidates (all of them late in long walks)
        int tries = step > 120 ? allowed.length : Math.min(allowed.length, 48);
        int best = -1;
        int bestDistance = Integer.MAX_VALUE;
        for (int k = 0; k < tries; k++) {
            int id = tries == allowed.length ? allowed[k] : allowed[random.nextInt(allowed.length)];
            int d = distanceAfter(st, id);
            if (d < bestDistance) {
                best = id;
                bestDistance = d;
            }
        }
        return best;
    }

    private int distanceAfter(ConstraintState st, int id) {
        if (compiled.vocabulary().isEos(id)) {
            return -1;
        }
        ByteDfa dfa = compiled.dfa();
        int s = st.dfaState();
        for (byte b : compiled.vocabulary().bytes(id)) {
            s = dfa.step(s, b);
        }
        return dfa.distance[s];
    }

    static int[] ids(long[] mask, int size) {
        List<Integer> out = new ArrayList<>();
        for (int i = 0; i < size; i++) {
            if ((mask[i >>> 6] & (1L << i)) != 0) {
                out.add(i);
            }
        }
        return out.stream().mapToInt(Integer::intValue).toArray();
    }

    static String utf8(byte[] bytes) {
        try {
            return StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(bytes)).toString();
        } catch (CharacterCodingException e) {
            fail("constrained output is not valid UTF-8: " + utf8Lenient(bytes));
            return null;
        }
    }

    private static String utf8Lenient(byte[] bytes) {
        return new String(bytes, StandardCharsets.UTF_8);
    }

    static void assertValidUtf8(String s) {
        assertFalse(s.contains("\uFFFD"));
    }
}
