package io.spindle.testing;

import io.spindle.runtime.demo.DemoLayout;
import io.spindle.runtime.demo.DemoModelWriter;
import io.spindle.runtime.demo.DemoPreset;
import io.spindle.runtime.demo.T5DemoWriter;
import io.spindle.runtime.demo.T5Shape;
import io.spindle.runtime.onnx.KvDtype;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;

/** The project-built tiny models that model tests run on, cached under target/. */
public final class TestModels {
    public static final Path DIR = Path.of("target", "test-models");

    private TestModels() {
    }

    public static synchronized Path tiny(DemoLayout layout) {
        return tiny(layout, KvDtype.FLOAT32);
    }

    /** The tiny GPT-2 in a layout, the in-place KV layout's cache in {@code kvDtype} (other layouts ignore it). */
    public static synchronized Path tiny(DemoLayout layout, KvDtype kvDtype) {
        try {
            Path dir = DIR.resolve(DemoModelWriter.cacheName(DemoPreset.TINY, layout, DemoModelWriter.DEFAULT_SEED, kvDtype));
            return new DemoModelWriter().withKvDtype(kvDtype).ensure(dir, DemoPreset.TINY, layout, DemoModelWriter.DEFAULT_SEED);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The tiny GPT-2 as exporters write it: logits at every position (no gather input). */
    public static synchronized Path tinyExported(DemoLayout layout) {
        try {
            Path dir = DIR.resolve(DemoModelWriter.cacheName(DemoPreset.TINY, layout, DemoModelWriter.DEFAULT_SEED)
                    + "-exported");
            return DemoModelWriter.asExported().ensure(dir, DemoPreset.TINY, layout, DemoModelWriter.DEFAULT_SEED);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public static synchronized Path tinyT5(T5DemoWriter.Variant variant) {
        try {
            Path dir = DIR.resolve(T5DemoWriter.cacheName(T5Shape.TINY, variant, DemoModelWriter.DEFAULT_SEED));
            return new T5DemoWriter().ensure(dir, T5Shape.TINY, variant, DemoModelWriter.DEFAULT_SEED);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public static synchronized Path tinyBert(io.spindle.runtime.demo.BertGraphBuilder.Head head) {
        try {
            Path dir = DIR.resolve(io.spindle.runtime.demo.BertDemoWriter.cacheName(head, DemoModelWriter.DEFAULT_SEED));
            return new io.spindle.runtime.demo.BertDemoWriter().ensure(dir, io.spindle.runtime.demo.BertShape.TINY, head,
                    DemoModelWriter.DEFAULT_SEED);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
