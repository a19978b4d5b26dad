package io.spindle.load;

import com.fasterxml.jackson.databind.SerializationFeature;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Runs the chaos scenario and judges it: requests by outcome, streams without a final event (must be
 * 0), 5xx for client input (must be 0), cancellation latency percentiles from the server's own
 * histogram, resident and direct memory before / at peak / after, and sequences left in the engine
 * (must be 0).
 */
final class ChaosRun {
    private static final Pattern SERIES = Pattern.compile("^([a-zA-Z_:][a-zA-Z0-9_:]*)(\\{[^}]*})?\\s+(\\S+)", Pattern.MULTILINE);

    private ChaosRun() {
    }

    record Verdict(Map<String, Object> report, boolean passed) {
    }

    static Verdict run(URI base, String model, HttpClient http, int requests, double rate, int maxInFlight,
                       Duration timeLimit, long seed, Path out, long serverPid) throws Exception {
        int context = contextLength(http, base, model);
        // Warm-up: the same mix, unmeasured, so that "before" is a server that has already served
        // this traffic once (JIT-compiled, pools and heap grown) and "after" compares like with like.
        int warmup = Math.min(200, Math.max(1, requests / 10));
        new Chaos(base, model, context, http, seed ^ 0x5DEECE66DL).run(warmup, rate, maxInFlight, timeLimit);
        Map<String, Double> before = awaitIdle(http, base, model, serverPid);
        AtomicLong peakRss = new AtomicLong((long) before.getOrDefault("process_resident_memory_bytes", 0.0).doubleValue());
        AtomicLong peakDirect = new AtomicLong((long) direct(before));
        Thread sampler = Thread.ofVirtual().start(() -> {
            while (!Thread.currentThread().isInterrupted()) {
                Map<String, Double> m = scrape(http, base);
                peakRss.accumulateAndGet((long) m.getOrDefault("process_resident_memory_bytes", 0.0).doubleValue(), Math::max);
                peakDirect.accumulateAndGet((long) direct(m), Math::max);
                try {
                    Thread.sleep(500);
                } catch (InterruptedException e) {
                    return;
                }
            }
        });
        long t0 = System.nanoTime();
        List<Chaos.Seen> seen = new Chaos(base, model, context, http, seed).run(requests, rate, maxInFlight, timeLimit);
        double seconds = (System.nanoTime() - t0) / 1e9;
        sampler.interrupt();
        Map<String, Double> after = awaitIdle(http, base, model, serverPid);

        Map<String, Object> r = new LinkedHashMap<>();
        r.put("machine", Report.machine());
        r.put("warmup_requests", warmup);
        r.put("requests", seen.size());
        r.put("seconds", round(seconds));
        r.put("offered_rate_per_second", rate);
        r.put("outcomes_by_kind", Chaos.tally(seen));
        long noFinal = Chaos.withoutFinalEvent(seen);
        long serverErrors = Chaos.serverErrorsForClientInput(seen);
        long anyServerError = seen.stream().filter(s -> s.outcome().startsWith("server_error")).count();
        r.put("streams_without_final_event", noFinal);
        r.put("without_final_event_samples", seen.stream().filter(s -> s.outcome().equals("no_final_event"))
                .limit(10).map(s -> s.kind() + " over " + s.transport() + ": " + s.detail()).toList());
        r.put("server_errors_for_client_input", serverErrors);
        r.put("server_errors_total", anyServerError);
        r.put("cancellation_latency_ms", cancellationPercentiles(before, after, model));
        Map<String, Object> memory = new LinkedHashMap<>();
        memory.put("rss_before_mb", mb(before.getOrDefault("process_resident_memory_bytes", Double.NaN)));
        memory.put("rss_peak_mb", mb(peakRss.get()));
        memory.put("rss_after_mb", mb(after.getOrDefault("process_resident_memory_bytes", Double.NaN)));
        memory.put("heap_used_before_mb", mb(sum(before, "jvm_memory_used_bytes{area=\"heap\"")));
        memory.put("heap_used_after_mb", mb(sum(after, "jvm_memory_used_bytes{area=\"heap\"")));
        memory.put("gc_before_measuring", serverPid > 0);
        memory.put("direct_before_mb", mb(direct(before)));
        memory.put("direct_peak_mb", mb(peakDirect.get()));
        memory.put("direct_after_mb", mb(direct(after)));
        memory.put("runner_allocated_after_bytes", after.getOrDefault(
                "spindle_runner_allocated_bytes{model=\"" + model + "\"}", Double.NaN));
        r.put("memory", memory);
        double left = inEngine(after, model);
        r.put("sequences_in_engine_after", left);
        double rssBefore = before.getOrDefault("process_resident_memory_bytes", Double.NaN);
        double rssAfter = after.getOrDefault("process_resident_memory_bytes", Double.NaN);
        r.put("rss_after_vs_before", round(rssAfter / rssBefore));
        // Reported beside the verdict rather than in it: RSS also holds high-water marks (ONNX Runtime's
        // arena, malloc arenas, JIT code) that one run can raise once without a leak.
        r.put("rss_within_5_percent", rssAfter <= rssBefore * 1.05);
        boolean passed = noFinal == 0 && serverErrors == 0 && anyServerError == 0 && left == 0;
        r.put("passed", passed);
        Files.createDirectories(out);
        Transport.JSON.copy().enable(SerializationFeature.INDENT_OUTPUT).writeValue(out.resolve("chaos.json").toFile(), r);
        Files.writeString(out.resolve("chaos.md"), markdown(r));
        return new Verdict(r, passed);
    }

