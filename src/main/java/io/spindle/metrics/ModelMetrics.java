package io.spindle.metrics;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.Timer;
import io.spindle.engine.EngineObserver;
import io.spindle.engine.EngineStats;
import io.spindle.engine.request.SequenceStats;

import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * One model's engine meters. Every meter is looked up once here, so the engine thread only records.
 * Gauges read {@link EngineStats} when scraped.
 */
final class ModelMetrics implements EngineObserver {
    private final Timer timeToFirstToken;
    private final Timer interTokenLatency;
    private final Timer requestDuration;
    private final Timer queueTime;
    private final Timer prefillStep;
    private final Timer decodeStep;
    private final Timer cancellationLatency;
    private final Timer constraintMask;
    private final DistributionSummary batchSize;
    private final DistributionSummary promptTokensPerRequest;
    private final DistributionSummary generatedTokensPerRequest;
    private final Counter promptTokens;
    private final Counter generatedTokens;
    private final Counter prefixQueries;
    private final Counter prefixHits;

    ModelMetrics(MeterRegistry registry, String model, Supplier<EngineStats> stats, long kvBytesPerToken,
                 SpindleMetrics.KvCacheLabels kvCache) {
        Tags tags = Tags.of(MetricNames.MODEL, model);
        Gauge.builder(MetricNames.REQUESTS_WAITING, () -> stats.get().numWaiting()).tags(tags)
                .description("Requests queued for admission").register(registry);
        Gauge.builder(MetricNames.REQUESTS_RUNNING, () -> stats.get().numRunning()).tags(tags)
                .description("Sequences in the running batch, prefilling or decoding").register(registry);
        Gauge.builder(MetricNames.KV_CACHE_USAGE, () -> {
            EngineStats s = stats.get();
            return s.kvCapacityTokens() == 0 ? 0 : s.kvUsedTokens() / (double) s.kvCapacityTokens();
        }).tags(tags).baseUnit("ratio").description("Reserved share of the KV-cache budget (0 to 1)").register(registry);
        Gauge.builder(MetricNames.RUNNER_ALLOCATED, () -> stats.get().allocatedBytes()).tags(tags).baseUnit("bytes")
                .description("Bytes the model runner holds for KV caches and step buffers (0 once idle)").register(registry);
        Gauge.builder(MetricNames.KV_CACHE_CAPACITY, () -> stats.get().kvCapacityTokens() * (double) kvBytesPerToken)
                .tags(tags).baseUnit("bytes").description("KV-cache budget").register(registry);

        Gauge.builder(MetricNames.PREFIX_CACHE_BYTES, () -> stats.get().prefixCacheBytes()).tags(tags).baseUnit("bytes")
                .description("Bytes held by cached prompt prefixes (evictable)").register(registry);
        Gauge.builder(MetricNames.PREFIX_CACHE_TOKENS, () -> stats.get().prefixCacheTokens()).tags(tags)
                .description("Tokens held by cached prompt prefixes (evictable; not in the KV usage ratio)").register(registry);
        EngineStats initial = stats.get();
        int block = Math.max(1, initial.prefixBlockSize());
        Gauge.builder(MetricNames.CACHE_CONFIG_INFO, () -> 1).tags(tags)
                .tag("block_size", Integer.toString(initial.prefixBlockSize()))
                .tag("num_gpu_blocks", Integer.toString(initial.kvCapacityTokens() / block))
                .tag("kv_cache_location", kvCache.location())
                .tag("cache_dtype", kvCache.dtype())
                .description("The prefix cache's block size (tokens; 0 when off), the KV budget in blocks, "
                        + "where the KV cache lives (host or device) and its element type")
                .register(registry);
        prefixQueries = Counter.builder(MetricNames.PREFIX_CACHE_QUERIES).tags(tags)
                .description("Prompt tokens of admitted requests looked up in the prefix cache").register(registry);
        prefixHits = Counter.builder(MetricNames.PREFIX_CACHE_HITS).tags(tags)
                .description("Prompt tokens found in the prefix cache (not computed)").register(registry);
        timeToFirstToken = timer(registry, MetricNames.TIME_TO_FIRST_TOKEN, tags, Buckets.TIME_TO_FIRST_TOKEN,
                "From a request's arrival to its first generated token");
        interTokenLatency = timer(registry, MetricNames.INTER_TOKEN_LATENCY, tags, Buckets.INTER_TOKEN,
                "Between consecutive generated tokens of one sequence");
        requestDuration = timer(registry, MetricNames.REQUEST_DURATION, tags, Buckets.REQUEST,
                "From a request's arrival to its leaving the engine (end to end)");
        queueTime = timer(registry, MetricNames.REQUEST_QUEUE_TIME, tags, Buckets.QUEUE,
                "From a request's arrival to its admission into the running batch");
        prefillStep = timer(registry, MetricNames.PREFILL_STEP_DURATION, tags, Buckets.STEP,
                "Engine steps that computed prompt tokens (possibly with decoding rows)");
        decodeStep = timer(registry, MetricNames.DECODE_STEP_DURATION, tags, Buckets.STEP,
                "Engine steps that only decoded");
        cancellationLatency = timer(registry, MetricNames.CANCELLATION_LATENCY, tags, Buckets.CANCELLATION,
                "From a cancel, a disconnect or a matched stop string to the sequence leaving the batch");
        constraintMask = timer(registry, MetricNames.CONSTRAINT_MASK_DURATION, tags, Buckets.CONSTRAINT_MASK,
                "Masking one constrained row's logits before sampling (a constraint state's first visit builds its token set)");
        batchSize = summary(registry, MetricNames.BATCH_SIZE, null, tags, Buckets.BATCH_SIZE,
                "Sequences per engine step");
        promptTokensPerRequest = summary(registry, MetricNames.REQUEST_PROMPT_TOKENS, MetricNames.TOKENS, tags,
                Buckets.TOKENS, "Prompt length per request");
        generatedTokensPerRequest = summary(registry, MetricNames.REQUEST_GENERATION_TOKENS, MetricNames.TOKENS, tags,
                Buckets.TOKENS, "Tokens generated per request");
        promptTokens = Counter.builder(MetricNames.PROMPT_TOKENS).tags(tags)
                .description("Prompt tokens computed").register(registry);
        generatedTokens = Counter.builder(MetricNames.GENERATION_TOKENS).tags(tags)
                .description("Tokens generated").register(registry);
    }

