package io.spindle.app;

import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import io.spindle.engine.EncoderConfig;
import io.spindle.engine.Engine;
import io.spindle.engine.EngineConfig;
import io.spindle.engine.EngineStats;
import io.spindle.engine.request.EngineRequest;
import io.spindle.engine.request.SpindleException;
import io.spindle.engine.request.TokenEvent;
import io.spindle.generation.ModelRegistry;
import io.spindle.metrics.SpindleMetrics;
import io.spindle.runtime.demo.DemoLayout;
import io.spindle.runtime.family.bert.BundledMiniLm;
import io.spindle.runtime.family.gpt2.Gpt2Loader;
import io.spindle.runtime.demo.DemoModelWriter;
import io.spindle.runtime.demo.BertDemoWriter;
import io.spindle.runtime.demo.BertGraphBuilder;
import io.spindle.runtime.demo.BertShape;
import io.spindle.runtime.demo.DemoPreset;
import io.spindle.runtime.demo.T5DemoWriter;
import io.spindle.runtime.demo.T5Shape;
import io.spindle.runtime.onnx.KvDtype;
import io.spindle.runtime.onnx.MallocArenas;
import io.spindle.runtime.onnx.NoTelemetry;
import io.spindle.runtime.onnx.OrtRuntime;
import io.spindle.sampling.SamplingParams;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Inject;
import org.jboss.logging.Logger;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * Loads every configured model in the background after start-up (the HTTP server is up meanwhile,
 * with readiness DOWN) and runs a warm-up generation on each. A model that fails to load or to warm
 * up is logged with the file at fault and listed as failed; the others serve. Once every model was
 * tried, the server is ready when {@link ReadinessPolicy} holds.
 */
@ApplicationScoped
public class ModelBootstrap {
    private static final Logger LOG = Logger.getLogger(ModelBootstrap.class);
    public static final String DEMO_ID = "demo-gpt2";
    public static final String DEMO_T5_ID = "demo-t5";
    public static final String DEMO_BERT_ID = "demo-bert";

    /** Where loading stands, for the readiness probe. */
    public enum State { LOADING, READY, FAILED }

    private final SpindleConfig config;
    private final SpindleMetrics metrics;
    private final ModelRegistry registry = new ModelRegistry();
    private final List<ModelLoader.Loaded> loaded = new CopyOnWriteArrayList<>();
    private volatile State state = State.LOADING;
    private volatile String detail = "loading models";
    private volatile OrtRuntime ort;
    /** The in-place KV form's cache element type, resolved for the provider (spindle.models.kv-dtype); set while loading. */
    private KvDtype kvDtype = KvDtype.FLOAT32;

    @Inject
    public ModelBootstrap(SpindleConfig config, SpindleMetrics metrics) {
        this.config = config;
        this.metrics = metrics;
    }

    void onStart(@Observes StartupEvent event) {
        NoTelemetry.ensureDisabled();
        Thread.ofPlatform().name("spindle-model-loader").daemon(true).start(this::loadAll);
    }

    void onStop(@Observes ShutdownEvent event) {
        for (ModelLoader.Loaded l : loaded) {
            l.close();
        }
    }

    public ModelRegistry registry() {
        return registry;
    }

    public State state() {
        return state;
    }

    public String detail() {
        return detail;
    }

    /**
     * Gives back what loading used and no longer needs. Quantizing a graph in the JVM parses it and
     * builds its rewritten form on the heap (~3× the graph: a first int4 start of the 124M demo left
     * 1.6 GB of heap committed), and G1 returns committed heap to the system only after a full
     * collection; sessions opened only to be probed or replaced were freed into glibc's heap, which
     * {@code malloc_trim} returns.
     */
    private static void returnLoadingMemory() {
        long heapBefore = Runtime.getRuntime().totalMemory();
        System.gc();
        long heapAfter = Runtime.getRuntime().totalMemory();
        long[] rss = MallocArenas.trim();
        if (rss[0] >= 0) {
            // G1 uncommits the heap it shrank in the background, so it is reported apart from the RSS.
            LOG.infof("models loaded; resident memory %d MiB, %d MiB after returning what loading freed to the system; "
                    + "Java heap committed %d MiB, shrunk to %d MiB", rss[0] >> 20, rss[1] >> 20, heapBefore >> 20, heapAfter >> 20);
        }
    }

    /** The execution provider the models run on, once known. */
    public String provider() {
        OrtRuntime o = ort;
        return o == null ? "unknown" : o.provider().name().toLowerCase();
    }

    /** Ends every sequence of every model with {@code reason}; for the end of a drain. */
    public void abortAll(SpindleException reason) {
        for (ModelLoader.Loaded l : loaded) {
            if (l.engine() != null) {
                l.engine().abortAll(reason);
            }
        }
    }

    public Map<String, EngineStats> engineStats() {
        Map<String, EngineStats> out = new java.util.TreeMap<>();
        for (ModelLoader.Loaded l : loaded) {
            if (l.engine() != null) {
                out.put(l.model().id(), l.engine().stats());
            }
        }
        return out;
    }

