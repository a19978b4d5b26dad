package io.spindle.app;

import io.quarkus.runtime.configuration.MemorySize;
import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/** Every {@code spindle.*} configuration key; README.md documents each one. */
@ConfigMapping(prefix = "spindle")
public interface SpindleConfig {
    Models models();

    Demo demo();

    EngineLimits engine();

    Runtime runtime();

    Api api();

    Shutdown shutdown();

    Embeddings embeddings();

    interface Embeddings {
        /** Serve the bundled all-MiniLM-L6-v2 (trained weights, from the classpath) as {@code all-minilm-l6-v2}. */
        @WithDefault("true")
        boolean bundledModel();

        /** Inputs per encoder forward pass; concurrent requests share a pass when they fit. */
        @WithDefault("32")
        int maxBatchSize();

        /** Inputs that may wait per encoder model before new requests are refused with 429. */
        @WithDefault("1024")
        int maxQueuedInputs();

        /**
         * Rows × padded length per encoder forward pass (embeddings and fill-mask): what a pass's
         * activations, and so the process's memory, grow with. README gives the formula.
         */
        @WithDefault("4096")
        int maxTokensPerPass();
    }

    interface Shutdown {
        /**
         * On SIGTERM, how long in-flight generations may run on before they are ended with an error
         * event; new requests get 503 meanwhile. Keep it below Kubernetes' terminationGracePeriodSeconds.
         */
        @WithDefault("30s")
        Duration drainTimeout();
    }

    interface Models {
        /** Folder of model directories, one per model; the folder name is the model id. */
        @WithDefault("onnx-models")
        String dir();

        /**
         * Model ids that must serve for the server to be ready; unset, at least one text-generation
         * model must. Other models that fail are reported and the rest keep serving.
         */
        Optional<List<String>> required();

        /**
         * The KV form GPT-2 exports are served in: as-exported (each step returns the whole cache as
         * presents), or in-place (compiled at load into Spindle's in-place KV form, cached by the
         * source's SHA-256 under the demo cache's rewritten/; an export that does not compile or whose
         * compiled form disagrees with it is served as exported, with a warning saying why).
         */
        @WithDefault("as-exported")
        String kvLayout();

        /**
         * The element type of the in-place KV form's cache and attention (weights stay float32): auto,
         * float32 or float16. auto is float16 on CUDA (ONNX Runtime's CUDA GroupQueryAttention exists only
         * in float16 and bfloat16) and float32 on CPU. Applies to exports compiled with kv-layout=in-place
         * (part of the compiled graph's cache key) and to the demo's in-place-kv layout.
         */
        @WithDefault("auto")
        String kvDtype();

        /**
         * Weight quantization applied at load to every model's graphs: none, int8 or int4, with options
         * (block=N, symmetric|asymmetric, accuracy=N, lm-head=yes|no, embeddings=yes|no), e.g.
         * {@code int4,block=32}. Quantized graphs are cached by the source's SHA-256 and the settings.
         */
        @WithDefault("none")
        String quantize();

        /** Per-model overrides of {@link #quantize()}, by model id: {@code spindle.models.quantize-for."<id>"=int8}. */
        Map<String, String> quantizeFor();
    }

    interface Demo {
        /** Serve the project-built demo GPT-2 (random weights) besides the models in models.dir. */
        @WithDefault("true")
        boolean enabled();

        /** tiny or gpt2-124m. */
        @WithDefault("tiny")
        String preset();

        /** Graph layouts to build and serve: optimum (id demo-gpt2), ort-gpt2, optimum-split (id demo-gpt2-&lt;layout&gt;). */
        @WithDefault("optimum")
        List<String> layouts();

        /**
         * Decoder exports of the tiny demo T5 to build and serve: optimum-split (id demo-t5),
         * optimum-merged (id demo-t5-optimum-merged); "none" for no T5 demo.
         */
        @WithDefault("optimum-split")
        List<String> t5Layouts();

        /**
         * Heads of the tiny demo BERT to build and serve: masked-lm (id demo-bert-mlm, for
         * /v1/fill-mask), features (id demo-bert, for /v1/embeddings); "none" for neither.
         */
        @WithDefault("masked-lm")
        List<String> bertHeads();

