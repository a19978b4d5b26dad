package io.spindle.runtime.demo;

/**
 * The hyper-parameters of a T5-architecture encoder-decoder (ReLU feed-forward, an untied LM
 * head, bucketed relative position bias).
 *
 * @param contextLength the longest source the model is meant for (n_positions); T5's relative
 *                      positions do not limit it, the tokenizer's model_max_length does
 */
public record T5Shape(int numLayers, int dModel, int numHeads, int dKv, int dFf, int vocabSize, int numBuckets,
                      int maxDistance, int contextLength) {
    /** Two layers, 64 wide: for tests and the default demo. */
    public static final T5Shape TINY = new T5Shape(2, 64, 4, 16, 128, 4096, 32, 128, 512);
    /** t5-small's shape (6 + 6 layers, 512 wide, 8 heads, 32128 vocabulary, ~60M parameters): for benchmarks. */
    public static final T5Shape SMALL = new T5Shape(6, 512, 8, 64, 2048, 32128, 32, 128, 512);

    /** tiny or t5-small. */
    public static T5Shape parse(String preset) {
        return switch (preset.trim().toLowerCase(java.util.Locale.ROOT)) {
            case "tiny" -> TINY;
            case "t5-small" -> SMALL;
            default -> throw new IllegalArgumentException("unknown T5 demo preset '" + preset + "' (expected tiny or t5-small)");
        };
    }

    public String presetId() {
        return this.equals(SMALL) ? "t5-small" : this.equals(TINY) ? "tiny" : "custom";
    }

    public int innerDim() {
        return numHeads * dKv;
    }
}
