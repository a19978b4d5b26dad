package io.spindle.load;

import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Workload generation, the scrape parser, option parsing. */
class SupportTest {
    @Test
    void workloadsAreSeededAndHaveTheRequestedLengths() {
        List<Workload.Item> a = Workload.generate(5, 20, 30, 0, 7);
        assertEquals(a, Workload.generate(5, 20, 30, 0, 7));
        assertNotEquals(a, Workload.generate(5, 20, 30, 0, 8));
        for (Workload.Item i : a) {
            assertEquals(20, i.prompt().split(" ").length);
            assertEquals(30, i.maxTokens());
        }
        for (Workload.Item i : Workload.generate(200, 100, 100, 0.5, 1)) {
            int words = i.prompt().split(" ").length;
            assertTrue(words >= 50 && words <= 150, "input within the range: " + words);
            assertTrue(i.maxTokens() >= 50 && i.maxTokens() <= 150, "output within the range: " + i.maxTokens());
        }
    }

    @Test
    void scrapeDeltasGiveTheServersView() {
        String before = """
                # TYPE spindle_generation_tokens_total counter
                spindle_generation_tokens_total{model="m",} 100.0
                spindle_generation_tokens_total{model="other",} 5.0
                spindle_requests_total{finish_reason="length",model="m",outcome="finished",transport="sse",} 3.0
                spindle_requests_total{finish_reason="none",model="m",outcome="rejected",transport="http",} 1.0
                spindle_time_to_first_token_seconds_sum{model="m",} 0.5
                spindle_time_to_first_token_seconds_count{model="m",} 3.0
                """;
        String after = """
                spindle_generation_tokens_total{model="m",} 164.0
                spindle_generation_tokens_total{model="other",} 9.0
                spindle_requests_total{finish_reason="length",model="m",outcome="finished",transport="sse",} 5.0
                spindle_requests_total{finish_reason="length",model="m",outcome="finished",transport="ws",} 2.0
                spindle_requests_total{finish_reason="none",model="m",outcome="rejected",transport="http",} 1.0
                spindle_time_to_first_token_seconds_sum{model="m",} 0.9
                spindle_time_to_first_token_seconds_count{model="m",} 7.0
                """;
        Map<String, Double> d = ServerMetrics.delta(ServerMetrics.parse(before, "m"), ServerMetrics.parse(after, "m"));
        ServerMetrics.View v = ServerMetrics.View.of(d);
        assertEquals(64, v.generatedTokens(), 1e-9);
        assertEquals(4, v.finishedRequests(), 1e-9);
        assertEquals(0, v.rejectedRequests(), 1e-9);
        assertEquals(100, v.meanTtftMs(), 1e-9);
        assertTrue(Double.isNaN(v.meanItlMs()));
    }

    @Test
    void optionsAndSlosParseOrSayWhatIsWrong() {
        Map<String, String> o = Main.parse(new String[] {"--concurrency", "1,4", "--no-progress"});
        assertEquals("1,4", o.get("concurrency"));
        assertEquals("true", o.get("no-progress"));
        assertThrows(IllegalArgumentException.class, () -> Main.parse(new String[] {"--requests"}));
        Stats.Slo slo = Main.slo("ttft=500,e2e=2000");
        assertEquals(500, slo.ttftMs());
        assertEquals(2000, slo.e2eMs());
        assertThrows(IllegalArgumentException.class, () -> Main.slo("latency=5"));
    }
}