        /** Size of the demo T5: tiny, or t5-small (t5-small's shape, for benchmarks). */
        @WithDefault("tiny")
        String t5Preset();

        /** Where generated demo models are cached; defaults to ~/.cache/spindle/models. */
        Optional<String> cacheDir();

        @WithDefault("1234")
        long seed();
    }

    interface EngineLimits {
        @WithDefault("8")
        int maxBatchSize();

        @WithDefault("512")
        int maxTokensPerStep();

        /** Prompt tokens per step while other sequences decode (their inter-token latency vs. a new TTFT). */
        @WithDefault("16")
        int maxPrefillTokensWhileDecoding();

        /** KV-cache budget per model, in bytes (e.g. 512M, 2G); prompt + max new tokens are reserved per request. */
        @WithDefault("1G")
        MemorySize kvCacheMemory();

        /** Requests that may wait for admission per model before new ones are refused with 429. */
        @WithDefault("64")
        int maxWaiting();

        /** Liveness turns DOWN when an engine with work has not finished a step for this long (a hung forward pass). */
        @WithDefault("60s")
        Duration watchdogTimeout();

        PrefixCache prefixCache();
    }

    /** The automatic prefix cache: computed prompt prefixes kept for later requests that start the same way. */
    interface PrefixCache {
        @WithDefault("true")
        boolean enabled();

        /** Tokens per cached block: a prompt reuses whole blocks only. */
        @WithDefault("16")
        int blockSize();

        /** The most of the KV budget cached prefixes may hold (0 to 1); admitted requests' reservations always come first. */
        @WithDefault("0.5")
        double maxShare();
    }

    interface Runtime {
        /** auto (CUDA when the ONNX Runtime build has it, else CPU), cpu or cuda. */
        @WithDefault("auto")
        String executionProvider();

        /** ONNX Runtime intra-op threads; 0 lets ONNX Runtime choose (one per core). */
        @WithDefault("0")
        int intraOpThreads();

        /** Whether ONNX Runtime's intra-op threads busy-wait between operators (ONNX Runtime's default). */
        @WithDefault("true")
        boolean allowSpinning();

        /**
         * java-api (OrtSession.run with pinned outputs) or ffm (IoBinding through ONNX Runtime's C API,
         * runtime.onnx.capi); only the in-place KV runner has the ffm path.
         */
        @WithDefault("java-api")
        String ioBinding();

        /**
         * glibc malloc arenas for the whole process, set at start ({@code MALLOC_ARENA_MAX}); 0 leaves glibc's
         * default of 8 per core, which kept ~250 MiB of ONNX Runtime's freed activations resident.
         */
        @WithDefault("2")
        int mallocArenaMax();
    }

    interface Api {
        /** Interval of SSE keep-alive comments while a request waits for its first token; 0 disables. */
        @WithDefault("10s")
        Duration sseKeepAlive();

        /** Threads that detokenize and frame streams (off the engine thread); 0 means one per core. */
        @WithDefault("0")
        int textThreads();

        /** A generation's whole deadline; past it the stream ends with an error event. 0 disables. */
        @WithDefault("0s")
        Duration requestTimeout();

        /** The longest wait for a generation's next token (the first one included, queueing too). 0 disables. */
        @WithDefault("0s")
        Duration idleTimeout();

        /**
         * Events a stream may hold that its client has not taken (a client that stopped reading, once
         * the socket's buffers are full); past it the sequence is cancelled and the connection dropped.
         */
        @WithDefault("512")
        int maxBufferedEvents();

        /** The HTTP server's socket send buffer (SO_SNDBUF, e.g. 64K); unset, the kernel sizes it. */
        Optional<io.quarkus.runtime.configuration.MemorySize> socketSendBuffer();

        /** API keys (comma-separated); with any key configured, the API endpoints require one. */
        Optional<List<String>> keys();

        /** A file of API keys, one per line (a mounted Kubernetes Secret); added to {@link #keys()}. */
        Optional<String> keysFile();
    }
}
