package io.spindle.runtime.demo;

import java.util.Locale;

/** Sizes of the project-built demo model, selected with {@code spindle.demo.preset}. */
public enum DemoPreset {
    /** Two layers, 64 wide: fast enough for every test and for the default server. */
    TINY("tiny", new Gpt2Shape(2, 64, 4, 512, Gpt2Shape.GPT2_VOCAB)),
    /** GPT-2 small's exact shape (124M parameters) with random weights: for benchmarks. */
    GPT2_124M("gpt2-124m", new Gpt2Shape(12, 768, 12, 1024, Gpt2Shape.GPT2_VOCAB));

    private final String id;
    private final Gpt2Shape shape;

    DemoPreset(String id, Gpt2Shape shape) {
        this.id = id;
        this.shape = shape;
    }

    public String id() {
        return id;
    }

    public Gpt2Shape shape() {
        return shape;
    }

    public static DemoPreset parse(String value) {
        for (DemoPreset p : values()) {
            if (p.id.equals(value.trim().toLowerCase(Locale.ROOT))) {
                return p;
            }
        }
        throw new IllegalArgumentException("unknown demo preset '" + value + "' (expected tiny or gpt2-124m)");
    }
}
