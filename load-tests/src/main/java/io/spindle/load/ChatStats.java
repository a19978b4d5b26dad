package io.spindle.load;

import com.fasterxml.jackson.databind.JsonNode;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.Predicate;

/**
 * The chat scenario's arithmetic, per turn index: TTFT percentiles (the same definition and
 * interpolation as {@link Stats}), mean prompt tokens, mean cached prompt tokens and the cached share
 * (cached / prompt tokens, summed over the turn's requests); the turns after the first pooled
 * ("2–T", where a prefix cache can help) and all turns pooled; and the comparison of two runs (cache
 * on vs off). Pure functions over {@link Turn} rows, so that a comparison can be recomputed from two
 * {@code chat.json} files.
 */
final class ChatStats {
    private ChatStats() {
    }

    /**
     * What the client saw of one turn of one conversation.
     *
     * @param turn         1-based turn index
     * @param ttftMs       send → first token (→ end when no token came); NaN when the turn failed or was skipped
     * @param promptTokens the server's {@code usage.prompt_tokens}, or -1
     * @param cachedTokens {@code usage.prompt_tokens_details.cached_tokens}, or -1 when not reported
     * @param error        null on success; a {@link RequestResult} error kind; {@code skipped} when an earlier
     *                     turn of the conversation failed (there is no answer to build on)
     */
    record Turn(int conversation, int turn, String transport, double ttftMs, double e2eMs, int promptTokens,
                int cachedTokens, int outputTokens, String error) {

        boolean ok() {
            return error == null;
        }

        static Turn of(int conversation, int turn, ChatTransport.ChatReply reply) {
            RequestResult r = reply.result();
            if (!r.ok()) {
                return new Turn(conversation, turn, r.transport(), Double.NaN, Double.NaN, r.promptTokens(), -1,
                        r.outputTokens(), r.error());
            }
            double e2e = (r.endNanos() - r.sendNanos()) / 1e6;
            long[] t = r.tokenNanos();
            double ttft = t.length > 0 ? (t[0] - r.sendNanos()) / 1e6 : e2e;
            return new Turn(conversation, turn, r.transport(), ttft, e2e, r.promptTokens(), reply.cachedTokens(),
                    r.outputTokens(), null);
        }

        static Turn skipped(int conversation, int turn, String transport) {
            return new Turn(conversation, turn, transport, Double.NaN, Double.NaN, -1, -1, 0, "skipped");
        }

        static Turn fromJson(JsonNode n) {
            return new Turn(n.path("conversation").asInt(), n.path("turn").asInt(), n.path("transport").asText(),
                    n.path("ttftMs").asDouble(Double.NaN), n.path("e2eMs").asDouble(Double.NaN),
                    n.path("promptTokens").asInt(-1), n.path("cachedTokens").asInt(-1), n.path("outputTokens").asInt(),
                    n.hasNonNull("error") ? n.get("error").asText() : null);
        }
    }

    /**
     * One line of the table.
     *
     * @param cachedTokensMean mean over successful requests, a request that did not report counting 0
     * @param cachedShare      summed cached tokens / summed prompt tokens of the successful requests
     * @param cachedReported   how many successful requests reported cached tokens (0: "not reported")
     */
    record Row(String turns, int ok, int failed, Stats.Summary ttft, double promptTokensMean, double cachedTokensMean,
               double cachedShare, int cachedReported) {
    }

    /** Per turn 1..T, then turns 2..T pooled, then all turns pooled. */
    record Table(List<Row> perTurn, Row laterTurns, Row total) {
    }

    static int turns(List<Turn> rows) {
        return rows.stream().mapToInt(Turn::turn).max().orElse(0);
    }

    static String laterLabel(int turns) {
        return "2–" + turns;
    }

    static Table table(List<Turn> rows) {
        int n = turns(rows);
        List<Row> per = new ArrayList<>(n);
        for (int t = 1; t <= n; t++) {
            int turn = t;
            per.add(row(String.valueOf(t), rows, r -> r.turn() == turn));
        }
        return new Table(per, row(laterLabel(n), rows, r -> r.turn() >= 2), row("all", rows, r -> true));
    }

    static Row row(String label, List<Turn> rows, Predicate<Turn> which) {
        List<Turn> ok = rows.stream().filter(which).filter(Turn::ok).toList();
        int failed = (int) rows.stream().filter(which).filter(r -> !r.ok()).count();
        double[] ttft = ok.stream().mapToDouble(Turn::ttftMs).toArray();
        long prompt = 0;
        long cached = 0;
        int withPrompt = 0;
        int reported = 0;
        for (Turn r : ok) {
            if (r.promptTokens() >= 0) {
                prompt += r.promptTokens();
                withPrompt++;
            }
            if (r.cachedTokens() >= 0) {
                cached += r.cachedTokens();
                reported++;
            }
        }
        return new Row(label, ok.size(), failed, Stats.Summary.of(ttft),
                withPrompt == 0 ? Double.NaN : (double) prompt / withPrompt,
                ok.isEmpty() ? Double.NaN : (double) cached / ok.size(),
                prompt == 0 ? Double.NaN : (double) cached / prompt, reported);
    }

    /** One line of the comparison of run A (e.g. cache on) with run B (cache off). */
    record CompareRow(String turns, double ttftP50A, double ttftP50B, double ratio, double cachedShareA,
                      double cachedShareB, int cachedReportedA, int cachedReportedB, double promptTokensMeanA,
                      double promptTokensMeanB, int okA, int okB) {
    }

