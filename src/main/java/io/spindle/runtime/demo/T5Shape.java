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
    public static final T5Shape TINY = new T5Shape(2, 64, 4, 16, 128, T5TokenizerJson.VOCAB_SIZE, 32, 128, 512);

    public int innerDim() {
        return numHeads * dKv;
    }
}
