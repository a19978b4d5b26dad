package io.spindle.metrics;

import io.spindle.testing.ServerProcess;
import org.junit.jupiter.api.Test;

import java.net.http.HttpRequest;
import java.net.http.HttpResponse;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * What an operator scrapes from a plain {@code java -jar} (the default profile, not the test one),
 * linted by Prometheus's own {@code promtool check metrics}: as curl asks for it (no Accept header
 * of its own beyond {@code *}{@code /*}), as Prometheus's text format, on {@code /q/metrics} and on
 * the {@code /metrics} alias. A request that names OpenMetrics (as Prometheus does, or alone) gets
 * the text format too, not a 406.
 */
class ProductionScrapeIT {
    @Test
    void thePlainJarsScrapePassesPromtoolHoweverItIsAskedFor() throws Exception {
        try (ServerProcess server = ServerProcess.start("production-scrape")) {
            // Traffic first, so that the generation series exist.
            assertEquals(200, server.post("/v1/completions", "{\"model\":\"demo-gpt2\",\"prompt\":\"Hi\",\"max_tokens\":3}")
                    .statusCode());
            for (String path : new String[] {"/q/metrics", "/metrics"}) {
                for (String accept : new String[] {null, "*/*", "text/plain", "text/plain; version=0.0.4",
                        "application/openmetrics-text; version=1.0.0",
                        "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,"
                                + "text/plain;version=0.0.4;q=0.5,*/*;q=0.1"}) {
                    HttpRequest.Builder b = HttpRequest.newBuilder(server.uri(path));
                    if (accept != null) {
                        b.header("Accept", accept);
                    }
                    HttpResponse<String> r = server.http().send(b.build(), HttpResponse.BodyHandlers.ofString());
                    assertEquals(200, r.statusCode(), path + " " + accept);
                    assertTrue(r.headers().firstValue("Content-Type").orElse("").startsWith("text/plain"),
                            path + " with Accept " + accept + ": " + r.headers().firstValue("Content-Type"));
                    assertTrue(r.body().contains("spindle_requests_total"), "generation series present");
                    assertFalse(r.body().contains("\\\""), "no escaped quotes in HELP");
                    Promtool.assertClean(r.body());
                }
            }
        }
    }
}
