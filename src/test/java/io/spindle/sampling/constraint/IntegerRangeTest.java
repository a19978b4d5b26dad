package io.spindle.sampling.constraint;

import dk.brics.automaton.RegExp;
import dk.brics.automaton.RunAutomaton;
import org.junit.jupiter.api.Test;

import java.math.BigInteger;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Integer ranges as regular expressions: exactly the integers within, written as JSON writes them. */
class IntegerRangeTest {
    private static RunAutomaton compile(long lo, long hi) {
        return new RunAutomaton(new RegExp(RegexTranslator.toBrics(IntegerRange.regex(BigInteger.valueOf(lo),
                BigInteger.valueOf(hi))), RegExp.NONE).toAutomaton());
    }

    @Test
    void everySmallRangeMatchesExactlyItsIntegers() {
        for (long lo = -120; lo <= 130; lo += 7) {
            for (long hi = lo; hi <= 260; hi += 11) {
                RunAutomaton r = compile(lo, hi);
                for (long v = -260; v <= 400; v++) {
                    assertEquals(v >= lo && v <= hi, r.run(Long.toString(v)), "[" + lo + ", " + hi + "] on " + v);
                }
                assertFalse(r.run("-0"), "no -0");
                assertFalse(r.run("007"), "no leading zeros");
                assertFalse(r.run(""), "not empty");
            }
        }
    }

    @Test
    void wideAndSeededRangesAgreeWithArithmetic() {
        SplittableRandom random = new SplittableRandom(17);
        for (int trial = 0; trial < 200; trial++) {
            long a = random.nextLong(-5_000_000_000L, 5_000_000_000L);
            long b = random.nextLong(-5_000_000_000L, 5_000_000_000L);
            long lo = Math.min(a, b);
            long hi = Math.max(a, b);
            RunAutomaton r = compile(lo, hi);
            for (long v : new long[] {lo, hi, lo - 1, hi + 1, (lo / 2 + hi / 2), 0, -1, 1, random.nextLong(-9_000_000_000L, 9_000_000_000L)}) {
                assertEquals(v >= lo && v <= hi, r.run(Long.toString(v)), "[" + lo + ", " + hi + "] on " + v);
            }
        }
        RunAutomaton full = compile(-999_999_999_999_999_999L, 999_999_999_999_999_999L);
        assertTrue(full.run("999999999999999999") && full.run("-42") && full.run("0"));
        assertFalse(full.run("1000000000000000000"));
    }
}
