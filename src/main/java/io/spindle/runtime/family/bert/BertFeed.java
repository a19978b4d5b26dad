package io.spindle.runtime.family.bert;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import io.spindle.runtime.onnx.GatherRewrite;

import java.nio.FloatBuffer;
import java.nio.LongBuffer;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Feeds a batch of token sequences to an encoder graph: rows right-padded to the longest with id 0
 * and mask 0 (so padding changes no row's result), token types 0, one output read back; for a graph
 * rewritten by {@link GatherRewrite}, also the flat positions its head runs at.
 * Confined to its encoder engine's thread.
 */
final class BertFeed {
    /** One output of a run, [rows, seq, width] row-major, and the mask the rows were fed with. */
    record Ran(float[] values, int rows, int seq, long[] mask) {
    }

    private final OrtEnvironment env;
    private final OrtSession session;
    private final String output;
    private final boolean hasTokenTypes;

    BertFeed(OrtEnvironment env, OrtSession session, String output) throws OrtException {
        this.env = env;
        this.session = session;
        this.output = output;
        this.hasTokenTypes = session.getInputNames().contains("token_type_ids");
    }

    /** The length every row is padded to. */
    static int paddedLength(List<int[]> inputs) {
        int seq = 1;
        for (int[] in : inputs) {
            seq = Math.max(seq, in.length);
        }
        return seq;
    }

    Ran run(List<int[]> inputs) throws OrtException {
        return run(inputs, null);
    }

    /**
     * @param gather flat positions ({@code row · paddedLength + position}) fed as
     *               {@link GatherRewrite#INPUT}, or null for a graph without that input
     */
    Ran run(List<int[]> inputs, long[] gather) throws OrtException {
        int rows = inputs.size();
        int seq = paddedLength(inputs);
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
            if (gather != null) {
                feed.put(GatherRewrite.INPUT, OnnxTensor.createTensor(env, LongBuffer.wrap(gather),
                        new long[] {1, gather.length}));
            }
            try (OrtSession.Result result = session.run(feed, Set.of(output))) {
                FloatBuffer fb = ((OnnxTensor) result.get(0)).getFloatBuffer();
                return new Ran(array(fb), rows, seq, mask);
            }
        } finally {
            feed.values().forEach(OnnxTensor::close);
        }
    }

    /** The buffer's floats; ONNX Runtime already copied the output into it, so its array is used when it has one. */
    private static float[] array(FloatBuffer fb) {
        if (fb.hasArray() && fb.arrayOffset() == 0 && fb.position() == 0 && fb.array().length == fb.remaining()) {
            return fb.array();
        }
        float[] values = new float[fb.remaining()];
        fb.get(values);
        return values;
    }

    void close() {
        try {
            session.close();
        } catch (OrtException e) {
            throw new IllegalStateException("closing the encoder session failed", e);
        }
    }
}
