package io.spindle.metrics;

import com.sun.management.OperatingSystemMXBean;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.spindle.engine.EngineObserver;
import io.spindle.engine.EngineStats;
import io.spindle.generation.GenerationFinish;
import io.spindle.generation.RequestObserver;
import io.spindle.generation.RequestOutcome;
import io.spindle.generation.Transport;
import io.spindle.sampling.constraint.ConstraintSpec;

import java.lang.management.ManagementFactory;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/** Spindle's meters in one registry: per-model engine meters, and request counts by outcome. Thread-safe. */
public final class SpindleMetrics implements RequestObserver {
    static final String UNKNOWN_MODEL = "unknown";
    static final String NO_FINISH_REASON = "none";

    private final MeterRegistry registry;
    /** Per constraint kind (a closed set, registered at start so that rates read 0 at once). */
    private final Map<String, ConstraintMeters> constraintMeters = new ConcurrentHashMap<>();

    /** The compile-cache meters of one constraint kind. */
    private record ConstraintMeters(Counter lookups, Counter hits, Timer compile) {
        static ConstraintMeters register(MeterRegistry registry, String kind) {
            return new ConstraintMeters(
                    Counter.builder(MetricNames.CONSTRAINT_CACHE_LOOKUPS).tag(MetricNames.KIND, kind)
                            .description("Output constraints looked up in the compile cache").register(registry),
                    Counter.builder(MetricNames.CONSTRAINT_CACHE_HITS).tag(MetricNames.KIND, kind)
                            .description("Output constraints found compiled in the cache").register(registry),
                    Timer.builder(MetricNames.CONSTRAINT_COMPILE_DURATION).tag(MetricNames.KIND, kind)
                            .description("Compiling an output constraint after a cache miss (to a byte DFA)")
                            .serviceLevelObjectives(Buckets.CONSTRAINT_COMPILE).register(registry));
        }
    }

    public SpindleMetrics(MeterRegistry registry) {
        this.registry = registry;
        for (String kind : ConstraintSpec.KINDS) {
            constraintMeters.put(kind, ConstraintMeters.register(registry, kind));
        }
        if (ManagementFactory.getOperatingSystemMXBean() instanceof OperatingSystemMXBean os) {
            FunctionCounter.builder(MetricNames.PROCESS_CPU, os, o -> o.getProcessCpuTime() / 1e9)
                    .baseUnit("seconds").description("CPU time used by the server process")
                    .register(registry);
        }
        java.nio.file.Path status = java.nio.file.Path.of("/proc/self/status");
        if (java.nio.file.Files.isReadable(status)) {
            Gauge.builder(MetricNames.PROCESS_RESIDENT_MEMORY, () -> residentBytes(status)).baseUnit("bytes")
                    .description("Resident set size of the server process (native memory included)").register(registry);
        }
    }

    /** VmRSS from /proc/self/status, in bytes; NaN if unreadable. */
    static double residentBytes(java.nio.file.Path status) {
        try {
            for (String line : java.nio.file.Files.readAllLines(status)) {
                if (line.startsWith("VmRSS:")) {
                    return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024.0;
                }
            }
        } catch (java.io.IOException | NumberFormatException e) {
            return Double.NaN;
        }
        return Double.NaN;
    }

    /**
     * Registers a model's gauges and meters, with every request-count series at zero so that rates
     * read 0 rather than nothing, and returns what its engine should report to.
     */
    public EngineObserver registerModel(String model, Supplier<EngineStats> stats, long kvBytesPerToken) {
        return registerModel(model, stats, kvBytesPerToken, new KvCacheLabels("host", "float32"));
    }

    /** Labels of the cache configuration: where the KV cache lives (host or device) and its element type. */
    public record KvCacheLabels(String location, String dtype) {
    }

    /** @param kvCache where the KV cache lives and its element type (labels of the cache configuration) */
    public EngineObserver registerModel(String model, Supplier<EngineStats> stats, long kvBytesPerToken,
                                        KvCacheLabels kvCache) {
        ModelMetrics meters = new ModelMetrics(registry, model, stats, kvBytesPerToken, kvCache);
        for (Transport t : Transport.values()) {
            for (GenerationFinish f : GenerationFinish.values()) {
                if (f != GenerationFinish.CANCELLED) {
                    requests(model, t, RequestOutcome.FINISHED, f);
                }
            }
            for (RequestOutcome o : RequestOutcome.values()) {
                if (o != RequestOutcome.FINISHED) {
                    requests(model, t, o, null);
                }
            }
        }
        return meters;
    }

    @Override
    public void requestEnded(String model, Transport transport, RequestOutcome outcome, GenerationFinish finish) {
        requests(model == null ? UNKNOWN_MODEL : model, transport, outcome, finish).increment();
    }

    @Override
    public void constraintLookup(String kind, boolean hit) {
        ConstraintMeters m = constraintMeters(kind);
        m.lookups().increment();
        if (hit) {
            m.hits().increment();
        }
    }

    @Override
    public void constraintCompiled(String kind, long nanos) {
        constraintMeters(kind).compile().record(nanos, TimeUnit.NANOSECONDS);
    }

    private ConstraintMeters constraintMeters(String kind) {
        return constraintMeters.computeIfAbsent(kind, k -> ConstraintMeters.register(registry, k));
    }

    private Counter requests(String model, Transport transport, RequestOutcome outcome, GenerationFinish finish) {
        return Counter.builder(MetricNames.REQUESTS)
                .description("Generation requests by how they ended")
                .tag(MetricNames.MODEL, model)
                .tag(MetricNames.TRANSPORT, lower(transport))
                .tag(MetricNames.OUTCOME, lower(outcome))
                .tag(MetricNames.FINISH_REASON, finish == null ? NO_FINISH_REASON : lower(finish))
                .register(registry);
    }

    private static String lower(Enum<?> e) {
        return e.name().toLowerCase(Locale.ROOT);
    }
}