    /**
     * Waits (up to a minute) until nothing runs or waits, asks the server's JVM for a full GC when its
     * pid is known (jcmd, loopback runs only), waits two seconds more, and scrapes.
     */
    private static Map<String, Double> awaitIdle(HttpClient http, URI base, String model, long serverPid)
            throws InterruptedException {
        Map<String, Double> m = scrape(http, base);
        for (int i = 0; i < 120 && inEngine(m, model) > 0; i++) {
            Thread.sleep(500);
            m = scrape(http, base);
        }
        if (serverPid > 0) {
            try {
                Path jcmd = Path.of(System.getProperty("java.home"), "bin", "jcmd");
                Process p = new ProcessBuilder(jcmd.toString(), String.valueOf(serverPid), "GC.run")
                        .redirectErrorStream(true).start();
                p.getInputStream().readAllBytes();
                p.waitFor(30, java.util.concurrent.TimeUnit.SECONDS);
            } catch (IOException e) {
                System.err.println("cannot run jcmd GC.run on " + serverPid + ": " + e.getMessage());
            }
        }
        Thread.sleep(2000);
        return scrape(http, base);
    }

    private static int contextLength(HttpClient http, URI base, String model) throws IOException, InterruptedException {
        String body = http.send(HttpRequest.newBuilder(base.resolve("/v1/models/" + model)).build(),
                HttpResponse.BodyHandlers.ofString()).body();
        return Transport.JSON.readTree(body).path("max_model_len").asInt(512);
    }

