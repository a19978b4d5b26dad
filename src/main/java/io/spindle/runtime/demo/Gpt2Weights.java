package io.spindle.runtime.demo;

import com.google.protobuf.ByteString;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

/**
 * A GPT-2's parameters, the input of {@link Gpt2GraphBuilder}: seeded random ones for the demo
 * ({@link #random}), or an export's, read by the loader to compile it into Spindle's in-place KV form.
 * Matrices are as GPT-2's Conv1D keeps them, [in, out] (x · W + b); the LM head is {@code wte}ᵀ
 * unless {@link #lmHead} is given ([hidden, vocab]).
 *
 * @param epsilon    every LayerNorm's
 * @param activation the feed-forward's GELU: GPT-2's {@code gelu_new} is the tanh form
 * @param lmHead     null when tied to {@code wte}
 */
public record Gpt2Weights(Gpt2Shape shape, float epsilon, Activation activation, Tensor wte, Tensor wpe,
                          List<Layer> layers, Tensor lnFGamma, Tensor lnFBeta, Tensor lmHead) {
    private static final float INIT_STD = 0.02f;

    /** The feed-forward's activation. */
    public enum Activation {
        /** 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))): GPT-2's gelu_new, ONNX Runtime's FastGelu. */
        GELU_TANH,
        /** 0.5·x·(1 + erf(x/√2)): ONNX Runtime's Gelu and BiasGelu. */
        GELU_ERF
    }

    /** Little-endian float32 values of the given dims (an ONNX initializer's raw data, shared, not copied). */
    public record Tensor(ByteString raw, long[] dims) {
        public Tensor {
            long n = 1;
            for (long d : dims) {
                n *= d;
            }
            if (raw.size() != n * Float.BYTES) {
                throw new IllegalArgumentException(raw.size() + " bytes for dims " + Arrays.toString(dims));
            }
        }

        public static Tensor of(float[] values, long... dims) {
            ByteBuffer buf = ByteBuffer.allocate(values.length * Float.BYTES).order(ByteOrder.LITTLE_ENDIAN);
            buf.asFloatBuffer().put(values);
            return new Tensor(ByteString.copyFrom(buf.array()), dims);
        }

        public static Tensor filled(float value, long n) {
            float[] v = new float[(int) n];
            Arrays.fill(v, value);
            return of(v, n);
        }

        public float[] floats() {
            float[] out = new float[raw.size() / Float.BYTES];
            raw.asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(out);
            return out;
        }

        public boolean hasDims(long... expected) {
            return Arrays.equals(dims, expected);
        }

        /** A 2-D tensor transposed. */
        public Tensor transposed() {
            if (dims.length != 2) {
                throw new IllegalArgumentException("transpose of a " + dims.length + "-D tensor");
            }
            int r = (int) dims[0];
            int c = (int) dims[1];
            float[] v = floats();
            float[] t = new float[v.length];
            for (int i = 0; i < r; i++) {
                for (int j = 0; j < c; j++) {
                    t[j * r + i] = v[i * c + j];
                }
            }
            return of(t, c, r);
        }

        /** Element-wise sum with a tensor of the same dims. */
        public Tensor plus(Tensor other) {
            float[] a = floats();
            float[] b = other.floats();
            for (int i = 0; i < a.length; i++) {
                a[i] += b[i];
            }
            return of(a, dims);
        }

        @Override
        public String toString() {
            return "Tensor" + Arrays.toString(dims);
        }
    }

    /** One block: ln_1, attention (packed Q, K, V in c_attn), ln_2, feed-forward. */
    public record Layer(Tensor ln1Gamma, Tensor ln1Beta, Tensor cAttnW, Tensor cAttnB, Tensor cProjW, Tensor cProjB,
                        Tensor ln2Gamma, Tensor ln2Beta, Tensor fcW, Tensor fcB, Tensor projW, Tensor projB) {
    }

    public Gpt2Weights {
        layers = List.copyOf(layers);
        int h = shape.hiddenSize();
        check("wte", wte, shape.vocabSize(), h);
        check("wpe", wpe, shape.contextLength(), h);
        if (layers.size() != shape.numLayers()) {
            throw new IllegalArgumentException(layers.size() + " layers for " + shape);
        }
        for (int i = 0; i < layers.size(); i++) {
            Layer l = layers.get(i);
            String p = "h." + i + ".";
            check(p + "ln_1.weight", l.ln1Gamma, h);
            check(p + "ln_1.bias", l.ln1Beta, h);
            check(p + "attn.c_attn.weight", l.cAttnW, h, 3L * h);
            check(p + "attn.c_attn.bias", l.cAttnB, 3L * h);
            check(p + "attn.c_proj.weight", l.cProjW, h, h);
            check(p + "attn.c_proj.bias", l.cProjB, h);
            check(p + "ln_2.weight", l.ln2Gamma, h);
            check(p + "ln_2.bias", l.ln2Beta, h);
            long inner = l.fcW.dims()[l.fcW.dims().length - 1];
            check(p + "mlp.c_fc.weight", l.fcW, h, inner);
            check(p + "mlp.c_fc.bias", l.fcB, inner);
            check(p + "mlp.c_proj.weight", l.projW, inner, h);
            check(p + "mlp.c_proj.bias", l.projB, h);
        }
        check("ln_f.weight", lnFGamma, h);
        check("ln_f.bias", lnFBeta, h);
        if (lmHead != null) {
            check("lm_head", lmHead, h, shape.vocabSize());
        }
    }

    private static void check(String name, Tensor t, long... dims) {
        if (t == null || !t.hasDims(dims)) {
            throw new IllegalArgumentException(name + " is " + t + ", expected " + Arrays.toString(dims));
        }
    }

    /**
     * GPT-2's initialisation as the demo draws it: N(0, 0.02) matrices and biases in a fixed order
     * (wte, wpe, then per block c_attn, c_proj, c_fc, mlp c_proj, each weight then bias), LayerNorms
     * at γ = 1, β = 0, the LM head tied. The same seed gives the same weights in every layout.
     */
    public static Gpt2Weights random(Gpt2Shape shape, long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        int h = shape.hiddenSize();
        Tensor wte = gaussian(random, shape.vocabSize(), h);
        Tensor wpe = gaussian(random, shape.contextLength(), h);
        Tensor ones = Tensor.filled(1f, h);
        Tensor zeros = Tensor.filled(0f, h);
        List<Layer> layers = new ArrayList<>();
        for (int i = 0; i < shape.numLayers(); i++) {
            Tensor cAttnW = gaussian(random, h, 3L * h);
            Tensor cAttnB = gaussian(random, 3L * h);
            Tensor cProjW = gaussian(random, h, h);
            Tensor cProjB = gaussian(random, h);
            Tensor fcW = gaussian(random, h, 4L * h);
            Tensor fcB = gaussian(random, 4L * h);
            Tensor projW = gaussian(random, 4L * h, h);
            Tensor projB = gaussian(random, h);
            layers.add(new Layer(ones, zeros, cAttnW, cAttnB, cProjW, cProjB, ones, zeros, fcW, fcB, projW, projB));
        }
        return new Gpt2Weights(shape, 1e-5f, Activation.GELU_TANH, wte, wpe, layers, ones, zeros, null);
    }

    private static Tensor gaussian(SplittableRandom random, long... dims) {
        long n = 1;
        for (long d : dims) {
            n *= d;
        }
        float[] w = new float[(int) n];
        for (int i = 0; i < w.length; i++) {
            w[i] = (float) (random.nextGaussian() * INIT_STD);
        }
        return Tensor.of(w, dims);
    }
}
