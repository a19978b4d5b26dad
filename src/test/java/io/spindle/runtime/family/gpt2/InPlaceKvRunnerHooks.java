package io.spindle.runtime.family.gpt2;

/** The in-place runner's package-private test hooks, for benchmarks in other packages. */
public final class InPlaceKvRunnerHooks {
    private InPlaceKvRunnerHooks() {
    }

    /** Graph calls the runner has made so far. */
    public static long graphCalls(Gpt2Decoder runner) {
        return ((InPlaceKvRunner) runner).graphCalls();
    }

    /** Turns batching of a step's first prompt chunks on or off. */
    public static void batchFirstChunks(Gpt2Decoder runner, boolean on) {
        ((InPlaceKvRunner) runner).batchFirstChunks(on);
    }
}