    static Map<String, Double> scrape(HttpClient http, URI base) {
        Map<String, Double> m = new TreeMap<>();
        try {
            String text = http.send(HttpRequest.newBuilder(base.resolve("/q/metrics"))
                    .header("Accept", "text/plain; version=0.0.4").timeout(Duration.ofSeconds(10)).build(),
                    HttpResponse.BodyHandlers.ofString()).body();
            Matcher x = SERIES.matcher(text);
            while (x.find()) {
                String labels = x.group(2) == null ? "" : x.group(2).replace(",}", "}");
                m.put(x.group(1) + labels, Double.parseDouble(x.group(3)));
            }
        } catch (IOException | RuntimeException e) {
            // an unreachable server reads as no figures
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        return m;
    }

    private static double sum(Map<String, Double> m, String prefix) {
        return m.entrySet().stream().filter(e -> e.getKey().startsWith(prefix)).mapToDouble(Map.Entry::getValue).sum();
    }

    private static double direct(Map<String, Double> m) {
        return m.entrySet().stream().filter(e -> e.getKey().startsWith("jvm_buffer_memory_used_bytes{")
                && e.getKey().contains("id=\"direct\"")).mapToDouble(Map.Entry::getValue).sum();
    }

    private static double inEngine(Map<String, Double> m, String model) {
        return m.getOrDefault("spindle_requests_running{model=\"" + model + "\"}", 0.0)
                + m.getOrDefault("spindle_requests_waiting{model=\"" + model + "\"}", 0.0);
    }

    /** p50/p95/p99 of the run's cancellations, interpolated within buckets as PromQL's histogram_quantile does. */
    static Map<String, Object> cancellationPercentiles(Map<String, Double> before, Map<String, Double> after, String model) {
        TreeMap<Double, Double> buckets = new TreeMap<>();
        String prefix = "spindle_cancellation_latency_seconds_bucket{";
        for (Map.Entry<String, Double> e : after.entrySet()) {
            String k = e.getKey();
            if (k.startsWith(prefix) && k.contains("model=\"" + model + "\"")) {
                Matcher le = Pattern.compile("le=\"([^\"]+)\"").matcher(k);
                if (le.find()) {
                    double bound = le.group(1).equals("+Inf") ? Double.POSITIVE_INFINITY : Double.parseDouble(le.group(1));
                    buckets.put(bound, e.getValue() - before.getOrDefault(k, 0.0));
                }
            }
        }
        Map<String, Object> out = new LinkedHashMap<>();
        double total = buckets.isEmpty() ? 0 : buckets.lastEntry().getValue();
        out.put("count", total);
        for (double q : new double[] {0.5, 0.95, 0.99}) {
            out.put("p" + (int) Math.round(q * 100), round(quantile(buckets, q) * 1000));
        }
        return out;
    }

    static double quantile(TreeMap<Double, Double> cumulative, double q) {
        double total = cumulative.isEmpty() ? 0 : cumulative.lastEntry().getValue();
        if (total <= 0) {
            return Double.NaN;
        }
        double rank = q * total;
        double lowerBound = 0;
        double lowerCount = 0;
        for (Map.Entry<Double, Double> b : cumulative.entrySet()) {
            if (b.getValue() >= rank) {
                if (b.getKey().isInfinite()) {
                    return lowerBound;
                }
                double inBucket = b.getValue() - lowerCount;
                return inBucket <= 0 ? b.getKey() : lowerBound + (b.getKey() - lowerBound) * (rank - lowerCount) / inBucket;
            }
            lowerBound = b.getKey();
            lowerCount = b.getValue();
        }
        return lowerBound;
    }

    private static double mb(double bytes) {
        return round(bytes / (1 << 20));
    }

    private static double round(double v) {
        return Math.round(v * 1000) / 1000.0;
    }

    static String markdown(Map<String, Object> r) {
        StringBuilder sb = new StringBuilder("# Chaos run\n\n");
        sb.append("Machine: ").append(r.get("machine")).append("\n\n");
        sb.append(String.format(Locale.ROOT, "%s requests in %s s, offered at %s/s.%n%n", r.get("requests"), r.get("seconds"),
                r.get("offered_rate_per_second")));
        sb.append("| check | value | required |\n|---|---|---|\n");
        sb.append("| streams without a final or error event | ").append(r.get("streams_without_final_event")).append(" | 0 |\n");
        sb.append("| 5xx for client input | ").append(r.get("server_errors_for_client_input")).append(" | 0 |\n");
        sb.append("| 5xx in all | ").append(r.get("server_errors_total")).append(" | 0 |\n");
        sb.append("| sequences in the engine after the run | ").append(r.get("sequences_in_engine_after")).append(" | 0 |\n");
        sb.append("| RSS after / before | ").append(r.get("rss_after_vs_before")).append(" | ≤ 1.05 |\n\n");
        sb.append("Cancellation latency (server histogram, ms): ").append(r.get("cancellation_latency_ms")).append("\n\n");
        sb.append("Memory (MiB): ").append(r.get("memory")).append("\n\n");
        sb.append("Outcomes by request kind:\n\n| kind | outcomes |\n|---|---|\n");
        @SuppressWarnings("unchecked")
        Map<String, Map<String, Integer>> t = (Map<String, Map<String, Integer>>) r.get("outcomes_by_kind");
        t.forEach((k, v) -> sb.append("| ").append(k).append(" | ").append(v).append(" |\n"));
        sb.append("\nPassed: ").append(r.get("passed")).append('\n');
        return sb.toString();
    }

}
