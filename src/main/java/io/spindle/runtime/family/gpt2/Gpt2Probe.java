package io.spindle.runtime.family.gpt2;

import ai.onnxruntime.NodeInfo;
import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import ai.onnxruntime.TensorInfo;
import io.spindle.runtime.onnx.GatherRewrite;
import io.spindle.runtime.onnx.HeadGather;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Checks a decoder graph rewritten to compute logits at chosen positions against the export: both run
 * one pass of two rows over a short past (the second row left-padded, its past masked), and the
 * rewritten graph's logits at four real positions must equal the export's there. Works from the
 * sessions' declared inputs alone, so it serves every layout: with or without past inputs, stacked or
 * separate caches, int32 or int64 ids, a {@code use_cache_branch}.
 */
final class Gpt2Probe {
    /** Agreement asked for: far looser than float noise, far tighter than a wrong rewrite. */
    private static final double TOLERANCE = 1e-3;
    private static final int ROWS = 2;
    private static final int SEQ = 5;
    private static final int PAD = 2;
    /** Flat positions compared: both rows' last, and one earlier real position of each. */
    private static final long[] AT = {SEQ - 1, 1, SEQ + SEQ - 1, SEQ + PAD};

    private Gpt2Probe() {
    }

    /** Null when both sessions give the same logits at the probed positions, else how not. */
    static String mismatch(OrtEnvironment env, OrtSession original, OrtSession rewritten) throws OrtException {
        List<OnnxTensor> owned = new ArrayList<>();
        try {
            Map<String, OnnxTensor> feed = new HashMap<>();
            String unknown = feed(env, original, feed, owned);
            if (unknown != null) {
                return unknown;
            }
            float[] all;
            try (OrtSession.Result r = original.run(feed, Set.of("logits"))) {
                all = floats((OnnxTensor) r.get(0));
            }
            OnnxTensor index = OnnxTensor.createTensor(env, java.nio.LongBuffer.wrap(AT), new long[] {1, AT.length});
            owned.add(index);
            feed.put(GatherRewrite.INPUT, index);
            float[] picked;
            try (OrtSession.Result r = rewritten.run(feed, Set.of("logits"))) {
                picked = floats((OnnxTensor) r.get(0));
            }
            return HeadGather.compareAt(all, picked, AT, all.length / (ROWS * SEQ), TOLERANCE);
        } finally {
            owned.forEach(OnnxTensor::close);
        }
    }

    /** Fills {@code feed} with every input the export declares; the reason when one is not understood. */
    private static String feed(OrtEnvironment env, OrtSession session, Map<String, OnnxTensor> feed,
                               List<OnnxTensor> owned) throws OrtException {
        boolean hasPast = session.getInputNames().stream().anyMatch(n -> n.startsWith("past"));
        int past = hasPast ? 3 : 0;
        int total = past + SEQ;
        for (Map.Entry<String, NodeInfo> e : session.getInputInfo().entrySet()) {
            String name = e.getKey();
            if (!(e.getValue().getInfo() instanceof TensorInfo info)) {
                return "input '" + name + "' is not a tensor";
            }
            long[][] values;
            long[] shape;
            switch (name) {
                case "input_ids" -> {
                    shape = new long[] {ROWS, SEQ};
                    values = new long[][] {{11, 12, 13, 14, 15}, {0, 0, 21, 22, 23}};
                }
                case "position_ids" -> {
                    shape = new long[] {ROWS, SEQ};
                    values = new long[][] {{past, past + 1, past + 2, past + 3, past + 4}, {0, 0, 0, 1, 2}};
                }
                case "attention_mask" -> {
                    shape = new long[] {ROWS, total};
                    long[] padded = new long[total];
                    for (int i = past + PAD; i < total; i++) {
                        padded[i] = 1;
                    }
                    long[] full = new long[total];
                    java.util.Arrays.fill(full, 1);
                    values = new long[][] {full, padded};
                }
                case "use_cache_branch" -> {
                    OnnxTensor t = OnnxTensor.createTensor(env, new boolean[] {past > 0});
                    owned.add(t);
                    feed.put(name, t);
                    continue;
                }
                default -> {
                    if (!name.startsWith("past")) {
                        return "input '" + name + "' is not one the probe knows how to fill";
                    }
                    OnnxTensor t = pastTensor(env, info, past);
                    if (t == null) {
                        return "input '" + name + "' has a shape the probe cannot fill: " + info;
                    }
                    owned.add(t);
                    feed.put(name, t);
                    continue;
                }
            }
            OnnxTensor t = integerTensor(env, info.type, values, shape);
            if (t == null) {
                return "input '" + name + "' has element type " + info.type;
            }
            owned.add(t);
            feed.put(name, t);
        }
        return null;
    }

    private static OnnxTensor integerTensor(OrtEnvironment env, OnnxJavaType type, long[][] values, long[] shape)
            throws OrtException {
        int n = values.length * values[0].length;
        ByteBuffer b = ByteBuffer.allocateDirect(n * 8).order(ByteOrder.nativeOrder());
        int i = 0;
        for (long[] row : values) {
            for (long v : row) {
                switch (type) {
                    case INT64 -> b.putLong(i * 8, v);
                    case INT32 -> b.putInt(i * 4, (int) v);
                    case FLOAT -> b.putFloat(i * 4, v);
                    default -> {
                        return null;
                    }
                }
                i++;
            }
        }
        return switch (type) {
            case INT64 -> OnnxTensor.createTensor(env, b.asLongBuffer().limit(n), shape);
            case INT32 -> OnnxTensor.createTensor(env, b.asIntBuffer().limit(n), shape);
            default -> OnnxTensor.createTensor(env, b.asFloatBuffer().limit(n), shape);
        };
    }

    /** A past of {@code past} positions, batch {@value #ROWS}: small deterministic values (zeros in float16). */
    private static OnnxTensor pastTensor(OrtEnvironment env, TensorInfo info, int past) throws OrtException {
        long[] shape = info.getShape().clone();
        if (shape.length != 4 && shape.length != 5) {
            return null;
        }
        int batchAxis = shape.length - 4;
        if (shape.length == 5) {
            shape[0] = 2;
        }
        shape[batchAxis] = ROWS;
        shape[shape.length - 2] = past;
        long n = 1;
        for (long d : shape) {
            if (d < 0) {
                return null;
            }
            n *= d;
        }
        if (info.type == OnnxJavaType.FLOAT) {
            float[] v = new float[(int) n];
            for (int i = 0; i < v.length; i++) {
                v[i] = (float) Math.sin(i * 0.37) * 0.5f;
            }
            return OnnxTensor.createTensor(env, java.nio.FloatBuffer.wrap(v), shape);
        }
        if (info.type == OnnxJavaType.FLOAT16) {
            ByteBuffer zeros = ByteBuffer.allocateDirect((int) n * 2).order(ByteOrder.nativeOrder());
            return OnnxTensor.createTensor(env, zeros, shape, OnnxJavaType.FLOAT16);
        }
        return null;
    }

    private static float[] floats(OnnxTensor t) {
        if (t.getInfo().type == OnnxJavaType.FLOAT16) {
            java.nio.ShortBuffer s = t.getShortBuffer();
            float[] out = new float[s.remaining()];
            for (int i = 0; i < out.length; i++) {
                out[i] = Float.float16ToFloat(s.get(i));
            }
            return out;
        }
        java.nio.FloatBuffer f = t.getFloatBuffer();
        float[] out = new float[f.remaining()];
        f.get(out);
        return out;
    }
}
