package io.spindle.app;

import io.quarkus.runtime.ShutdownEvent;
import io.micrometer.core.instrument.MeterRegistry;
import io.spindle.api.auth.ApiKeys;
import io.spindle.generation.EmbeddingService;
import io.spindle.generation.FillMaskService;
import io.spindle.generation.GenerationLimits;
import io.spindle.generation.GenerationService;
import io.spindle.metrics.ExpositionFilter;
import io.spindle.metrics.SpindleMetrics;
import io.micrometer.core.instrument.config.MeterFilter;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.enterprise.inject.Produces;
import jakarta.inject.Singleton;

import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledThreadPoolExecutor;

/** Builds the plain-Java services with their thread pools, so they need no CDI themselves. */
@ApplicationScoped
public class Producers {
    private ExecutorService textPool;
    private ScheduledThreadPoolExecutor ticker;

    @Produces
    @Singleton
    SpindleMetrics metrics(MeterRegistry registry) {
        return new SpindleMetrics(registry);
    }

    /** Applied by Quarkus to the Prometheus registry before any meter is registered. */
    @Produces
    @Singleton
    MeterFilter expositionFilter() {
        return new ExpositionFilter();
    }

    @Produces
    @Singleton
    GenerationService generationService(ModelBootstrap bootstrap, SpindleConfig config, SpindleMetrics metrics) {
        int threads = config.api().textThreads() > 0 ? config.api().textThreads()
                : Runtime.getRuntime().availableProcessors();
        textPool = Executors.newFixedThreadPool(threads, Thread.ofPlatform().name("spindle-text-", 0).daemon(true).factory());
        ScheduledThreadPoolExecutor t = new ScheduledThreadPoolExecutor(1,
                Thread.ofPlatform().name("spindle-ticker").daemon(true).factory());
        // Every request schedules a keep-alive and cancels it at its first token: drop cancelled ones
        // at once rather than when they would have fired.
        t.setRemoveOnCancelPolicy(true);
        ticker = t;
        return new GenerationService(bootstrap.registry(), textPool, ticker, metrics, new GenerationLimits(
                config.api().sseKeepAlive(), config.api().requestTimeout(), config.api().idleTimeout(),
                config.api().maxBufferedEvents()));
    }

    /** The API keys from configuration and the keys file; none means authentication is off. */
    @Produces
    @Singleton
    ApiKeys apiKeys(SpindleConfig config) throws java.io.IOException {
        java.util.List<String> keys = new java.util.ArrayList<>(config.api().keys().orElse(java.util.List.of()));
        if (config.api().keysFile().isPresent()) {
            keys.addAll(java.nio.file.Files.readAllLines(java.nio.file.Path.of(config.api().keysFile().get())));
        }
        ApiKeys apiKeys = new ApiKeys(keys);
        org.jboss.logging.Logger.getLogger(Producers.class).infof(apiKeys.enabled()
                ? "API-key authentication is on (%d key(s))" : "API-key authentication is off", apiKeys.count());
        return apiKeys;
    }

    @Produces
    @Singleton
    EmbeddingService embeddingService(ModelBootstrap bootstrap, GenerationService generation) {
        return new EmbeddingService(bootstrap.registry(), generation);
    }

    @Produces
    @Singleton
    FillMaskService fillMaskService(ModelBootstrap bootstrap, GenerationService generation) {
        return new FillMaskService(bootstrap.registry(), generation);
    }

    /** Keep-alive timers still scheduled; 0 once no generation waits for its first token. */
    public int pendingKeepAlives() {
        return ticker == null ? 0 : ticker.getQueue().size();
    }

    void onStop(@Observes ShutdownEvent event) {
        if (textPool != null) {
            textPool.shutdown();
            ticker.shutdownNow();
        }
    }
}