    private static Timer timer(MeterRegistry registry, String name, Tags tags, Duration[] buckets, String help) {
        return Timer.builder(name).tags(tags).description(help).serviceLevelObjectives(buckets).register(registry);
    }

    private static DistributionSummary summary(MeterRegistry registry, String name, String unit, Tags tags,
                                               double[] buckets, String help) {
        return DistributionSummary.builder(name).baseUnit(unit).tags(tags).description(help)
                .serviceLevelObjectives(buckets).register(registry);
    }

    @Override
    public void stepCompleted(int numSequences, int prompt, int generated, long nanos) {
        (prompt > 0 ? prefillStep : decodeStep).record(nanos, TimeUnit.NANOSECONDS);
        batchSize.record(numSequences);
        if (prompt > 0) {
            promptTokens.increment(prompt);
        }
        if (generated > 0) {
            generatedTokens.increment(generated);
        }
    }

    @Override
    public void firstToken(long nanos) {
        timeToFirstToken.record(nanos, TimeUnit.NANOSECONDS);
    }

    @Override
    public void nextToken(long nanos) {
        interTokenLatency.record(nanos, TimeUnit.NANOSECONDS);
    }

    @Override
    public void sequenceEnded(SequenceStats stats, boolean admitted, long totalNanos) {
        requestDuration.record(totalNanos, TimeUnit.NANOSECONDS);
        if (admitted) {
            queueTime.record(stats.queueNanos(), TimeUnit.NANOSECONDS);
        }
        promptTokensPerRequest.record(stats.numPromptTokens());
        generatedTokensPerRequest.record(stats.numGeneratedTokens());
    }

    @Override
    public void prefixLookup(int promptTokens, int cachedTokens) {
        prefixQueries.increment(promptTokens);
        if (cachedTokens > 0) {
            prefixHits.increment(cachedTokens);
        }
    }

    @Override
    public void abortCompleted(long nanos) {
        cancellationLatency.record(nanos, TimeUnit.NANOSECONDS);
    }

    @Override
    public void constraintMasked(long nanos) {
        constraintMask.record(nanos, TimeUnit.NANOSECONDS);
    }
}
