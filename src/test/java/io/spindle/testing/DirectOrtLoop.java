package io.spindle.testing;

import ai.onnxruntime.NodeInfo;
import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import ai.onnxruntime.TensorInfo;
import io.spindle.runtime.onnx.GatherRewrite;

import java.nio.FloatBuffer;
import java.nio.IntBuffer;
import java.nio.LongBuffer;
import java.nio.ShortBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A reference that shares no code with Spindle's runtime: a plain ONNX Runtime loop over one
 * decoder graph with past inputs, batch 1, written the way a user would write it from the graph's
 * signature alone. Supports ONNX Runtime's GPT-2 layout ({@code past_i} [2, 1, heads, len, head_dim])
 * and Optimum's ({@code past_key_values.i.key|value} [1, heads, len, head_dim]), int32 or int64 ids,
 * float32 or float16 caches and logits.
 */
public final class DirectOrtLoop implements AutoCloseable {
    private final OrtEnvironment env = OrtEnvironment.getEnvironment();
    private final OrtSession session;
    private final List<String> pastNames = new ArrayList<>();
    private final Map<String, String> presentOf = new HashMap<>();
    private final Map<String, long[]> pastShape = new HashMap<>();
    private final OnnxJavaType idsType;
    private final OnnxJavaType maskType;
    private final OnnxJavaType kvType;
    private final boolean positions;
    private final boolean gathers;

    public DirectOrtLoop(Path graph) throws OrtException {
        OrtSession.SessionOptions options = new OrtSession.SessionOptions();
        options.setIntraOpNumThreads(1);
        session = env.createSession(graph.toString(), options);
        Map<String, NodeInfo> in = session.getInputInfo();
        idsType = ((TensorInfo) in.get("input_ids").getInfo()).type;
        maskType = ((TensorInfo) in.get("attention_mask").getInfo()).type;
        positions = in.containsKey("position_ids");
        gathers = in.containsKey(GatherRewrite.INPUT);
        for (String name : in.keySet()) {
            if (name.startsWith("past_key_values.")) {
                pastNames.add(name);
                presentOf.put(name, name.replace("past_key_values.", "present."));
            } else if (name.startsWith("past_")) {
                pastNames.add(name);
                presentOf.put(name, name.replace("past_", "present_"));
            }
        }
        kvType = ((TensorInfo) in.get(pastNames.getFirst()).getInfo()).type;
        for (String name : pastNames) {
            long[] shape = ((TensorInfo) in.get(name).getInfo()).getShape().clone();
            // [2, batch, heads, len, hd] or [batch, heads, len, hd]: batch 1, length 0 to start.
            shape[shape.length == 5 ? 1 : 0] = 1;
            shape[shape.length - 2] = 0;
            pastShape.put(name, shape);
        }
    }

    /** Greedy tokens after {@code prompt}, {@code n} of them, fed one position at a time after the prompt. */
    public int[] greedy(int[] prompt, int n) throws OrtException {
        int[] out = new int[n];
        Map<String, OnnxTensor> past = emptyPast();
        int len = 0;
        int[] feed = prompt;
        try {
            for (int step = 0; step < n; step++) {
                Step s = forward(feed, len, past);
                past = s.presents;
                len += feed.length;
                float[] last = s.logits[s.logits.length - 1];
                int best = 0;
                for (int v = 1; v < last.length; v++) {
                    if (last[v] > last[best]) {
                        best = v;
                    }
                }
                out[step] = best;
                feed = new int[] {best};
            }
            return out;
        } finally {
            past.values().forEach(OnnxTensor::close);
        }
    }

    /** The logits of every position of {@code tokens}, in one forward pass from an empty cache. */
    public float[][] logits(int[] tokens) throws OrtException {
        Map<String, OnnxTensor> past = emptyPast();
        Step s = forward(tokens, 0, past);
        s.presents.values().forEach(OnnxTensor::close);
        return s.logits;
    }

    private record Step(float[][] logits, Map<String, OnnxTensor> presents) {
    }

