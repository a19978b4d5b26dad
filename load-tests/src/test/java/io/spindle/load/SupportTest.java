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
        Map<String, String> c = Main.parse(new String[] {"--compare", "on/chat.json", "off/chat.json", "--target", "0.15"});
        assertEquals("on/chat.json\noff/chat.json", c.get("compare"), "--compare takes two files");
        assertEquals("0.15", c.get("target"));
        assertThrows(IllegalArgumentException.class, () -> Main.parse(new String[] {"--compare", "one.json"}));
        Stats.Slo slo = Main.slo("ttft=500,e2e=2000");
        assertEquals(500, slo.ttftMs());
        assertEquals(2000, slo.e2eMs());
        assertThrows(IllegalArgumentException.class, () -> Main.slo("latency=5"));
    }

    @Test
    void histogramQuantilesInterpolateWithinBucketsLikePromQl() {
        java.util.TreeMap<Double, Double> cumulative = new java.util.TreeMap<>();
        cumulative.put(0.01, 10.0);
        cumulative.put(0.1, 90.0);
        cumulative.put(1.0, 100.0);
        cumulative.put(Double.POSITIVE_INFINITY, 100.0);
        assertEquals(0.01 * 0.5, ChaosRun.quantile(cumulative, 0.05), 1e-12, "inside the first bucket, from 0");
        assertEquals(0.01 + 0.09 * 40 / 80, ChaosRun.quantile(cumulative, 0.5), 1e-12);
        assertEquals(0.1 + 0.9 * 9 / 10, ChaosRun.quantile(cumulative, 0.99), 1e-12);
        assertTrue(Double.isNaN(ChaosRun.quantile(new java.util.TreeMap<>(), 0.5)));
    }

    @Test
    void chaosClassifiesWhatTheClientSaw() {
        String sseHead = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\n";
        assertEquals("completed", Chaos.classifyHttp(sseHead + "data: {}\n\ndata: [DONE]\n\n", "openai", Chaos.Kind.NORMAL));
        assertEquals("no_final_event", Chaos.classifyHttp(sseHead + "data: {}\n\n", "openai", Chaos.Kind.NORMAL));
        assertEquals("in_band_error", Chaos.classifyHttp(sseHead + "data: {\"error\":{}}\n\ndata: [DONE]\n\n", "openai",
                Chaos.Kind.NORMAL));
        assertEquals("overloaded_429", Chaos.classifyHttp("HTTP/1.1 429 Too Many Requests\r\n\r\n{}", "tgi", Chaos.Kind.NORMAL));
        assertEquals("rejected_4xx", Chaos.classifyHttp("HTTP/1.1 400 Bad Request\r\n\r\n{}", "http", Chaos.Kind.HOSTILE));
        assertEquals("server_error_500", Chaos.classifyHttp("HTTP/1.1 500 Oops\r\n\r\n{}", "http", Chaos.Kind.HOSTILE));
        assertEquals("completed", Chaos.classifyHttp("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n"
                + "{\"choices\":[],\"usage\":{}}", "openai", Chaos.Kind.HOSTILE), "a JSON answer on a streaming transport");
        assertEquals("rejected_4xx", Chaos.wsErrorOutcome("not_found_error"));
        assertEquals("server_error_ws_server_error", Chaos.wsErrorOutcome("server_error"));
    }
}
