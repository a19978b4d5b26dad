package io.spindle.app;

import io.spindle.testing.ServerProcess;
import static io.spindle.testing.Tools.onPath;
import static io.spindle.testing.Tools.run;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Real third-party JavaScript clients against the packaged server, as their users run them: runs
 * {@code src/test/clients/*.test.mjs} (Node's test runner; the official {@code openai} SDK,
 * LangChain.js's {@code @langchain/openai}, the Vercel AI SDK with {@code @ai-sdk/openai-compatible},
 * and Hugging Face's {@code @huggingface/inference}, versions pinned in its package.json). Needs
 * {@code node} 20 or newer and {@code npm}; without them the test says it was skipped, unless
 * SPINDLE_REQUIRE_TOOLS is set, where it fails.
 */
class NodeClientsIT {
    private static final Path DIR = Path.of("src", "test", "clients");
    private static final List<String> TESTS = List.of("openai.test.mjs", "langchain.test.mjs", "vercel-ai.test.mjs",
            "huggingface-inference.test.mjs");
    private static final List<String> PACKAGES = List.of("openai", "@langchain/openai", "@langchain/core", "ai",
            "@ai-sdk/openai-compatible", "@huggingface/inference", "@huggingface/inference-v3");

    @Test
    void realJavaScriptClientsStreamChatAndCompletionsAndReadUsage() throws Exception {
        if (!onPath("node") || !onPath("npm") || nodeMajor() < 20) {
            if (System.getenv("SPINDLE_REQUIRE_TOOLS") != null) {
                fail("node >= 20 and npm are required (SPINDLE_REQUIRE_TOOLS is set)");
            }
            System.out.println("SKIP NodeClientsIT: node >= 20 or npm is not installed");
            return;
        }
        // npm ci when node_modules is missing, lacks a client, or predates the lock file (versions changed).
        Path installed = DIR.resolve("node_modules").resolve(".package-lock.json");
        if (!PACKAGES.stream().allMatch(p -> Files.isDirectory(DIR.resolve("node_modules").resolve(p)))
                || !Files.isRegularFile(installed)
                || Files.getLastModifiedTime(DIR.resolve("package-lock.json")).compareTo(Files.getLastModifiedTime(installed)) > 0) {
            run(List.of("npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"), DIR, 300);
        }
        try (ServerProcess server = ServerProcess.start("clients")) {
            List<String> cmd = new ArrayList<>(List.of("node", "--test", "--test-concurrency=1", "--test-timeout=120000"));
            cmd.addAll(TESTS);
            ProcessBuilder pb = new ProcessBuilder(cmd).directory(DIR.toFile()).redirectErrorStream(true);
            pb.environment().put("SPINDLE_URL", "http://127.0.0.1:" + server.port());
            Process p = pb.start();
            String out = new String(p.getInputStream().readAllBytes());
            assertTrue(p.waitFor(5, TimeUnit.MINUTES), "client tests hung");
            System.out.println(out);
            assertEquals(0, p.exitValue(), "client tests failed:\n" + out);
            Matcher tests = Pattern.compile("(?m)^# tests (\\d+)$").matcher(out);
            assertTrue(tests.find() && Integer.parseInt(tests.group(1)) >= TESTS.size(), "the client tests ran:\n" + out);
            assertTrue(out.contains("\n# fail 0\n") && out.contains("\n# cancelled 0\n"), "none failed:\n" + out);
        }
    }

    /** The clients' oldest supported Node is 20 (LangChain.js); Debian 12's own nodejs is 18. */
    private static int nodeMajor() throws Exception {
        Process p = new ProcessBuilder("node", "--version").redirectErrorStream(true).start();
        String v = new String(p.getInputStream().readAllBytes()).trim();
        p.waitFor(10, TimeUnit.SECONDS);
        Matcher m = Pattern.compile("^v(\\d+)\\.").matcher(v);
        return m.find() ? Integer.parseInt(m.group(1)) : 0;
    }


}
