package io.spindle.metrics;

import io.quarkus.test.junit.QuarkusTest;
import io.restassured.RestAssured;
import io.spindle.testing.WsClient;
import io.spindle.app.ModelBootstrap;
import io.spindle.testing.Scrape;
import io.spindle.testing.Server;
import jakarta.inject.Inject;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.InputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static io.restassured.RestAssured.given;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * After real traffic (non-streaming, SSE, WebSocket, one cancelled, one rejected) the scrape holds
 * every documented series with plausible values, and promtool finds nothing wrong with it.
 */
@QuarkusTest
class MetricsTest {
    private static final String M = Server.MODEL;

    @Inject
    ModelBootstrap bootstrap;

    @BeforeEach
    void ready() {
        Server.awaitReady();
        Server.awaitIdle(bootstrap, M);
    }

    /** A scrape in the Prometheus text format (0.0.4), the one promtool lints. */
    static Scrape scrape() {
        return new Scrape(given().accept("text/plain; version=0.0.4").get("/q/metrics").then().statusCode(200)
                .extract().asString());
    }

    private static double requests(Scrape s, String transport, String outcome, String finish) {
        return s.sum("spindle_requests_total", "model", M, "transport", transport, "outcome", outcome,
                "finish_reason", finish);
    }

    @Test
    void trafficShowsUpInEveryDocumentedSeries() throws Exception {
        Scrape before = scrape();

        given().contentType("application/json")
                .body("{\"model\":\"" + M + "\",\"prompt\":\"Hello\",\"max_tokens\":5,\"ignore_eos\":true}")
                .post("/v1/completions").then().statusCode(200);
        String sse = given().contentType("application/json")
                .body("{\"model\":\"" + M + "\",\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}],\"max_tokens\":4,"
                        + "\"ignore_eos\":true,\"stream\":true}")
                .post("/v1/chat/completions").then().statusCode(200).extract().asString();
        assertTrue(sse.contains("[DONE]"));
        try (WsClient ws = new WsClient(RestAssured.port)) {
            ws.send("{\"type\":\"generate\",\"id\":\"w\",\"model\":\"" + M + "\",\"prompt\":\"Hi\",\"max_tokens\":3,"
                    + "\"ignore_eos\":true}");
            ws.await("done", f -> "done".equals(f.getString("type")));
        }
        given().contentType("application/json")
                .body("{\"model\":\"" + M + "\",\"prompt\":\"Hello\",\"max_tokens\":100000}")
                .post("/v1/completions").then().statusCode(400);
        given().contentType("application/json").body("{\"model\":\"no-such-model\",\"prompt\":\"Hello\"}")
                .post("/v1/completions").then().statusCode(404);
        try (Socket s = Server.rawPost(RestAssured.port, "/v1/completions", "{\"model\":\"" + M
                + "\",\"prompt\":\"Hello\",\"max_tokens\":500,\"ignore_eos\":true,\"stream\":true}")) {
            InputStream in = s.getInputStream();
            readUntil(in, "data: ", 2);
        }
        Server.eventually("the cancelled stream counted", 10_000,
                () -> requests(scrape(), "sse", "cancelled", "none") > requests(before, "sse", "cancelled", "none"));
        Server.awaitIdle(bootstrap, M);
        Scrape after = scrape();

        assertEquals(1, requests(after, "http", "finished", "length") - requests(before, "http", "finished", "length"));
        assertEquals(1, requests(after, "sse", "finished", "length") - requests(before, "sse", "finished", "length"));
        assertEquals(1, requests(after, "ws", "finished", "length") - requests(before, "ws", "finished", "length"));
        assertEquals(1, requests(after, "sse", "cancelled", "none") - requests(before, "sse", "cancelled", "none"));
        assertEquals(1, requests(after, "http", "rejected", "none") - requests(before, "http", "rejected", "none"));
        assertEquals(1, after.sum("spindle_requests_total", "model", "unknown", "outcome", "rejected")
                - before.sum("spindle_requests_total", "model", "unknown", "outcome", "rejected"),
                "a request for a model that is not served is counted without its (unbounded) name");

        double generated = delta(before, after, "spindle_generation_tokens_total");
        assertTrue(generated >= 5 + 4 + 3 + 1, "generated tokens: " + generated);
        assertTrue(delta(before, after, "spindle_prompt_tokens_total") >= 4, "prompt tokens");
        assertEquals(4, delta(before, after, "spindle_time_to_first_token_seconds_count"), "one first token per request");
        assertEquals(generated - 4, delta(before, after, "spindle_inter_token_latency_seconds_count"),
                "one gap per later token");
        assertEquals(4, delta(before, after, "spindle_request_duration_seconds_count"));
        assertEquals(4, delta(before, after, "spindle_request_queue_time_seconds_count"));
        assertEquals(4, delta(before, after, "spindle_request_prompt_tokens_count"));
        assertEquals(generated, delta(before, after, "spindle_request_generation_tokens_sum"));
        assertTrue(delta(before, after, "spindle_cancellation_latency_seconds_count") >= 1, "cancellation latency");
        double steps = delta(before, after, "spindle_prefill_step_duration_seconds_count")
                + delta(before, after, "spindle_decode_step_duration_seconds_count");
        assertEquals(steps, delta(before, after, "spindle_batch_size_count"), "one batch size per step");
        assertTrue(delta(before, after, "spindle_prefill_step_duration_seconds_count") >= 4, "a prefill step each");
        assertTrue(delta(before, after, "spindle_batch_size_sum") >= steps, "batch sizes are at least 1");

        assertEquals(0, after.sum("spindle_requests_waiting", "model", M));
        assertEquals(0, after.sum("spindle_requests_running", "model", M));
        assertEquals(0, after.sum("spindle_kv_cache_usage_ratio", "model", M));
        assertTrue(after.sum("spindle_kv_cache_capacity_bytes", "model", M) >= 1 << 20, "KV capacity in bytes");
        assertEquals("gauge", after.type("spindle_kv_cache_usage_ratio"));
        assertEquals("histogram", after.type("spindle_time_to_first_token_seconds"));
        assertEquals("counter", after.type("spindle_requests_total"));
        assertTrue(after.sum("process_cpu_seconds_total") > 0, "process CPU time in seconds");
        assertTrue(after.sum("process_resident_memory_bytes") > 100e6, "resident memory in bytes");
        assertEquals(0, after.sum("spindle_runner_allocated_bytes", "model", M), "an idle runner holds nothing");
        assertBucketsConsistent(after, "spindle_inter_token_latency_seconds");
        assertBucketsConsistent(after, "spindle_batch_size");

        Promtool.assertClean(after.text());
    }