    /** One forward pass; closes {@code past}, returns the presents as new tensors owned by the caller. */
    private Step forward(int[] tokens, int pastLen, Map<String, OnnxTensor> past) throws OrtException {
        Map<String, OnnxTensor> inputs = new HashMap<>(past);
        List<OnnxTensor> made = new ArrayList<>();
        try {
            long[] ids = new long[tokens.length];
            long[] pos = new long[tokens.length];
            for (int i = 0; i < tokens.length; i++) {
                ids[i] = tokens[i];
                pos[i] = pastLen + i;
            }
            long[] mask = new long[pastLen + tokens.length];
            java.util.Arrays.fill(mask, 1);
            made.add(put(inputs, "input_ids", ints(idsType, ids)));
            made.add(put(inputs, "attention_mask", ints(maskType, mask)));
            if (positions) {
                made.add(put(inputs, "position_ids", ints(idsType, pos)));
            }
            if (gathers) {
                // Spindle's serving form: ask for every position, which is what an export computes.
                long[] all = new long[tokens.length];
                for (int i = 0; i < all.length; i++) {
                    all[i] = i;
                }
                made.add(put(inputs, GatherRewrite.INPUT, ints(OnnxJavaType.INT64, all)));
            }
            try (OrtSession.Result r = session.run(inputs)) {
                float[][] logits = floats3((OnnxTensor) r.get("logits").orElseThrow());
                Map<String, OnnxTensor> presents = new HashMap<>();
                for (String p : pastNames) {
                    OnnxTensor t = (OnnxTensor) r.get(presentOf.get(p)).orElseThrow();
                    presents.put(p, copy(t));
                }
                return new Step(logits, presents);
            }
        } finally {
            made.forEach(OnnxTensor::close);
            past.values().forEach(OnnxTensor::close);
        }
    }

    private static OnnxTensor put(Map<String, OnnxTensor> inputs, String name, OnnxTensor t) {
        inputs.put(name, t);
        return t;
    }

    private OnnxTensor ints(OnnxJavaType type, long[] values) throws OrtException {
        long[] shape = {1, values.length};
        return switch (type) {
            case INT64 -> OnnxTensor.createTensor(env, LongBuffer.wrap(values), shape);
            case INT32 -> {
                int[] v = new int[values.length];
                for (int i = 0; i < v.length; i++) {
                    v[i] = (int) values[i];
                }
                yield OnnxTensor.createTensor(env, IntBuffer.wrap(v), shape);
            }
            case FLOAT -> {
                float[] v = new float[values.length];
                for (int i = 0; i < v.length; i++) {
                    v[i] = values[i];
                }
                yield OnnxTensor.createTensor(env, FloatBuffer.wrap(v), shape);
            }
            default -> throw new IllegalArgumentException("unsupported input type " + type);
        };
    }

    private Map<String, OnnxTensor> emptyPast() throws OrtException {
        Map<String, OnnxTensor> past = new HashMap<>();
        for (String p : pastNames) {
            past.put(p, kvType == OnnxJavaType.FLOAT16
                    ? OnnxTensor.createTensor(env, ShortBuffer.allocate(0), pastShape.get(p), OnnxJavaType.FLOAT16)
                    : OnnxTensor.createTensor(env, FloatBuffer.allocate(0), pastShape.get(p)));
        }
        return past;
    }

    private OnnxTensor copy(OnnxTensor t) throws OrtException {
        long[] shape = t.getInfo().getShape();
        if (kvType == OnnxJavaType.FLOAT16) {
            ShortBuffer src = t.getShortBuffer();
            return OnnxTensor.createTensor(env, src, shape, OnnxJavaType.FLOAT16);
        }
        return OnnxTensor.createTensor(env, t.getFloatBuffer(), shape);
    }

    /** [1, seq, vocab] logits as [seq][vocab] floats. */
    private static float[][] floats3(OnnxTensor t) {
        long[] shape = t.getInfo().getShape();
        int seq = (int) shape[1];
        int vocab = (int) shape[2];
        float[][] out = new float[seq][vocab];
        if (t.getInfo().type == OnnxJavaType.FLOAT16) {
            ShortBuffer b = t.getShortBuffer();
            for (int s = 0; s < seq; s++) {
                for (int v = 0; v < vocab; v++) {
                    out[s][v] = Float.float16ToFloat(b.get(s * vocab + v));
                }
            }
        } else {
            FloatBuffer b = t.getFloatBuffer();
            for (int s = 0; s < seq; s++) {
                b.get(out[s]);
            }
        }
        return out;
    }

    @Override
    public void close() throws OrtException {
        session.close();
    }

    /** log-softmax of one position's logits, in double precision: the reference log-probabilities. */
    public static double[] logSoftmax(float[] logits) {
        double max = Double.NEGATIVE_INFINITY;
        for (float l : logits) {
            max = Math.max(max, l);
        }
        double s = 0;
        for (float l : logits) {
            s += Math.exp(l - max);
        }
        double lse = max + Math.log(s);
        double[] out = new double[logits.length];
        for (int i = 0; i < logits.length; i++) {
            out[i] = logits[i] - lse;
        }
        return out;
    }
}
