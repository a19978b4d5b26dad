package io.spindle.load;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The metric arithmetic, with vLLM's {@code bench serve} definitions (load-tests/README.md):
 * <ul>
 *   <li>TTFT: send → first token, per successful request;</li>
 *   <li>ITL: every gap between consecutive tokens of a request, pooled over requests;</li>
 *   <li>TPOT: per request, (E2E − TTFT) / (output tokens − 1), for requests with at least 2 tokens;</li>
 *   <li>E2E: send → final event;</li>
 *   <li>output throughput: output tokens of successful requests / wall time of the run; request
 *       throughput: successful requests / wall time;</li>
 *   <li>goodput: successful requests meeting every given SLO, per second of wall time.</li>
 * </ul>
 * Percentiles interpolate linearly between order statistics (numpy's default, as vLLM reports).
 */
public final class Stats {
    private Stats() {
    }

    /** Mean and percentiles of a sample, in milliseconds; all NaN when empty. */
    public record Summary(int n, double mean, double p50, double p90, double p99, double max) {
        static Summary of(double[] values) {
            if (values.length == 0) {
                return new Summary(0, Double.NaN, Double.NaN, Double.NaN, Double.NaN, Double.NaN);
            }
            double[] v = values.clone();
            Arrays.sort(v);
            return new Summary(v.length, Arrays.stream(v).average().orElse(Double.NaN), percentile(v, 50),
                    percentile(v, 90), percentile(v, 99), v[v.length - 1]);
        }
    }

    /** Service-level objectives in milliseconds; null means no limit. */
    public record Slo(Double ttftMs, Double tpotMs, Double e2eMs) {
        public static final Slo NONE = new Slo(null, null, null);

        boolean met(double ttft, double tpot, double e2e) {
            return (ttftMs == null || ttft <= ttftMs) && (tpotMs == null || Double.isNaN(tpot) || tpot <= tpotMs)
                    && (e2eMs == null || e2e <= e2eMs);
        }

        boolean isEmpty() {
            return ttftMs == null && tpotMs == null && e2eMs == null;
        }
    }

    /** Everything a report shows for one run (one concurrency level or one arrival rate). */
    public record RunMetrics(int requests, int succeeded, int failed, java.util.Map<String, Integer> errors,
                             double durationSeconds, long outputTokens, long promptTokens,
                             double outputTokensPerSecond, double requestsPerSecond, double goodput,
                             Summary ttft, Summary itl, Summary tpot, Summary e2e) {
    }

    /** Linear interpolation between closest ranks, on sorted values. */
    public static double percentile(double[] sorted, double p) {
        if (sorted.length == 0) {
            return Double.NaN;
        }
        double rank = p / 100.0 * (sorted.length - 1);
        int lo = (int) Math.floor(rank);
        int hi = (int) Math.ceil(rank);
        return sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - lo);
    }

    public static RunMetrics compute(List<RequestResult> results, double durationSeconds, Slo slo) {
        List<Double> ttft = new ArrayList<>();
        List<Double> itl = new ArrayList<>();
        List<Double> tpot = new ArrayList<>();
        List<Double> e2e = new ArrayList<>();
        java.util.Map<String, Integer> errors = new java.util.TreeMap<>();
        long outTokens = 0;
        long promptTokens = 0;
        int ok = 0;
        int good = 0;
        for (RequestResult r : results) {
            if (!r.ok()) {
                errors.merge(r.error(), 1, Integer::sum);
                continue;
            }
            ok++;
            outTokens += r.outputTokens();
            promptTokens += Math.max(0, r.promptTokens());
            double e = ms(r.endNanos() - r.sendNanos());
            e2e.add(e);
            long[] t = r.tokenNanos();
            double first = t.length > 0 ? ms(t[0] - r.sendNanos()) : e;
            ttft.add(first);
            for (int i = 1; i < t.length; i++) {
                itl.add(ms(t[i] - t[i - 1]));
            }
            double perToken = Double.NaN;
            if (r.outputTokens() > 1) {
                perToken = (e - first) / (r.outputTokens() - 1);
                tpot.add(perToken);
            }
            if (!slo.isEmpty() && slo.met(first, perToken, e)) {
                good++;
            }
        }
        double d = Math.max(durationSeconds, 1e-9);
        return new RunMetrics(results.size(), ok, results.size() - ok, errors, durationSeconds, outTokens, promptTokens,
                outTokens / d, ok / d, slo.isEmpty() ? Double.NaN : good / d,
                Summary.of(toArray(ttft)), Summary.of(toArray(itl)), Summary.of(toArray(tpot)), Summary.of(toArray(e2e)));
    }

    private static double ms(long nanos) {
        return nanos / 1e6;
    }

    private static double[] toArray(List<Double> values) {
        return values.stream().mapToDouble(Double::doubleValue).toArray();
    }
}
