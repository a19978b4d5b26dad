package io.spindle.runtime.family.bert;

import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import io.spindle.engine.exec.EncoderRunner;
import io.spindle.engine.exec.ModelExecutionException;

import java.util.List;

/**
 * A BERT-family masked-language model (a fill-mask export, {@code logits} [batch, seq, vocab]): each
 * row's result is the vocabulary logits at each position holding the mask token, in order,
 * concatenated ({@code masks × vocab} floats). Confined to its encoder engine's thread.
 */
public final class MaskedLmEncoder implements EncoderRunner {
    private final BertFeed feed;
    private final int vocab;
    private final int maxInputTokens;
    private final int maskTokenId;

    public MaskedLmEncoder(OrtEnvironment env, OrtSession session, int vocab, int maxInputTokens, int maskTokenId)
            throws OrtException {
        this.feed = new BertFeed(env, session, "logits");
        this.vocab = vocab;
        this.maxInputTokens = maxInputTokens;
        this.maskTokenId = maskTokenId;
    }

    public int maskTokenId() {
        return maskTokenId;
    }

    @Override
    public int dimensions() {
        return vocab;
    }

    @Override
    public int maxInputTokens() {
        return maxInputTokens;
    }

    @Override
    public int resultRows(int[] input) {
        int masks = 0;
        for (int id : input) {
            masks += id == maskTokenId ? 1 : 0;
        }
        return masks;
    }

    @Override
    public float[][] encode(List<int[]> inputs) throws ModelExecutionException {
        try {
            BertFeed.Ran ran = feed.run(inputs);
            float[][] out = new float[ran.rows()][];
            for (int r = 0; r < ran.rows(); r++) {
                int[] in = inputs.get(r);
                int masks = 0;
                for (int id : in) {
                    masks += id == maskTokenId ? 1 : 0;
                }
                float[] row = new float[masks * vocab];
                int m = 0;
                for (int t = 0; t < in.length; t++) {
                    if (in[t] == maskTokenId) {
                        System.arraycopy(ran.values(), (r * ran.seq() + t) * vocab, row, m++ * vocab, vocab);
                    }
                }
                out[r] = row;
            }
            return out;
        } catch (OrtException | RuntimeException e) {
            throw new ModelExecutionException("running the masked-LM head on " + inputs.size() + " input(s) failed: "
                    + e.getMessage(), e);
        }
    }

    @Override
    public void close() {
        feed.close();
    }
}
