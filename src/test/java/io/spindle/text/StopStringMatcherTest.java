package io.spindle.text;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class StopStringMatcherTest {
    @Test
    void aStopStringSpanningSeveralDeltasEndsTheTextBeforeIt() {
        StopStringMatcher m = new StopStringMatcher(List.of("###"));
        StringBuilder out = new StringBuilder();
        for (String d : new String[] {"Hello", " wor", "ld #", "#", "# and more"}) {
            StopStringMatcher.Match r = m.push(d);
            out.append(r.text());
            if (r.stopped()) {
                break;
            }
        }
        assertEquals("Hello world ", out.toString());
    }

    @Test
    void aPossibleStartIsHeldBackUntilItIsKnownNotToBeAStop() {
        StopStringMatcher m = new StopStringMatcher(List.of("END"));
        StopStringMatcher.Match a = m.push("the E");
        assertEquals("the ", a.text());
        StopStringMatcher.Match b = m.push("Nx");
        assertEquals("ENx", b.text());
        assertFalse(b.stopped());
    }

    @Test
    void heldTextIsReleasedWhenTheStreamEndsWithoutAStop() {
        StopStringMatcher m = new StopStringMatcher(List.of("STOP"));
        assertEquals("abc ", m.push("abc ST").text());
        assertEquals("ST", m.flush());
    }

    @Test
    void theEarliestOfSeveralStopsWins() {
        StopStringMatcher m = new StopStringMatcher(List.of("bb", "a"));
        StopStringMatcher.Match r = m.push("xxbbya");
        assertTrue(r.stopped());
        assertEquals("xx", r.text());
    }

    @Test
    void withoutStopsTextPassesThroughUnchanged() {
        StopStringMatcher m = new StopStringMatcher(List.of());
        assertEquals("🙂 x", m.push("🙂 x").text());
        assertEquals("", m.flush());
    }
}
