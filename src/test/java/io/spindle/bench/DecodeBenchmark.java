package io.spindle.bench;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import io.spindle.runtime.demo.DemoPreset;
import io.spindle.runtime.demo.Gpt2Shape;
import io.spindle.runtime.onnx.NoTelemetry;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Greedy decode of N tokens on the GPT-2-124M-shaped demo graph, (a) with a bare ONNX Runtime loop
 * (prefill, then one token per step feeding presents back as past) and (b) through a running Spindle
 * server over SSE, alternating runs after {@code --warmup} unmeasured runs of each (default 3);
 * prints tokens/s of each run, the medians and their ratio.
 * Run it with load-tests/bench-decode.sh.
 */
public final class DecodeBenchmark {
    public static void main(String[] args) throws Exception {
        Map<String, String> opt = BenchServer.options(args);
        int tokens = Integer.parseInt(opt.getOrDefault("tokens", "128"));
        int runs = Integer.parseInt(opt.getOrDefault("runs", "5"));
        int port = Integer.parseInt(opt.getOrDefault("port", "18090"));
        DemoPreset preset = DemoPreset.parse(opt.getOrDefault("preset", "gpt2-124m"));
        String prompt = opt.getOrDefault("prompt", "The quick brown fox");
        // false: one JSON response at the end, which leaves out the per-token SSE work (for profiling).
        boolean stream = Boolean.parseBoolean(opt.getOrDefault("stream", "true"));
        NoTelemetry.ensureDisabled();

        Path dir = BenchServer.demoModel(preset);
        System.out.printf("model: %s (%s), %d new tokens per run, %d runs each, %d cores%n", dir, preset.id(), tokens,
                runs, Runtime.getRuntime().availableProcessors());

        // The tiny model warms the server's per-token path up (see BenchServer.withJitWarmupModel).
        int jitWarmupTokens = Integer.parseInt(opt.getOrDefault("jit-warmup-tokens", "16000"));
        List<String> serverOpts = new ArrayList<>(List.of("-Dspindle.demo.preset=" + preset.id()));
        serverOpts.addAll(BenchServer.split(opt.getOrDefault("server-opts", "")));
        try (BenchServer server = new BenchServer(opt.getOrDefault("jar", "target/quarkus-app/quarkus-run.jar"), port,
                BenchServer.withJitWarmupModel(serverOpts));
             BareLoop bare = new BareLoop(dir.resolve("model.onnx"), preset.shape())) {
            long[] promptIds = {464, 2068, 7586, 21831}; // "The quick brown fox" in GPT-2's vocabulary
            // Warm both paths up at full length: the server's and the client's JIT compile far more
            // code (HTTP, JSON, SSE) than the bare loop's, and unwarmed runs would charge that to the server.
            server.jitWarmup(jitWarmupTokens);
            int warmup = Integer.parseInt(opt.getOrDefault("warmup", "3"));
            for (int w = 0; w < warmup; w++) {
                bare.generate(promptIds, tokens);
                serverRun(server, prompt, tokens, stream);
            }
            List<Double> bareRates = new ArrayList<>();
            List<Double> serverRates = new ArrayList<>();
            for (int r = 0; r < runs; r++) {
                long t0 = System.nanoTime();
                bare.generate(promptIds, tokens);
                double b = tokens * 1e9 / (System.nanoTime() - t0);
                double s = serverRun(server, prompt, tokens, stream);
                bareRates.add(b);
                serverRates.add(s);
                System.out.printf("run %d: bare ONNX Runtime %.1f tokens/s, server %s %.1f tokens/s%n", r + 1, b,
                        stream ? "over SSE" : "(one JSON response)", s);
            }
            double mb = median(bareRates);
            double ms = median(serverRates);
            // Each run pairs a bare run with the server run right after it, so the machine's drift
            // (these machines are noisy) affects both sides of one ratio alike.
            List<Double> ratios = new ArrayList<>();
            for (int r = 0; r < runs; r++) {
                ratios.add(serverRates.get(r) / bareRates.get(r));
            }
            System.out.printf("median: bare %.1f tokens/s, server %.1f tokens/s, server/bare = %.3f; "
                    + "median of the %d paired run ratios = %.3f%n", mb, ms, ms / mb, runs, median(ratios));
        }
    }