    @Test
    void constrainedRequestsShowInTheConstraintSeries() throws Exception {
        // Fresh constraint texts: the compile cache is shared by every test of this server.
        String nonce = Long.toString(System.nanoTime());
        String regexBody = "{\"model\":\"" + M + "\",\"prompt\":\"Code:\",\"max_tokens\":20,\"temperature\":1,"
                + "\"seed\":1,\"guided_regex\":\"[a-c]{2}-" + nonce + "\"}";
        String schema = "{\"type\":\"object\",\"description\":\"" + nonce + "\",\"properties\":{\"ok\":{\"type\":\"boolean\"},"
                + "\"n\":{\"type\":\"integer\"}},\"required\":[\"ok\",\"n\"],\"additionalProperties\":false}";
        Scrape before = scrape();

        given().contentType("application/json").body(regexBody).post("/v1/completions").then().statusCode(200);
        given().contentType("application/json").body(regexBody.replace("\"seed\":1", "\"seed\":2"))
                .post("/v1/completions").then().statusCode(200);
        given().contentType("application/json").body("{\"model\":\"" + M + "\",\"messages\":[{\"role\":\"user\","
                        + "\"content\":\"Hi\"}],\"max_tokens\":40,\"seed\":3,\"response_format\":{\"type\":\"json_schema\","
                        + "\"json_schema\":{\"name\":\"s\",\"schema\":" + schema + "}}}")
                .post("/v1/chat/completions").then().statusCode(200);
        given().contentType("application/json").body("{\"model\":\"" + M + "\",\"prompt\":\"x\",\"guided_regex\":\"(?=a)b"
                + nonce + "\"}").post("/v1/completions").then().statusCode(400);
        Server.awaitIdle(bootstrap, M);
        Scrape after = scrape();

        assertEquals(3, kind(before, after, "spindle_constraint_cache_lookups_total", "regex"),
                "two identical regexes and one that does not compile were looked up");
        assertEquals(1, kind(before, after, "spindle_constraint_cache_hits_total", "regex"),
                "the second identical regex is a cache hit");
        assertEquals(1, kind(before, after, "spindle_constraint_compile_duration_seconds_count", "regex"),
                "one regex compiled (the hit compiles nothing, the failure is not timed)");
        assertEquals(1, kind(before, after, "spindle_constraint_cache_lookups_total", "json_schema"));
        assertEquals(0, kind(before, after, "spindle_constraint_cache_hits_total", "json_schema"));
        assertEquals(1, kind(before, after, "spindle_constraint_compile_duration_seconds_count", "json_schema"));
        assertTrue(kind(before, after, "spindle_constraint_compile_duration_seconds_sum", "json_schema") > 0);
        assertEquals(0, kind(before, after, "spindle_constraint_cache_lookups_total", "choice"));
        assertEquals(0, after.sum("spindle_constraint_cache_lookups_total", "kind", "json_object")
                - before.sum("spindle_constraint_cache_lookups_total", "kind", "json_object"));
        assertEquals("histogram", after.type("spindle_constraint_compile_duration_seconds"));
        assertEquals("counter", after.type("spindle_constraint_cache_hits_total"));

        double generated = delta(before, after, "spindle_generation_tokens_total");
        assertTrue(generated >= 3 * 2, "the regex outputs have at least 2 tokens each: " + generated);
        assertEquals(generated, delta(before, after, "spindle_constraint_mask_duration_seconds_count"),
                "every token of these requests was sampled from masked logits, one observation each");
        assertTrue(delta(before, after, "spindle_constraint_mask_duration_seconds_sum") > 0);
        assertEquals("histogram", after.type("spindle_constraint_mask_duration_seconds"));
        assertBucketsConsistent(after, "spindle_constraint_mask_duration_seconds");
        Promtool.assertClean(after.text());
    }

