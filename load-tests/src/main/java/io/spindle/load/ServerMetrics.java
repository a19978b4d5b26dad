package io.spindle.load;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Spindle's own figures from {@code /q/metrics}, read before and after a run so that the report can
 * set the server's view beside the client's.
 */
public final class ServerMetrics {
    private static final Pattern LINE = Pattern.compile("^([a-zA-Z_:][a-zA-Z0-9_:]*)(\\{[^}]*})?\\s+(\\S+)");

    private ServerMetrics() {
    }

    /** Sums of the series this report uses, for one model; empty when the server cannot be scraped. */
    public static Map<String, Double> scrape(HttpClient http, URI base, String model) {
        try {
            HttpResponse<String> r = http.send(HttpRequest.newBuilder(base.resolve("/q/metrics"))
                    .header("Accept", "text/plain; version=0.0.4").timeout(Duration.ofSeconds(10)).build(),
                    HttpResponse.BodyHandlers.ofString());
            return r.statusCode() == 200 ? parse(r.body(), model) : Map.of();
        } catch (IOException e) {
            return Map.of();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return Map.of();
        }
    }

    static Map<String, Double> parse(String text, String model) {
        Map<String, Double> out = new LinkedHashMap<>();
        String modelLabel = "model=\"" + model + "\"";
        for (String line : text.split("\n")) {
            Matcher m = LINE.matcher(line);
            if (line.startsWith("#") || !m.find()) {
                continue;
            }
            String name = m.group(1);
            String labels = m.group(2) == null ? "" : m.group(2);
            if (!name.startsWith("spindle_") || !labels.contains(modelLabel)) {
                continue;
            }
            String key = switch (name) {
                case "spindle_generation_tokens_total", "spindle_prompt_tokens_total",
                     "spindle_time_to_first_token_seconds_sum", "spindle_time_to_first_token_seconds_count",
                     "spindle_inter_token_latency_seconds_sum", "spindle_inter_token_latency_seconds_count",
                     "spindle_request_duration_seconds_sum", "spindle_request_duration_seconds_count",
                     "spindle_batch_size_sum", "spindle_batch_size_count" -> name;
                case "spindle_requests_total" -> name + "{outcome=" + label(labels, "outcome") + "}";
                default -> null;
            };
            if (key != null) {
                out.merge(key, Double.parseDouble(m.group(3)), Double::sum);
            }
        }
        return out;
    }

    private static String label(String labels, String name) {
        Matcher m = Pattern.compile(name + "=\"([^\"]*)\"").matcher(labels);
        return m.find() ? m.group(1) : "";
    }

    /** after − before for every key of after. */
    public static Map<String, Double> delta(Map<String, Double> before, Map<String, Double> after) {
        Map<String, Double> d = new LinkedHashMap<>();
        after.forEach((k, v) -> d.put(k, v - before.getOrDefault(k, 0.0)));
        return d;
    }

    /** The server-side view of a run, from the deltas; NaN where the server said nothing. */
    public record View(double finishedRequests, double cancelledRequests, double rejectedRequests,
                       double failedRequests, double generatedTokens, double meanTtftMs, double meanItlMs,
                       double meanE2eMs, double meanBatchSize) {
        public static View of(Map<String, Double> d) {
            return new View(d.getOrDefault("spindle_requests_total{outcome=finished}", Double.NaN),
                    d.getOrDefault("spindle_requests_total{outcome=cancelled}", Double.NaN),
                    d.getOrDefault("spindle_requests_total{outcome=rejected}", Double.NaN),
                    d.getOrDefault("spindle_requests_total{outcome=failed}", Double.NaN),
                    d.getOrDefault("spindle_generation_tokens_total", Double.NaN),
                    ratio(d, "spindle_time_to_first_token_seconds") * 1e3,
                    ratio(d, "spindle_inter_token_latency_seconds") * 1e3,
                    ratio(d, "spindle_request_duration_seconds") * 1e3,
                    ratio(d, "spindle_batch_size"));
        }

        private static double ratio(Map<String, Double> d, String histogram) {
            double count = d.getOrDefault(histogram + "_count", 0.0);
            return count > 0 ? d.getOrDefault(histogram + "_sum", 0.0) / count : Double.NaN;
        }
    }
}
