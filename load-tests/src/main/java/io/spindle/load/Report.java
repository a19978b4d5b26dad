package io.spindle.load;

import com.fasterxml.jackson.databind.SerializationFeature;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/** Writes a run's results as JSON, a Markdown summary and an HTML page of charts (inline SVG, no scripts). */
public final class Report {
    /** One run of the sweep: one concurrency (closed loop) or one rate (open loop). */
    public record Level(String label, String mode, int concurrency, double rate, Stats.RunMetrics client,
                        ServerMetrics.View server, List<Map<String, Object>> sampleErrors) {
    }

    public record Document(String title, Map<String, Object> machine, Map<String, Object> options, List<Level> levels) {
    }

    private Report() {
    }

    public static void write(Path dir, Document doc) throws IOException {
        Files.createDirectories(dir);
        Transport.JSON.copy().enable(SerializationFeature.INDENT_OUTPUT)
                .writeValue(dir.resolve("results.json").toFile(), doc);
        Files.writeString(dir.resolve("summary.md"), markdown(doc));
        Files.writeString(dir.resolve("report.html"), html(doc));
    }

    public static Map<String, Object> machine() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("cpu", firstMatch(Path.of("/proc/cpuinfo"), "model name"));
        m.put("cores", Runtime.getRuntime().availableProcessors());
        m.put("memory", firstMatch(Path.of("/proc/meminfo"), "MemTotal"));
        m.put("os", System.getProperty("os.name") + " " + System.getProperty("os.version"));
        m.put("java", System.getProperty("java.vm.name") + " " + System.getProperty("java.version"));
        return m;
    }

    private static String firstMatch(Path file, String key) {
        try {
            return Files.readAllLines(file).stream().filter(l -> l.startsWith(key)).findFirst()
                    .map(l -> l.substring(l.indexOf(':') + 1).strip()).orElse("unknown");
        } catch (IOException e) {
            return "unknown";
        }
    }

    static String f(double v) {
        return Double.isNaN(v) ? "–" : String.format(Locale.ROOT, v >= 100 ? "%.0f" : v >= 10 ? "%.1f" : "%.2f", v);
    }

    public static String markdown(Document doc) {
        StringBuilder sb = new StringBuilder("# ").append(doc.title()).append("\n\n");
        sb.append("Machine: ").append(doc.machine().get("cpu")).append(", ").append(doc.machine().get("cores"))
                .append(" cores, ").append(doc.machine().get("memory")).append("; ").append(doc.machine().get("os"))
                .append("; ").append(doc.machine().get("java")).append(".\n\n");
        sb.append("Options: `").append(doc.options()).append("`\n\n");
        sb.append("Latencies in ms (vLLM `bench serve` definitions, load-tests/README.md).\n\n");
        sb.append("| run | ok | errors | output tok/s | req/s | goodput req/s | TTFT mean | TTFT p50 | TTFT p90 | TTFT p99 "
                + "| ITL mean | ITL p50 | ITL p90 | ITL p99 | TPOT p50 | TPOT p99 | E2E p50 | E2E p99 |\n");
        sb.append("|---".repeat(18)).append("|\n");
        for (Level l : doc.levels()) {
            Stats.RunMetrics m = l.client();
            sb.append("| ").append(l.label()).append(" | ").append(m.succeeded()).append(" | ")
                    .append(m.failed() == 0 ? "0" : m.failed() + " " + m.errors()).append(" | ")
                    .append(f(m.outputTokensPerSecond())).append(" | ").append(f(m.requestsPerSecond())).append(" | ")
                    .append(f(m.goodput())).append(" | ")
                    .append(f(m.ttft().mean())).append(" | ").append(f(m.ttft().p50())).append(" | ")
                    .append(f(m.ttft().p90())).append(" | ").append(f(m.ttft().p99())).append(" | ")
                    .append(f(m.itl().mean())).append(" | ").append(f(m.itl().p50())).append(" | ")
                    .append(f(m.itl().p90())).append(" | ").append(f(m.itl().p99())).append(" | ")
                    .append(f(m.tpot().p50())).append(" | ").append(f(m.tpot().p99())).append(" | ")
                    .append(f(m.e2e().p50())).append(" | ").append(f(m.e2e().p99())).append(" |\n");
        }
        sb.append("\n## Server vs. client\n\nThe server's own figures (`/q/metrics` deltas over each run) beside the "
                + "client's. The client's latencies include HTTP, detokenization and framing; the server measures on "
                + "its engine thread from the request's arrival there.\n\n");
        sb.append("| run | finished (client / server) | output tokens (client / server) | mean TTFT ms (client / server) "
                + "| mean ITL ms (client / server) | mean E2E ms (client / server) | server mean batch |\n");
        sb.append("|---".repeat(7)).append("|\n");
        for (Level l : doc.levels()) {
            Stats.RunMetrics m = l.client();
            ServerMetrics.View s = l.server();
            sb.append("| ").append(l.label()).append(" | ").append(m.succeeded()).append(" / ").append(f(s.finishedRequests()))
                    .append(" | ").append(m.outputTokens()).append(" / ").append(f(s.generatedTokens()))
                    .append(" | ").append(f(m.ttft().mean())).append(" / ").append(f(s.meanTtftMs()))
                    .append(" | ").append(f(m.itl().mean())).append(" / ").append(f(s.meanItlMs()))
                    .append(" | ").append(f(m.e2e().mean())).append(" / ").append(f(s.meanE2eMs()))
                    .append(" | ").append(f(s.meanBatchSize())).append(" |\n");
        }
        return sb.toString();
    }

    public static String html(Document doc) {
        List<String> x = new ArrayList<>();
        Map<String, double[]> throughput = new LinkedHashMap<>();
        Map<String, double[]> ttft = new LinkedHashMap<>();
        Map<String, double[]> itl = new LinkedHashMap<>();
        int n = doc.levels().size();
        double[] tput = new double[n];
        double[][] t = new double[3][n];
        double[][] i = new double[3][n];
        for (int k = 0; k < n; k++) {
            Level l = doc.levels().get(k);
            x.add(l.label());
            tput[k] = l.client().outputTokensPerSecond();
            t[0][k] = l.client().ttft().p50();
            t[1][k] = l.client().ttft().p90();
            t[2][k] = l.client().ttft().p99();
            i[0][k] = l.client().itl().p50();
            i[1][k] = l.client().itl().p90();
            i[2][k] = l.client().itl().p99();
        }
        throughput.put("output tokens/s", tput);
        ttft.put("p50", t[0]);
        ttft.put("p90", t[1]);
        ttft.put("p99", t[2]);
        itl.put("p50", i[0]);
        itl.put("p90", i[1]);
        itl.put("p99", i[2]);
        String md = markdown(doc).replace("&", "&amp;").replace("<", "&lt;");
        return "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>" + doc.title()
                + "</title><style>body{font:14px system-ui,sans-serif;margin:2em;color:#111}svg{margin:1em 1em 0 0}"
                + "pre{white-space:pre-wrap;font-size:12px;background:#f5f5f5;padding:1em}</style></head><body><h1>"
                + doc.title() + "</h1>"
                + Svg.lineChart("Output throughput", x, throughput, "tokens/s")
                + Svg.lineChart("Time to first token", x, ttft, "ms")
                + Svg.lineChart("Inter-token latency", x, itl, "ms")
                + "<pre>" + md + "</pre></body></html>\n";
    }
}
