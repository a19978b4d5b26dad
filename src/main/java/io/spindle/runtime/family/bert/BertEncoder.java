package io.spindle.runtime.family.bert;

import ai.onnxruntime.NodeInfo;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import ai.onnxruntime.TensorInfo;
import io.spindle.engine.exec.EncoderRunner;
import io.spindle.engine.exec.ModelExecutionException;

import java.util.List;
import java.util.Map;

/**
 * A BERT-family embedding model: the token vectors ({@code last_hidden_state}, or the first rank-3
 * output) of each row, padded as {@link BertFeed} does, are pooled per row.
 * Confined to its encoder engine's thread.
 */
public final class BertEncoder implements EncoderRunner {
    private final BertFeed feed;
    private final int hidden;
    private final int maxInputTokens;
    private final Pooling pooling;

    public BertEncoder(OrtEnvironment env, OrtSession session, int hidden, int maxInputTokens, Pooling pooling)
            throws OrtException {
        this.feed = new BertFeed(env, session, tokenOutput(session));
        this.hidden = hidden;
        this.maxInputTokens = maxInputTokens;
        this.pooling = pooling;
    }

    /** {@code last_hidden_state} if the graph has it, else its first output of rank 3. */
    static String tokenOutput(OrtSession session) throws OrtException {
        Map<String, NodeInfo> outputs = session.getOutputInfo();
        if (outputs.containsKey("last_hidden_state")) {
            return "last_hidden_state";
        }
        for (Map.Entry<String, NodeInfo> e : outputs.entrySet()) {
            if (e.getValue().getInfo() instanceof TensorInfo t && t.getShape().length == 3) {
                return e.getKey();
            }
        }
        throw new OrtException("the graph has no [batch, sequence, hidden] output (outputs: " + outputs.keySet() + ")");
    }

    @Override
    public int dimensions() {
        return hidden;
    }

    @Override
    public int maxInputTokens() {
        return maxInputTokens;
    }

    @Override
    public int resultRows(int[] input) {
        return 1;
    }

    @Override
    public float[][] encode(List<int[]> inputs) throws ModelExecutionException {
        try {
            BertFeed.Ran ran = feed.run(inputs);
            float[][] vectors = new float[ran.rows()][];
            for (int r = 0; r < ran.rows(); r++) {
                vectors[r] = pooling.pool(ran.values(), r, ran.seq(), hidden, ran.mask(), r * ran.seq());
            }
            return vectors;
        } catch (OrtException | RuntimeException e) {
            throw new ModelExecutionException("encoding " + inputs.size() + " input(s) failed: " + e.getMessage(), e);
        }
    }

    @Override
    public void close() {
        feed.close();
    }
}
