package io.spindle.app;

import io.spindle.testing.ServerProcess;
import static io.spindle.testing.Tools.onPath;
import static io.spindle.testing.Tools.run;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The browser playground, end to end in the system's headless Chromium: runs
 * {@code src/test/playground/playground.test.mjs} (Node's test runner with playwright-core from npm)
 * against the packaged server. Screenshots: {@code target/playground/}. Needs {@code node}, {@code npm}
 * and {@code chromium} (Debian packages; {@code .ci/run} installs them); without them the test says
 * it was skipped, unless SPINDLE_REQUIRE_TOOLS is set, where it fails.
 */
class PlaygroundIT {
    private static final Path DIR = Path.of("src", "test", "playground");

    @Test
    void thePlaygroundStreamsStopsAndReportsErrorsInARealBrowser() throws Exception {
        String chromium = System.getenv().getOrDefault("CHROMIUM", "/usr/bin/chromium");
        if (!Files.isExecutable(Path.of(chromium)) || !onPath("node") || !onPath("npm")) {
            if (System.getenv("SPINDLE_REQUIRE_TOOLS") != null) {
                fail("chromium, node and npm are required (SPINDLE_REQUIRE_TOOLS is set)");
            }
            System.out.println("SKIP PlaygroundIT: chromium, node or npm is not installed");
            return;
        }
        if (!Files.isDirectory(DIR.resolve("node_modules").resolve("playwright-core"))) {
            run(List.of("npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"), DIR, 300);
        }
        // One sequence at a time with one waiting, so the page can be shown a real 429.
        try (ServerProcess server = ServerProcess.start("playground", "spindle.engine.max-batch-size=1",
                "spindle.engine.max-waiting=1")) {
            ProcessBuilder pb = new ProcessBuilder("node", "--test", "--test-concurrency=1", "playground.test.mjs")
                    .directory(DIR.toFile()).redirectErrorStream(true);
            pb.environment().put("SPINDLE_URL", "http://127.0.0.1:" + server.port() + "/");
            pb.environment().put("SCREENSHOT_DIR", Path.of("target", "playground").toAbsolutePath().toString());
            pb.environment().put("CHROMIUM", chromium);
            Process p = pb.start();
            String out = new String(p.getInputStream().readAllBytes());
            assertTrue(p.waitFor(5, TimeUnit.MINUTES), "browser tests hung");
            System.out.println(out);
            assertEquals(0, p.exitValue(), "browser tests failed:\n" + out);
            assertTrue(Files.isRegularFile(Path.of("target", "playground", "stream-sse.png")), "a screenshot was taken");
        }
    }


}
