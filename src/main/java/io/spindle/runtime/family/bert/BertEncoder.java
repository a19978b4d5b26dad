package io.spindle.runtime.family.bert;

import ai.onnxruntime.NodeInfo;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import ai.onnxruntime.TensorInfo;
import io.spindle.engine.exec.EncoderRunner;
import io.spindle.engine.exec.ModelExecutionException;

import java.nio.FloatBuffer;
import java.nio.LongBuffer;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A BERT-family encoder graph: rows are right-padded to the longest with id 0 and mask 0, so padding
 * changes no row's vector; the token vectors ({@code last_hidden_state}, or the first rank-3 output)
 * are pooled per row. Confined to its encoder engine's thread.
 */
public final class BertEncoder implements EncoderRunner {
    private final OrtEnvironment env;
    private final OrtSession session;
    private final String tokenOutput;
    private final boolean hasTokenTypes;
    private final int hidden;
    private final int maxInputTokens;
    private final Pooling pooling;

    public BertEncoder(OrtEnvironment env, OrtSession session, int hidden, int maxInputTokens, Pooling pooling)
            throws OrtException {
        this.env = env;
        this.session = session;
        this.hidden = hidden;
        this.maxInputTokens = maxInputTokens;
        this.pooling = pooling;
        this.hasTokenTypes = session.getInputNames().contains("token_type_ids");
        this.tokenOutput = tokenOutput(session);
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
    public float[][] embed(List<int[]> inputs) throws ModelExecutionException {
        int rows = inputs.size();
        int seq = 1;
        for (int[] in : inputs) {
            seq = Math.max(seq, in.length);
        }
        long[] ids = new long[rows * seq];
        long[] mask = new long[rows * seq];
        for (int r = 0; r < rows; r++) {
            int[] in = inputs.get(r);
            for (int t = 0; t < in.length; t++) {
                ids[r * seq + t] = in[t];
                mask[r * seq + t] = 1;
            }
        }
        long[] shape = {rows, seq};
        Map<String, OnnxTensor> feed = new HashMap<>();
        try {
            feed.put("input_ids", OnnxTensor.createTensor(env, LongBuffer.wrap(ids), shape));
            feed.put("attention_mask", OnnxTensor.createTensor(env, LongBuffer.wrap(mask), shape));
            if (hasTokenTypes) {
                feed.put("token_type_ids", OnnxTensor.createTensor(env, LongBuffer.wrap(new long[rows * seq]), shape));
            }
            try (OrtSession.Result result = session.run(feed, Set.of(tokenOutput))) {
                OnnxTensor out = (OnnxTensor) result.get(0);
                FloatBuffer fb = out.getFloatBuffer();
                float[] tokens = new float[fb.remaining()];
                fb.get(tokens);
                float[][] vectors = new float[rows][];
                for (int r = 0; r < rows; r++) {
                    vectors[r] = pooling.pool(tokens, r, seq, hidden, mask, r * seq);
                }
                return vectors;
            }
        } catch (OrtException | RuntimeException e) {
            throw new ModelExecutionException("encoding " + rows + " input(s) failed: " + e.getMessage(), e);
        } finally {
            feed.values().forEach(OnnxTensor::close);
        }
    }

    @Override
    public void close() {
        try {
            session.close();
        } catch (OrtException e) {
            throw new IllegalStateException("closing the encoder session failed", e);
        }
    }
}