    private static double kind(Scrape before, Scrape after, String name, String kind) {
        return after.sum(name, "kind", kind) - before.sum(name, "kind", kind);
    }

    @Test
    void runningAndWaitingGaugesFollowTheEngine() throws Exception {
        try (Socket s = Server.rawPost(RestAssured.port, "/v1/completions", "{\"model\":\"" + M
                + "\",\"prompt\":\"Hello\",\"max_tokens\":400,\"ignore_eos\":true,\"stream\":true}")) {
            readUntil(s.getInputStream(), "data: ", 1);
            Scrape during = scrape();
            assertEquals(1, during.sum("spindle_requests_running", "model", M));
            double usage = during.sum("spindle_kv_cache_usage_ratio", "model", M);
            assertTrue(during.sum("spindle_runner_allocated_bytes", "model", M) > 0, "a decoding runner holds its cache");
            assertTrue(usage > 0 && usage <= 1, "KV usage while a stream runs: " + usage);
        }
        Server.awaitIdle(bootstrap, M);
        assertEquals(0, scrape().sum("spindle_requests_running", "model", M));
    }

    private static double delta(Scrape before, Scrape after, String name) {
        return after.sum(name, "model", M) - before.sum(name, "model", M);
    }

    /** Cumulative buckets never decrease, and the +Inf bucket equals the count. */
    private static void assertBucketsConsistent(Scrape s, String family) {
        List<Scrape.Series> buckets = s.find(family + "_bucket", "model", M);
        assertTrue(buckets.size() > 5, family + " has real buckets");
        double last = 0;
        for (Scrape.Series b : buckets) {
            assertTrue(b.value() >= last, family + " buckets are cumulative");
            last = b.value();
        }
        assertEquals("+Inf", buckets.getLast().labels().get("le"));
        assertEquals(s.sum(family + "_count", "model", M), last);
    }

    static String readUntil(InputStream in, String marker, int count) throws Exception {
        StringBuilder sb = new StringBuilder();
        byte[] buf = new byte[4096];
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (sb.toString().split(marker, -1).length - 1 < count && System.nanoTime() < deadline) {
            int n = in.read(buf);
            if (n < 0) {
                break;
            }
            sb.append(new String(buf, 0, n, StandardCharsets.UTF_8));
        }
        return sb.toString();
    }
}