    private void loadAll() {
        try {
            MallocArenas.limit(config.runtime().mallocArenaMax());
            ort = new OrtRuntime(config.runtime().executionProvider(), config.runtime().intraOpThreads(),
                    config.runtime().allowSpinning(), OrtRuntime.Binding.of(config.runtime().ioBinding()));
            QuantizePolicy quantize = new QuantizePolicy(config.models().quantize(), config.models().quantizeFor());
            kvDtype = KvDtype.resolve(config.models().kvDtype(), ort.provider());
            Gpt2Loader.KvForm kvForm = Gpt2Loader.KvForm.of(config.models().kvLayout());
            SpindleConfig.EngineLimits e = config.engine();
            SpindleConfig.Embeddings enc = config.embeddings();
            ModelLoader loader = new ModelLoader(ort, new EngineConfig(e.maxBatchSize(), e.maxTokensPerStep(),
                    e.kvCacheMemory().asLongValue(), e.maxWaiting(), e.maxPrefillTokensWhileDecoding(),
                    new EngineConfig.PrefixCacheSettings(e.prefixCache().enabled(), e.prefixCache().blockSize(),
                            e.prefixCache().maxShare())),
                    new EncoderConfig(enc.maxBatchSize(), enc.maxQueuedInputs(), enc.maxTokensPerPass()),
                    cacheRoot().resolve("rewritten"), new Gpt2Loader.KvSettings(kvForm, kvDtype), quantize);
            if (config.demo().enabled()) {
                loadDemos(loader);
                loadT5Demos(loader);
                loadBertDemos(loader);
            }
            if (config.embeddings().bundledModel()) {
                loadBundledEmbeddings(loader);
            }
            loadDirectory(loader, Path.of(config.models().dir()));
            for (String id : quantize.unmatched()) {
                LOG.warnf("%s.\"%s\" names no model that was loaded; it quantizes nothing", QuantizePolicy.PER_MODEL_KEY, id);
            }
            returnLoadingMemory();
            String unmet = ReadinessPolicy.unmet(config.models().required().orElse(List.of()), registry);
            if (unmet != null) {
                state = State.FAILED;
                detail = unmet;
                LOG.error(detail);
            } else {
                detail = "serving " + registry.all().size() + " model(s) on " + provider();
                state = State.READY;
                LOG.info(detail + (registry.failures().isEmpty() ? "" : "; failed: " + registry.failures().keySet()));
            }
        } catch (Throwable t) {
            state = State.FAILED;
            detail = "model loading failed: " + t;
            LOG.error(detail, t);
        }
    }

    private void loadDemos(ModelLoader loader) throws IOException {
        DemoPreset preset = DemoPreset.parse(config.demo().preset());
        Path cache = cacheRoot();
        for (String name : config.demo().layouts()) {
            DemoLayout layout = DemoLayout.parse(name);
            String id = layout == DemoLayout.OPTIMUM ? DEMO_ID : DEMO_ID + "-" + layout.id();
            long t0 = System.nanoTime();
            Path dir = new DemoModelWriter().withKvDtype(kvDtype).ensure(
                    cache.resolve(DemoModelWriter.cacheName(preset, layout, config.demo().seed(), kvDtype)),
                    preset, layout, config.demo().seed());
            LOG.infof("demo model %s (%s, %s layout, random weights) ready at %s in %d ms", id, preset.id(),
                    layout.id(), dir, (System.nanoTime() - t0) / 1_000_000);
            loadOne(loader, id, dir);
        }
    }

    private void loadT5Demos(ModelLoader loader) throws IOException {
        Path cache = cacheRoot();
        T5Shape shape = T5Shape.parse(config.demo().t5Preset());
        for (String name : config.demo().t5Layouts()) {
            if (name.isBlank() || name.trim().equalsIgnoreCase("none")) {
                continue;
            }
            T5DemoWriter.Variant variant = T5DemoWriter.Variant.parse(name);
            String id = variant == T5DemoWriter.Variant.SPLIT ? DEMO_T5_ID : DEMO_T5_ID + "-" + variant.id();
            long t0 = System.nanoTime();
            Path dir = new T5DemoWriter().ensure(cache.resolve(T5DemoWriter.cacheName(shape, variant, config.demo().seed())),
                    shape, variant, config.demo().seed());
            LOG.infof("demo model %s (T5 %s, %s decoder, random weights) ready at %s in %d ms", id, shape.presetId(),
                    variant.id(), dir, (System.nanoTime() - t0) / 1_000_000);
            loadOne(loader, id, dir);
        }
    }

