package io.spindle.runtime.demo;

/** The hyper-parameters of a BERT-architecture encoder; the vocabulary is bert-base-uncased's. */
public record BertShape(int numLayers, int hiddenSize, int numHeads, int intermediateSize, int contextLength,
                        int vocabSize) {
    public static final int BERT_UNCASED_VOCAB = 30522;
    /** Two layers, 64 wide: for tests and the demo. */
    public static final BertShape TINY = new BertShape(2, 64, 4, 128, 512, BERT_UNCASED_VOCAB);

    public BertShape {
        if (hiddenSize % numHeads != 0) {
            throw new IllegalArgumentException("hiddenSize " + hiddenSize + " is not divisible by numHeads " + numHeads);
        }
    }
}
