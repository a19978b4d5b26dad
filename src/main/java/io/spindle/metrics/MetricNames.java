package io.spindle.metrics;

/**
 * Every Spindle metric name (Micrometer's dotted form; the Prometheus name, with its unit and
 * {@code _total} suffix, is in the comment) and label. docs/metrics.md is the catalogue.
 */
public final class MetricNames {
    private MetricNames() {
    }

    // Labels: all bounded.
    /** A served model's id, or "unknown" for requests naming none. */
    public static final String MODEL = "model";
    /** http | sse | ws. */
    public static final String TRANSPORT = "transport";
    /** An output constraint's kind: json_schema | json_object | regex | choice. */
    public static final String KIND = "kind";
    /** finished | cancelled | rejected | failed. */
    public static final String OUTCOME = "outcome";
    /** eos_token | stop_sequence | length for finished requests, none otherwise. */
    public static final String FINISH_REASON = "finish_reason";

    // Gauges.
    /** spindle_requests_waiting: requests queued for admission. */
    public static final String REQUESTS_WAITING = "spindle.requests.waiting";
    /** spindle_requests_running: sequences in the running batch (prefilling or decoding). */
    public static final String REQUESTS_RUNNING = "spindle.requests.running";
    /** spindle_kv_cache_usage_ratio: reserved share of the KV-cache budget, 0 to 1. */
    public static final String KV_CACHE_USAGE = "spindle.kv.cache.usage";
    /** spindle_kv_cache_capacity_bytes: the KV-cache budget. */
    public static final String KV_CACHE_CAPACITY = "spindle.kv.cache.capacity";

    /** spindle_runner_allocated_bytes: what the model runner holds for KV caches and step buffers. */
    public static final String RUNNER_ALLOCATED = "spindle.runner.allocated";
    /** process_resident_memory_bytes: the process's resident set (Linux), as other Prometheus clients name it. */
    public static final String PROCESS_RESIDENT_MEMORY = "process.resident.memory";

    // Histograms.
    /** spindle_time_to_first_token_seconds: from arrival to the first generated token. */
    public static final String TIME_TO_FIRST_TOKEN = "spindle.time.to.first.token";
    /** spindle_inter_token_latency_seconds: between consecutive tokens of a sequence. */
    public static final String INTER_TOKEN_LATENCY = "spindle.inter.token.latency";
    /** spindle_request_duration_seconds: from arrival to leaving the engine. */
    public static final String REQUEST_DURATION = "spindle.request.duration";
    /** spindle_request_queue_time_seconds: from arrival to admission into the batch. */
    public static final String REQUEST_QUEUE_TIME = "spindle.request.queue.time";
    /** spindle_prefill_step_duration_seconds: engine steps that computed prompt tokens. */
    public static final String PREFILL_STEP_DURATION = "spindle.prefill.step.duration";
    /** spindle_decode_step_duration_seconds: engine steps that only decoded. */
    public static final String DECODE_STEP_DURATION = "spindle.decode.step.duration";
    /** spindle_batch_size: sequences per engine step. */
    public static final String BATCH_SIZE = "spindle.batch.size";
    /** spindle_request_prompt_tokens: prompt length per request. */
    public static final String REQUEST_PROMPT_TOKENS = "spindle.request.prompt";
    /** spindle_request_generation_tokens: tokens generated per request. */
    public static final String REQUEST_GENERATION_TOKENS = "spindle.request.generation";
    /** spindle_cancellation_latency_seconds: from cancel or disconnect to the sequence leaving the batch. */
    public static final String CANCELLATION_LATENCY = "spindle.cancellation.latency";
    /** spindle_constraint_compile_duration_seconds: compiling an output constraint after a cache miss, by kind. */
    public static final String CONSTRAINT_COMPILE_DURATION = "spindle.constraint.compile.duration";
    /** spindle_constraint_mask_duration_seconds: masking one constrained row's logits before sampling. */
    public static final String CONSTRAINT_MASK_DURATION = "spindle.constraint.mask.duration";

    // Counters.
    /** spindle_prompt_tokens_total: prompt tokens computed. */
    public static final String PROMPT_TOKENS = "spindle.prompt.tokens";
    /** spindle_prefix_cache_queries_total: prompt tokens of admitted requests looked up in the prefix cache. */
    public static final String PREFIX_CACHE_QUERIES = "spindle.prefix.cache.queries";
    /** spindle_prefix_cache_hits_total: prompt tokens found there (not computed). */
    public static final String PREFIX_CACHE_HITS = "spindle.prefix.cache.hits";
    /** spindle_prefix_cache_bytes: what the cached prefix blocks hold. */
    public static final String PREFIX_CACHE_BYTES = "spindle.prefix.cache";
    /** spindle_prefix_cache_tokens: tokens in cached prefix blocks (evictable; not in the KV usage ratio). */
    public static final String PREFIX_CACHE_TOKENS = "spindle.prefix.cache.tokens";
    /** spindle_cache_config_info: 1, labelled with the prefix cache's {@code block_size} (tokens) and the KV
     * budget in blocks ({@code num_gpu_blocks}, the name vLLM's {@code cache_config_info} uses, which the
     * inference extension's endpoint picker reads).
     */
    public static final String CACHE_CONFIG_INFO = "spindle.cache.config.info";
    /** spindle_constraint_cache_lookups_total: output constraints looked up in the compile cache, by kind. */
    public static final String CONSTRAINT_CACHE_LOOKUPS = "spindle.constraint.cache.lookups";
    /** spindle_constraint_cache_hits_total: of those, found compiled (no compile). */
    public static final String CONSTRAINT_CACHE_HITS = "spindle.constraint.cache.hits";
    /** spindle_generation_tokens_total: tokens generated. */
    public static final String GENERATION_TOKENS = "spindle.generation.tokens";
    /** spindle_requests_total: generation requests by model, transport, outcome and finish reason. */
    public static final String REQUESTS = "spindle.requests";

    /** process_cpu_seconds_total: CPU time of the server process (replaces Micrometer's nanosecond counter). */
    public static final String PROCESS_CPU = "process.cpu";

    /** The unit Micrometer appends for token counts. */
    static final String TOKENS = "tokens";
}