    private void loadBertDemos(ModelLoader loader) throws IOException {
        Path cache = cacheRoot();
        for (String name : config.demo().bertHeads()) {
            String head = name.trim().toLowerCase(java.util.Locale.ROOT);
            if (head.isEmpty() || head.equals("none")) {
                continue;
            }
            BertGraphBuilder.Head h = switch (head) {
                case "masked-lm" -> BertGraphBuilder.Head.MASKED_LM;
                case "features" -> BertGraphBuilder.Head.FEATURES;
                default -> throw new IllegalArgumentException("unknown demo BERT head '" + name
                        + "' (expected masked-lm, features or none)");
            };
            String id = h == BertGraphBuilder.Head.MASKED_LM ? DEMO_BERT_ID + "-mlm" : DEMO_BERT_ID;
            long t0 = System.nanoTime();
            Path dir = new BertDemoWriter().ensure(cache.resolve(BertDemoWriter.cacheName(h, config.demo().seed())),
                    BertShape.TINY, h, config.demo().seed());
            LOG.infof("demo model %s (tiny BERT, %s head, random weights) ready at %s in %d ms", id, head, dir,
                    (System.nanoTime() - t0) / 1_000_000);
            loadOne(loader, id, dir);
        }
    }

    /** all-MiniLM-L6-v2 from the classpath, copied once into the model cache: real embeddings, no download. */
    private void loadBundledEmbeddings(ModelLoader loader) throws IOException {
        if (!BundledMiniLm.available()) {
            LOG.warn("the bundled embedding model is not on the classpath; serving no embeddings by default");
            return;
        }
        long t0 = System.nanoTime();
        Path dir = BundledMiniLm.ensure(cacheRoot());
        LOG.infof("embedding model %s (trained weights) ready at %s in %d ms", BundledMiniLm.ID, dir,
                (System.nanoTime() - t0) / 1_000_000);
        loadOne(loader, BundledMiniLm.ID, dir);
    }

    private Path cacheRoot() {
        return Path.of(config.demo().cacheDir().orElse(System.getProperty("user.home") + "/.cache/spindle/models"));
    }

    private void loadDirectory(ModelLoader loader, Path root) throws IOException {
        if (!Files.isDirectory(root)) {
            LOG.infof("models directory %s does not exist; serving no models from it", root.toAbsolutePath());
            return;
        }
        try (Stream<Path> dirs = Files.list(root)) {
            for (Path dir : dirs.filter(Files::isDirectory).sorted().toList()) {
                String id = dir.getFileName().toString();
                if (!id.startsWith(".")) {
                    loadOne(loader, id, dir);
                }
            }
        }
    }

    /**
     * Loads, warms up and registers one model. Any failure, in loading or in the warm-up's first
     * forward pass, is this model's alone: it is closed, recorded with why, and the others go on.
     */
    private void loadOne(ModelLoader loader, String id, Path dir) {
        ModelLoader.Loaded l = null;
        try {
            l = loader.load(id, dir);
            warmUp(l);
        } catch (Exception | LinkageError e) {
            String why = l == null ? e.getMessage() : "warm-up failed (" + dir.toAbsolutePath() + "): " + e.getMessage();
            if (l != null) {
                l.close();
            }
            registry.addFailure(id, why);
            LOG.errorf("model %s not served: %s", id, why);
            return;
        }
        loaded.add(l);
        registry.add(l.model());
        Engine engine = l.engine();
        if (engine != null) {
            engine.observe(metrics.registerModel(id, engine::stats, engine.kvBytesPerToken(),
                    new SpindleMetrics.KvCacheLabels(engine.kvCacheLocation(), engine.kvCacheDtype())));
        }
        LOG.infof("model %s loaded from %s (%s layout, context %d)", id, dir, l.model().card().layout(),
                l.model().contextLength());
    }

    /** Runs a two-token greedy generation so the first client does not pay for ONNX Runtime's first run. */
    private void warmUp(ModelLoader.Loaded l) throws Exception {
        if (l.encoder() != null) {
            l.encoder().encode(List.of(l.tokenizer().encode("Hello", true))).get(5, TimeUnit.MINUTES);
            return;
        }
        Engine engine = l.engine();
        int[] prompt = warmUpPrompt(l);
        CompletableFuture<TokenEvent> end = new CompletableFuture<>();
        engine.submit(new EngineRequest("warm-up", prompt, SamplingParams.greedy(), 2, new int[0], false), ev -> {
            if (ev.isEnd()) {
                end.complete(ev);
            }
        });
        TokenEvent last = end.get(5, TimeUnit.MINUTES);
        if (last instanceof TokenEvent.Failed f) {
            Throwable cause = f.error().getCause();
            throw new IllegalStateException(cause != null ? cause.getMessage() : f.error().getMessage());
        }
    }

    /**
     * "Hello" in the model's tokenizer, unless that names tokens the graph does not have: a tokenizer
     * may know more tokens than the graph's vocabulary (onnxruntime-genai's tiny GPT-2 pairs a
     * 1,000-token graph with GPT-2's 50,257-token tokenizer); then its EOS, else token 0.
     */
    private static int[] warmUpPrompt(ModelLoader.Loaded l) {
        int vocab = l.model().card().vocabSize();
        int[] hello = l.tokenizer().encode("Hello");
        if (hello.length > 0 && java.util.Arrays.stream(hello).allMatch(t -> t >= 0 && t < vocab)) {
            return hello;
        }
        int[] eos = l.model().eosTokenIds();
        return new int[] {eos.length > 0 && eos[0] < vocab ? eos[0] : 0};
    }
}