    /** Returns tokens/s from sending the request to receiving [DONE] (or the whole response). */
    private static double serverRun(BenchServer server, String prompt, int tokens, boolean stream) throws Exception {
        String body = "{\"model\":\"demo-gpt2\",\"prompt\":\"" + prompt + "\",\"max_tokens\":" + tokens
                + ",\"temperature\":0,\"ignore_eos\":true,\"stream\":" + stream + "}";
        long t0 = System.nanoTime();
        if (!stream) {
            String json = server.complete(body);
            double rate = tokens * 1e9 / (System.nanoTime() - t0);
            if (!json.contains("\"completion_tokens\":" + tokens)) {
                throw new IllegalStateException("the server did not generate " + tokens + " tokens: " + json);
            }
            return rate;
        }
        long chunks = server.stream(body).body().filter(l -> l.startsWith("data: {")).count();
        double rate = tokens * 1e9 / (System.nanoTime() - t0);
        if (chunks < tokens) {
            throw new IllegalStateException("the server sent " + chunks + " chunks for " + tokens + " tokens");
        }
        return rate;
    }

    private static double median(List<Double> v) {
        List<Double> s = new ArrayList<>(v);
        s.sort(null);
        int n = s.size();
        return n % 2 == 1 ? s.get(n / 2) : (s.get(n / 2 - 1) + s.get(n / 2)) / 2;
    }

    /** The loop an ONNX Runtime user would write by hand, with no server around it. */
    static final class BareLoop implements AutoCloseable {
        private final OrtEnvironment env = OrtEnvironment.getEnvironment();
        private final OrtSession session;
        private final Gpt2Shape shape;

        BareLoop(Path model, Gpt2Shape shape) throws Exception {
            this.shape = shape;
            try (OrtSession.SessionOptions o = new OrtSession.SessionOptions()) {
                o.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.ALL_OPT);
                session = env.createSession(model.toString(), o);
            }
        }

        void generate(long[] prompt, int newTokens) throws Exception {
            int layers = shape.numLayers();
            long[] ids = prompt;
            long past = 0;
            OrtSession.Result last = null;
            float[] logits = new float[shape.vocabSize()];
            for (int step = 0; step < newTokens; step++) {
                int n = ids.length;
                Map<String, OnnxTensor> in = new HashMap<>();
                List<OnnxTensor> owned = new ArrayList<>();
                long[] mask = new long[(int) past + n];
                java.util.Arrays.fill(mask, 1);
                long[] pos = new long[n];
                for (int i = 0; i < n; i++) {
                    pos[i] = past + i;
                }
                owned.add(put(in, "input_ids", OnnxTensor.createTensor(env, new long[][] {ids})));
                owned.add(put(in, "attention_mask", OnnxTensor.createTensor(env, new long[][] {mask})));
                owned.add(put(in, "position_ids", OnnxTensor.createTensor(env, new long[][] {pos})));
                boolean gathers = session.getInputNames().contains(io.spindle.runtime.onnx.GatherRewrite.INPUT);
                if (gathers) {
                    // Spindle's serving form: the last position's logits only, as the engine asks.
                    owned.add(put(in, io.spindle.runtime.onnx.GatherRewrite.INPUT,
                            OnnxTensor.createTensor(env, new long[][] {{n - 1}})));
                }
                for (int l = 0; l < layers; l++) {
                    for (String kv : new String[] {"key", "value"}) {
                        OnnxTensor t = last == null
                                ? OnnxTensor.createTensor(env, java.nio.FloatBuffer.allocate(0),
                                new long[] {1, shape.numHeads(), 0, shape.headDim()})
                                : (OnnxTensor) last.get("present." + l + "." + kv).orElseThrow();
                        if (last == null) {
                            owned.add(t);
                        }
                        in.put("past_key_values." + l + "." + kv, t);
                    }
                }
                OrtSession.Result r = session.run(in);
                OnnxTensor out = (OnnxTensor) r.get("logits").orElseThrow();
                java.nio.FloatBuffer fb = out.getFloatBuffer();
                fb.position(gathers ? 0 : (n - 1) * shape.vocabSize());
                fb.get(logits);
                int best = 0;
                for (int i = 1; i < logits.length; i++) {
                    if (logits[i] > logits[best]) {
                        best = i;
                    }
                }
                owned.forEach(OnnxTensor::close);
                if (last != null) {
                    last.close();
                }
                last = r;
                past += n;
                ids = new long[] {best};
            }
            if (last != null) {
                last.close();
            }
        }

        private static OnnxTensor put(Map<String, OnnxTensor> in, String name, OnnxTensor t) {
            in.put(name, t);
            return t;
        }

        @Override
        public void close() throws Exception {
            session.close();
        }
    }

    private DecodeBenchmark() {
    }
}
