package io.spindle.metrics;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Runs Prometheus's own linter ({@code promtool check metrics}, Debian package {@code prometheus})
 * on a scrape. {@code .ci/run} installs it and sets SPINDLE_REQUIRE_TOOLS, so in CI a missing
 * promtool fails the build; elsewhere the check says it was skipped.
 */
final class Promtool {
    private Promtool() {
    }

    static void assertClean(String scrape) throws Exception {
        Path target = Path.of("target", "metrics-scrape.txt");
        Files.writeString(target, scrape);
        ProcessBuilder pb = new ProcessBuilder("promtool", "check", "metrics").redirectErrorStream(true);
        Process p;
        try {
            p = pb.start();
        } catch (java.io.IOException e) {
            if (System.getenv("SPINDLE_REQUIRE_TOOLS") != null) {
                fail("promtool is required (SPINDLE_REQUIRE_TOOLS is set) but cannot run: " + e.getMessage());
            }
            System.out.println("SKIP promtool check metrics: promtool not installed (scrape saved to " + target + ")");
            return;
        }
        p.getOutputStream().write(scrape.getBytes(StandardCharsets.UTF_8));
        p.getOutputStream().close();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "promtool hung");
        assertEquals(0, p.exitValue(), "promtool check metrics found problems:\n" + out);
        assertEquals("", out.strip(), "promtool check metrics printed warnings:\n" + out);
    }
}
