package io.spindle.load;

import java.net.URI;
import java.net.http.HttpClient;
import java.nio.file.Path;
import java.time.Duration;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Command line: see {@link #USAGE} and load-tests/README.md. */
public final class Main {
    static final String USAGE = """
            spindle-load: generation load against a running Spindle server (loopback or any URL).

              java -jar load-tests/target/spindle-load.jar [options]

              --url URL               server base URL (default http://127.0.0.1:8080)
              --model ID              model id (default demo-gpt2)
              --transport LIST        openai, tgi, ws, or a comma list used round-robin (default openai)
              --mode closed|open      closed loop: fixed concurrency; open loop: Poisson arrivals (default closed)
              --concurrency LIST      closed loop: one run per value, e.g. 1,4,16,32 (default 1)
              --rate LIST             open loop: requests/s, one run per value, e.g. 1,2,4
              --max-concurrency N     open loop: cap on requests in flight (default unlimited)
              --requests N            requests per run (default 32)
              --input-tokens N        prompt length in tokens, about (default 32)
              --output-tokens N       max_tokens, with ignore_eos (default 64)
              --range-ratio R         lengths uniform in [L(1-R), L(1+R)] (default 0)
              --warmup N              requests sent first and not measured (default 2)
              --slo ttft=MS,tpot=MS,e2e=MS   goodput objectives (any subset)
              --timeout DURATION      per request, e.g. 300s (default 300s)
              --seed N                prompt and arrival seed (default 1)
              --title TEXT            report title
              --out DIR               where results.json, summary.md, report.html go
                                      (default load-tests/results/tmp/<timestamp>)
              --scenario chaos        instead of a sweep: --requests (default 10000) at --rate (default 100/s,
                                      Poisson, above capacity), --max-in-flight (256), --time-limit (600s);
                                      OpenAI SSE, TGI SSE, WebSocket and plain HTTP mixed; 20% disconnect at a
                                      random point, 10% cancel over WebSocket, 10% hostile input, 5% beyond the
                                      context; writes chaos.json and chaos.md and judges the run;
                                      --server-pid PID: full GC (jcmd) before the memory readings
              --scenario chat         multi-turn chat: --conversations N (8) clients start together, each a
                                      conversation of --turns T (6) turns; a --system-tokens (128) system prompt
                                      shared by all, --user-tokens (64) fresh words per turn, --output-tokens (64)
                                      per answer; each turn sends the whole history (earlier answers as streamed)
                                      over --transport openai (/v1/chat/completions) or ws (messages), round-robin
                                      per conversation; reports TTFT p50/p90, prompt and cached tokens per turn;
                                      --label TEXT names the run; writes chat.json and chat.md
              --compare A.json B.json set two chat runs side by side (A / B TTFT p50 per turn, turns 2..T pooled);
                                      --target R judges the turns-2..T ratio; with --out, writes chat-compare.md/json
              --no-progress           no live progress bar
              --fail-on-errors        exit 1 if any request failed
            """;

    private Main() {
    }

    public static void main(String[] args) throws Exception {
        Map<String, String> o = parse(args);
        if (o.containsKey("help")) {
            System.out.print(USAGE);
            return;
        }
        URI url = URI.create(o.getOrDefault("url", "http://127.0.0.1:8080"));
        String model = o.getOrDefault("model", "demo-gpt2");
        String mode = o.getOrDefault("mode", "closed");
        int requests = Integer.parseInt(o.getOrDefault("requests", "32"));
        int in = Integer.parseInt(o.getOrDefault("input-tokens", "32"));
        int out = Integer.parseInt(o.getOrDefault("output-tokens", "64"));
        double range = Double.parseDouble(o.getOrDefault("range-ratio", "0"));
        int warmup = Integer.parseInt(o.getOrDefault("warmup", "2"));
        long seed = Long.parseLong(o.getOrDefault("seed", "1"));
        Duration timeout = Duration.parse("PT" + o.getOrDefault("timeout", "300s").toUpperCase());
        Stats.Slo slo = slo(o.get("slo"));
        Path dir = Path.of(o.getOrDefault("out", "load-tests/results/tmp/"
                + LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss"))));
        HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10))
                .version(HttpClient.Version.HTTP_1_1).build();
        if (o.containsKey("compare")) {
            String[] files = o.get("compare").split("\n");
            System.out.print(ChatRun.compare(Path.of(files[0]), Path.of(files[1]),
                    Double.parseDouble(o.getOrDefault("target", "NaN")),
                    o.containsKey("out") ? Path.of(o.get("out")) : null));
            return;
        }
        if ("chat".equals(o.get("scenario"))) {
            chat(o, url, model, timeout, http, dir);
            return;
        }
        if ("chaos".equals(o.get("scenario"))) {
            ChaosRun.Verdict v = ChaosRun.run(url, model, http, Integer.parseInt(o.getOrDefault("requests", "10000")),
                    Double.parseDouble(o.getOrDefault("rate", "100")),
                    Integer.parseInt(o.getOrDefault("max-in-flight", "256")),
                    Duration.parse("PT" + o.getOrDefault("time-limit", "600s").toUpperCase()), seed, dir,
                    Long.parseLong(o.getOrDefault("server-pid", "0")));
            System.out.print(ChaosRun.markdown(v.report()));
            System.out.println("report: " + dir.resolve("chaos.md") + ", " + dir.resolve("chaos.json"));
            if (!v.passed() && o.containsKey("fail-on-errors")) {
                System.exit(1);
            }
            return;
        }
        List<Transport> transports = Arrays.stream(o.getOrDefault("transport", "openai").split(","))
                .map(t -> Transport.of(t.strip(), url, model, timeout, http)).toList();
        Runner runner = new Runner(transports, o.containsKey("no-progress") ? null : System.err);

        if (warmup > 0) {
            runner.closedLoop(Workload.generate(warmup, in, Math.min(out, 8), 0, seed + 1), 1, "warm-up");
        }
        List<Report.Level> levels = new ArrayList<>();
        boolean open = mode.equals("open");
        String[] values = o.getOrDefault(open ? "rate" : "concurrency", open ? "1" : "1").split(",");
        for (int k = 0; k < values.length; k++) {
            List<Workload.Item> items = Workload.generate(requests, in, out, range, seed + 100L * k);
            Map<String, Double> before = ServerMetrics.scrape(http, url, model);
            Runner.Run run;
            String label;
            int concurrency = 0;
            double rate = Double.NaN;
            if (open) {
                rate = Double.parseDouble(values[k]);
                label = "rate " + values[k] + "/s";
                run = runner.openLoop(items, rate, Integer.parseInt(o.getOrDefault("max-concurrency", "0")),
                        seed + k, label);
            } else {
                concurrency = Integer.parseInt(values[k]);
                label = "c=" + concurrency;
                run = runner.closedLoop(items, concurrency, label);
            }
            Map<String, Double> after = ServerMetrics.scrape(http, url, model);
            Stats.RunMetrics m = Stats.compute(run.results(), run.seconds(), slo);
            List<Map<String, Object>> sampleErrors = run.results().stream().filter(r -> !r.ok()).limit(5)
                    .map(r -> Map.<String, Object>of("kind", r.error(), "detail", String.valueOf(r.errorDetail())))
                    .toList();
            levels.add(new Report.Level(label, mode, concurrency, rate, m,
                    ServerMetrics.View.of(ServerMetrics.delta(before, after)), sampleErrors));
            System.out.printf("%-12s ok %d/%d  %.1f tok/s  TTFT p50 %s p99 %s ms  ITL p50 %s p99 %s ms%s%n", label,
                    m.succeeded(), m.requests(), m.outputTokensPerSecond(), Report.f(m.ttft().p50()),
                    Report.f(m.ttft().p99()), Report.f(m.itl().p50()), Report.f(m.itl().p99()),
                    m.failed() > 0 ? "  errors " + m.errors() : "");
        }
        Map<String, Object> options = new LinkedHashMap<>(o);
        options.putIfAbsent("transport", "openai");
        options.putIfAbsent("mode", mode);
        String title = o.getOrDefault("title", "Spindle load test: " + model + ", " + o.getOrDefault("transport", "openai"));
        Report.write(dir, new Report.Document(title, Report.machine(), options, levels));
        System.out.println("report: " + dir.resolve("summary.md") + ", " + dir.resolve("report.html") + ", "
                + dir.resolve("results.json"));
        boolean anyFailed = levels.stream().anyMatch(l -> l.client().failed() > 0);
        if (o.containsKey("fail-on-errors") && anyFailed) {
            levels.stream().flatMap(l -> l.sampleErrors().stream()).forEach(e -> System.err.println("error: " + e));
            System.exit(1);
        }
    }

    private static void chat(Map<String, String> o, URI url, String model, Duration timeout, HttpClient http, Path dir)
            throws Exception {
        List<ChatTransport> transports = Arrays.stream(o.getOrDefault("transport", "openai").split(","))
                .map(t -> ChatTransport.of(t.strip(), url, model, timeout, http)).toList();
        ChatRun.Options opt = ChatRun.Options.of(o);
        Map<String, String> options = new LinkedHashMap<>(o);
        options.putIfAbsent("transport", "openai");
        List<ChatStats.Turn> turns;
        try {
            turns = ChatRun.run(url, model, http, transports, opt, options, dir,
                    o.containsKey("no-progress") ? null : System.err);
        } catch (IllegalArgumentException e) {
            System.err.println(e.getMessage());
            System.exit(2);
            return;
        }
        System.out.print(ChatStats.markdownTable(ChatStats.table(turns)));
        System.out.println("report: " + dir.resolve("chat.md") + ", " + dir.resolve("chat.json"));
        if (o.containsKey("fail-on-errors") && turns.stream().anyMatch(t -> !t.ok())) {
            turns.stream().filter(t -> !t.ok()).limit(5).forEach(t -> System.err.println("error: " + t));
            System.exit(1);
        }
    }

    static Map<String, String> parse(String[] args) {
        Map<String, String> o = new LinkedHashMap<>();
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            if (!a.startsWith("--")) {
                throw new IllegalArgumentException("unexpected argument '" + a + "'\n" + USAGE);
            }
            String key = a.substring(2);
            if (key.equals("help") || key.equals("no-progress") || key.equals("fail-on-errors")) {
                o.put(key, "true");
            } else if (key.equals("compare")) {
                if (i + 2 >= args.length) {
                    throw new IllegalArgumentException("--compare needs two chat.json files\n" + USAGE);
                }
                o.put(key, args[++i] + "\n" + args[++i]);
            } else if (i + 1 < args.length) {
                o.put(key, args[++i]);
            } else {
                throw new IllegalArgumentException("--" + key + " needs a value\n" + USAGE);
            }
        }
        return o;
    }

    static Stats.Slo slo(String spec) {
        if (spec == null || spec.isBlank()) {
            return Stats.Slo.NONE;
        }
        Double ttft = null;
        Double tpot = null;
        Double e2e = null;
        for (String part : spec.split(",")) {
            String[] kv = part.split("=");
            double v = Double.parseDouble(kv[1]);
            switch (kv[0].strip()) {
                case "ttft" -> ttft = v;
                case "tpot" -> tpot = v;
                case "e2e" -> e2e = v;
                default -> throw new IllegalArgumentException("unknown SLO '" + kv[0] + "' (ttft, tpot, e2e)");
            }
        }
        return new Stats.Slo(ttft, tpot, e2e);
    }
}
