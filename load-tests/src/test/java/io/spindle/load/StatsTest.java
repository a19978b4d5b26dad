package io.spindle.load;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The metric arithmetic on synthetic event timings, checked against hand-computed values. */
class StatsTest {
    private static final long MS = 1_000_000;

    /** A request sent at {@code send} ms whose tokens arrive at the given ms and which ends at {@code end} ms. */
    private static RequestResult req(long send, long end, long... tokenMs) {
        long[] t = new long[tokenMs.length];
        for (int i = 0; i < t.length; i++) {
            t[i] = tokenMs[i] * MS;
        }
        return new RequestResult("openai", send * MS, t, end * MS, t.length, 10, null, null);
    }

    @Test
    void percentilesInterpolateLinearlyLikeNumpy() {
        double[] v = {1, 2, 3, 4};
        assertEquals(2.5, Stats.percentile(v, 50), 1e-12);
        assertEquals(3.7, Stats.percentile(v, 90), 1e-12);
        assertEquals(3.97, Stats.percentile(v, 99), 1e-12);
        assertEquals(1, Stats.percentile(v, 0), 1e-12);
        assertEquals(4, Stats.percentile(v, 100), 1e-12);
        assertEquals(7, Stats.percentile(new double[] {7}, 99), 1e-12);
        assertTrue(Double.isNaN(Stats.percentile(new double[0], 50)));
    }

    @Test
    void ttftItlTpotAndE2eFollowVllmsDefinitions() {
        // A: sent at 0, tokens at 100, 110, 130, ends at 130. B: sent at 50, tokens at 250, 300, ends at 310.
        List<RequestResult> rs = List.of(req(0, 130, 100, 110, 130), req(50, 310, 250, 300));
        Stats.RunMetrics m = Stats.compute(rs, 2.0, Stats.Slo.NONE);
        assertEquals(2, m.succeeded());
        assertEquals(5, m.outputTokens());
        assertEquals(20, m.promptTokens());
        // TTFT: 100 and 200.
        assertEquals(150, m.ttft().mean(), 1e-9);
        assertEquals(150, m.ttft().p50(), 1e-9);
        // ITL pooled: 10, 20 (A) and 50 (B).
        assertEquals(3, m.itl().n());
        assertEquals(80.0 / 3, m.itl().mean(), 1e-9);
        assertEquals(20, m.itl().p50(), 1e-9);
        // TPOT: A (130-100)/(3-1) = 15; B (260-200)/(2-1) = 60.
        assertEquals(37.5, m.tpot().mean(), 1e-9);
        // E2E: 130 and 260.
        assertEquals(195, m.e2e().mean(), 1e-9);
        assertEquals(260, m.e2e().max(), 1e-9);
        // Throughput over the wall time given.
        assertEquals(2.5, m.outputTokensPerSecond(), 1e-9);
        assertEquals(1.0, m.requestsPerSecond(), 1e-9);
        assertTrue(Double.isNaN(m.goodput()), "no SLO, no goodput");
    }

    @Test
    void failuresAreCountedByKindAndLeftOutOfLatencies() {
        List<RequestResult> rs = List.of(req(0, 130, 100, 110, 130),
                RequestResult.failed("tgi", 0, new long[0], "http_429", "queue full"),
                RequestResult.failed("ws", 0, new long[] {5 * MS}, "incomplete", "closed"),
                RequestResult.failed("tgi", 0, new long[0], "http_429", "queue full"));
        Stats.RunMetrics m = Stats.compute(rs, 1.0, Stats.Slo.NONE);
        assertEquals(4, m.requests());
        assertEquals(1, m.succeeded());
        assertEquals(3, m.failed());
        assertEquals(2, m.errors().get("http_429"));
        assertEquals(1, m.errors().get("incomplete"));
        assertEquals(1, m.ttft().n());
        assertEquals(3, m.outputTokens(), "tokens of failed requests do not count as output");
    }

    @Test
    void goodputCountsRequestsMeetingEverySlo() {
        List<RequestResult> rs = List.of(
                req(0, 130, 100, 110, 130),   // TTFT 100, TPOT 15, E2E 130
                req(50, 310, 250, 300),       // TTFT 200, TPOT 60, E2E 260
                req(0, 40, 40));              // TTFT 40, one token (no TPOT), E2E 40
        assertEquals(1.0, Stats.compute(rs, 2.0, new Stats.Slo(150.0, null, null)).goodput(), 1e-9, "A and C");
        assertEquals(0.5, Stats.compute(rs, 2.0, new Stats.Slo(150.0, 10.0, null)).goodput(), 1e-9,
                "A misses the TPOT objective; a one-token request (C) has no TPOT to miss");
        assertEquals(0.5, Stats.compute(rs, 2.0, new Stats.Slo(null, null, 100.0)).goodput(), 1e-9);
    }

    @Test
    void anEmptyRunHasNoLatencies() {
        Stats.RunMetrics m = Stats.compute(List.of(), 0, Stats.Slo.NONE);
        assertEquals(0, m.requests());
        assertTrue(Double.isNaN(m.ttft().p99()));
    }
}