    /** Per turn, turns 2..T pooled, all turns pooled; ratio = A's TTFT p50 / B's. */
    static List<CompareRow> compare(List<Turn> a, List<Turn> b) {
        Table ta = table(a);
        Table tb = table(b);
        int n = Math.max(ta.perTurn().size(), tb.perTurn().size());
        List<CompareRow> out = new ArrayList<>(n + 2);
        for (int t = 0; t < n; t++) {
            out.add(compareRow(t < ta.perTurn().size() ? ta.perTurn().get(t) : null,
                    t < tb.perTurn().size() ? tb.perTurn().get(t) : null, String.valueOf(t + 1)));
        }
        out.add(compareRow(ta.laterTurns(), tb.laterTurns(), laterLabel(n)));
        out.add(compareRow(ta.total(), tb.total(), "all"));
        return out;
    }

    private static CompareRow compareRow(Row a, Row b, String label) {
        double pa = a == null ? Double.NaN : a.ttft().p50();
        double pb = b == null ? Double.NaN : b.ttft().p50();
        return new CompareRow(label, pa, pb, pa / pb, a == null ? Double.NaN : a.cachedShare(),
                b == null ? Double.NaN : b.cachedShare(), a == null ? 0 : a.cachedReported(),
                b == null ? 0 : b.cachedReported(), a == null ? Double.NaN : a.promptTokensMean(),
                b == null ? Double.NaN : b.promptTokensMean(), a == null ? 0 : a.ok(), b == null ? 0 : b.ok());
    }

    static String markdownTable(Table t) {
        StringBuilder sb = new StringBuilder("| turn | ok | failed | TTFT p50 ms | TTFT p90 ms | prompt tokens (mean) "
                + "| cached tokens (mean) | cached share |\n");
        sb.append("|---".repeat(8)).append("|\n");
        List<Row> rows = new ArrayList<>(t.perTurn());
        rows.add(t.laterTurns());
        rows.add(t.total());
        for (Row r : rows) {
            sb.append("| ").append(r.turns()).append(" | ").append(r.ok()).append(" | ").append(r.failed())
                    .append(" | ").append(Report.f(r.ttft().p50())).append(" | ").append(Report.f(r.ttft().p90()))
                    .append(" | ").append(Report.f(r.promptTokensMean())).append(" | ").append(cached(r))
                    .append(" | ").append(r.cachedReported() == 0 ? "–" : percent(r.cachedShare())).append(" |\n");
        }
        return sb.toString();
    }

    private static String cached(Row r) {
        if (r.cachedReported() == 0) {
            return "not reported";
        }
        String mean = Report.f(r.cachedTokensMean());
        return r.cachedReported() < r.ok() ? mean + " (" + r.cachedReported() + " of " + r.ok() + " reported)" : mean;
    }

    static String percent(double share) {
        return Double.isNaN(share) ? "–" : String.format(Locale.ROOT, "%.1f%%", share * 100);
    }

    static String ratio(double r) {
        return Double.isNaN(r) || Double.isInfinite(r) ? "–" : String.format(Locale.ROOT, "%.3f", r);
    }

    /** The side-by-side table, and the turns-2..T verdict against {@code target} (NaN: no verdict). */
    static String markdownCompare(String labelA, String labelB, List<CompareRow> rows, double target) {
        StringBuilder sb = new StringBuilder("| turn | TTFT p50 ms (" + labelA + ") | TTFT p50 ms (" + labelB + ") | "
                + labelA + " / " + labelB + " | cached share (" + labelA + ") | cached share (" + labelB
                + ") | prompt tokens mean (" + labelA + " / " + labelB + ") | ok (" + labelA + " / " + labelB + ") |\n");
        sb.append("|---".repeat(8)).append("|\n");
        for (CompareRow r : rows) {
            sb.append("| ").append(r.turns()).append(" | ").append(Report.f(r.ttftP50A())).append(" | ")
                    .append(Report.f(r.ttftP50B())).append(" | ").append(ratio(r.ratio())).append(" | ")
                    .append(share(r.cachedShareA(), r.cachedReportedA())).append(" | ")
                    .append(share(r.cachedShareB(), r.cachedReportedB())).append(" | ")
                    .append(Report.f(r.promptTokensMeanA())).append(" / ").append(Report.f(r.promptTokensMeanB()))
                    .append(" | ").append(r.okA()).append(" / ").append(r.okB()).append(" |\n");
        }
        CompareRow later = rows.get(rows.size() - 2);
        sb.append(String.format(Locale.ROOT, "%nTurns %s pooled: TTFT p50 %s / %s = %s", later.turns(), labelA, labelB,
                ratio(later.ratio())));
        if (!Double.isNaN(target)) {
            sb.append(String.format(Locale.ROOT, " (target ≤ %s: %s)", ratio(target),
                    later.ratio() <= target ? "met" : "not met"));
        }
        sb.append(".\n");
        if (later.cachedReportedA() == 0) {
            sb.append("\n").append(labelA).append(": the server reported no cached tokens "
                    + "(`usage.prompt_tokens_details.cached_tokens` absent).\n");
        }
        if (later.cachedReportedB() > 0 && later.cachedShareB() > 0) {
            sb.append("\n").append(labelB).append(": the server reported cached tokens (")
                    .append(percent(later.cachedShareB())).append(" of the later turns' prompt tokens).\n");
        }
        return sb.toString();
    }

    private static String share(double share, int reported) {
        return reported == 0 ? "not reported" : percent(share);
    }
}
