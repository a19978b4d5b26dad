package io.spindle.runtime.demo;

/**
 * The hyper-parameters of a GPT-2-architecture graph. Vocabulary is always GPT-2's own (50257), so
 * the demo tokenizer is the real byte-level BPE.
 */
public record Gpt2Shape(int numLayers, int hiddenSize, int numHeads, int contextLength, int vocabSize) {
    public static final int GPT2_VOCAB = 50257;

    public Gpt2Shape {
        if (hiddenSize % numHeads != 0) {
            throw new IllegalArgumentException("hiddenSize " + hiddenSize + " is not divisible by numHeads " + numHeads);
        }
    }

    public int headDim() {
        return hiddenSize / numHeads;
    }
}
