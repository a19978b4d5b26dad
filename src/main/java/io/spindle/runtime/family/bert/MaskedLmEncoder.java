package io.spindle.runtime.family.bert;

import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import io.spindle.engine.exec.EncoderRunner;
import io.spindle.engine.exec.ModelExecutionException;
import io.spindle.runtime.onnx.GatherRewrite;

import java.util.List;

/**
 * A BERT-family masked-language model (a fill-mask export): each row's result is the vocabulary
 * logits at each position holding the mask token, in order, concatenated ({@code masks × vocab}
 * floats). On a graph rewritten by {@link GatherRewrite} the head runs at the masks only and
 * {@code logits} is [1, masks, vocab]; on an export as it came ({@code logits} [batch, seq, vocab])
 * the head runs at every position and the mask rows are picked out afterwards.
 * Confined to its encoder engine's thread.
 */
public final class MaskedLmEncoder implements EncoderRunner {
    private final BertFeed feed;
    private final int vocab;
    private final int maxInputTokens;
    private final int maskTokenId;
    private final boolean gathered;

    public MaskedLmEncoder(OrtEnvironment env, OrtSession session, int vocab, int maxInputTokens, int maskTokenId)
            throws OrtException {
        this.feed = new BertFeed(env, session, "logits");
        this.vocab = vocab;
        this.maxInputTokens = maxInputTokens;
        this.maskTokenId = maskTokenId;
        this.gathered = session.getInputNames().contains(GatherRewrite.INPUT);
    }

    public int maskTokenId() {
        return maskTokenId;
    }

    /** Whether the head runs at the masks only (a rewritten graph). */
    public boolean gathered() {
        return gathered;
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
            return gathered ? encodeAtMasks(inputs) : encodeEverywhere(inputs);
        } catch (OrtException | RuntimeException e) {
            throw new ModelExecutionException("running the masked-LM head on " + inputs.size() + " input(s) failed: "
                    + e.getMessage(), e);
        }
    }

    private float[][] encodeAtMasks(List<int[]> inputs) throws OrtException {
        int seq = BertFeed.paddedLength(inputs);
        int masks = 0;
        for (int[] in : inputs) {
            masks += resultRows(in);
        }
        // With no mask at all (a warm-up), position 0 is computed and dropped: the graph still runs whole.
        long[] at = new long[Math.max(masks, 1)];
        int m = 0;
        for (int r = 0; r < inputs.size(); r++) {
            int[] in = inputs.get(r);
            for (int t = 0; t < in.length; t++) {
                if (in[t] == maskTokenId) {
                    at[m++] = (long) r * seq + t;
                }
            }
        }
        float[] logits = feed.run(inputs, at).values();
        float[][] out = new float[inputs.size()][];
        int from = 0;
        for (int r = 0; r < inputs.size(); r++) {
            int n = resultRows(inputs.get(r)) * vocab;
            out[r] = java.util.Arrays.copyOfRange(logits, from, from + n);
            from += n;
        }
        return out;
    }

    private float[][] encodeEverywhere(List<int[]> inputs) throws OrtException {
        BertFeed.Ran ran = feed.run(inputs);
        float[][] out = new float[ran.rows()][];
        for (int r = 0; r < ran.rows(); r++) {
            int[] in = inputs.get(r);
            float[] row = new float[resultRows(in) * vocab];
            int m = 0;
            for (int t = 0; t < in.length; t++) {
                if (in[t] == maskTokenId) {
                    System.arraycopy(ran.values(), (r * ran.seq() + t) * vocab, row, m++ * vocab, vocab);
                }
            }
            out[r] = row;
        }
        return out;
    }

    @Override
    public void close() {
        feed.close();
    }
}
