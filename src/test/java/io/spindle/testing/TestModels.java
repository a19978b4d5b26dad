package io.spindle.testing;

import io.spindle.runtime.demo.DemoLayout;
import io.spindle.runtime.demo.DemoModelWriter;
import io.spindle.runtime.demo.DemoPreset;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;

/** The project-built tiny GPT-2 models that model tests run on, cached under target/. */
public final class TestModels {
    public static final Path DIR = Path.of("target", "test-models");

    private TestModels() {
    }

    public static synchronized Path tiny(DemoLayout layout) {
        try {
            Path dir = DIR.resolve(DemoModelWriter.cacheName(DemoPreset.TINY, layout, DemoModelWriter.DEFAULT_SEED));
            return new DemoModelWriter().ensure(dir, DemoPreset.TINY, layout, DemoModelWriter.DEFAULT_SEED);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
