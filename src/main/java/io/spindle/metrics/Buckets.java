package io.spindle.metrics;

import java.time.Duration;
import java.util.Arrays;

/**
 * Histogram bucket bounds chosen for LLM serving on CPU and GPU: token latencies from a millisecond
 * (a GPU decode step) to seconds (a 2-core CPU under load), request latencies up to half an hour.
 * Close to vLLM's, so dashboards built for it read the same way.
 */
final class Buckets {
    private Buckets() {
    }

    static final Duration[] TIME_TO_FIRST_TOKEN = seconds(0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5,
            0.75, 1, 2.5, 5, 7.5, 10, 20, 40, 80, 160, 640);
    static final Duration[] INTER_TOKEN = seconds(0.001, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4,
            0.5, 0.75, 1, 2.5, 5, 10, 20);
    static final Duration[] REQUEST = seconds(0.1, 0.3, 0.5, 0.8, 1, 1.5, 2, 2.5, 5, 10, 15, 20, 30, 40, 50, 60, 120,
            240, 480, 960, 1920);
    static final Duration[] QUEUE = seconds(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 40, 80,
            160, 320, 640);
    static final Duration[] STEP = seconds(0.001, 0.0025, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.15, 0.2, 0.3, 0.5,
            0.75, 1, 2.5, 5, 10);
    static final Duration[] CANCELLATION = seconds(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
            2.5, 5);
    /** A cold compile of a tool schema takes tens of milliseconds; a bounded json_object up to a second on 2 cores. */
    static final Duration[] CONSTRAINT_COMPILE = seconds(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
            0.5, 1, 2.5, 5, 10);
    /** Masking 50,257 logits takes tens of microseconds; a DFA state's first visit (its token index) up to milliseconds. */
    static final Duration[] CONSTRAINT_MASK = seconds(0.000005, 0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005,
            0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1);
    static final double[] BATCH_SIZE = {1, 2, 4, 8, 16, 24, 32, 48, 64, 96, 128, 192, 256, 512};
    static final double[] TOKENS = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768,
            65536, 131072};

    private static Duration[] seconds(double... bounds) {
        return Arrays.stream(bounds).mapToObj(s -> Duration.ofNanos(Math.round(s * 1e9))).toArray(Duration[]::new);
    }
}
