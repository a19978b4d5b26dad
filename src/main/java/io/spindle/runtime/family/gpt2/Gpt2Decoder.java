package io.spindle.runtime.family.gpt2;

import io.spindle.engine.exec.CacheForking;
import io.spindle.engine.exec.ModelRunner;
import io.spindle.engine.exec.PrefixCaching;

/**
 * A GPT-2-family decoder runner as {@link Gpt2Loader} opens it: {@link Gpt2Runner} for graphs that
 * take an attention mask and return the whole cache as presents (every exporter's layout), or
 * {@link InPlaceKvRunner} for Spindle's in-place KV form ({@link Gpt2Graph#inPlaceKv()}).
 * Confined to the engine thread.
 */
public sealed interface Gpt2Decoder extends ModelRunner, CacheForking, PrefixCaching
        permits Gpt2Runner, InPlaceKvRunner {
    /** What the loader recognised in the graph. */
    Gpt2Graph graph();

    /** The graph's cache element type: an export's own, or the in-place compile's (spindle.models.kv-dtype). */
    @Override
    default String kvCacheDtype() {
        return io.spindle.runtime.onnx.KvDtype.of(graph().kvType()).id();
    }
}
