package io.spindle.runtime.demo;

import ai.onnx.proto.OnnxMl.TensorProto.DataType;

import java.io.IOException;
import java.io.OutputStream;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

import static io.spindle.runtime.demo.OnnxGraphWriter.floatAttr;
import static io.spindle.runtime.demo.OnnxGraphWriter.intAttr;
import static io.spindle.runtime.demo.OnnxGraphWriter.intsAttr;
import static io.spindle.runtime.demo.OnnxGraphWriter.tensorAttr;

/**
 * Emits a BERT-architecture encoder (word + position + token-type embeddings, post-LayerNorm blocks,
 * scaled attention masked by {@code attention_mask}, erf-GELU feed-forward) with seeded N(0, 0.02)
 * weights, in Optimum's signature: {@code input_ids}, {@code attention_mask}, {@code token_type_ids}
 * → {@code last_hidden_state} (feature extraction) or {@code logits} over the vocabulary (the
 * masked-LM head: dense, GELU, LayerNorm, then the word embeddings transposed plus a bias).
 * {@link Ops#DECOMPOSED} writes layer norms and GELU the way PyTorch exports them below opset 17
 * (ReduceMean/Sub/Pow/Add/Sqrt/Div/Mul/Add; Div/Erf/Add/Mul/Mul, scalars as Constant nodes) and the
 * decoder weight as its own transposed initializer, so tests meet the shapes of real exports.
 */
public final class BertGraphBuilder {
    private static final float INIT_STD = 0.02f;
    private static final float MASK_NEG = -1e9f;

    /** Which head the graph ends with. */
    public enum Head {
        FEATURES, MASKED_LM
    }

    /** How layer norms and GELU are written: as ONNX's own operators, or decomposed as PyTorch exports them. */
    public enum Ops {
        FUSED, DECOMPOSED
    }

    private final BertShape s;
    private final Head head;
    private final Ops ops;
    private final SplittableRandom random;
    private OnnxGraphWriter g;

    public BertGraphBuilder(BertShape shape, Head head, long seed) {
        this(shape, head, seed, Ops.FUSED);
    }

    public BertGraphBuilder(BertShape shape, Head head, long seed, Ops ops) {
        this.s = shape;
        this.head = head;
        this.ops = ops;
        this.random = new SplittableRandom(seed);
    }

    public void write(OutputStream out) throws IOException {
        g = new OnnxGraphWriter("spindle-demo-bert");
        g.input("input_ids", DataType.INT64, "batch_size", "sequence_length");
        g.input("attention_mask", DataType.INT64, "batch_size", "sequence_length");
        g.input("token_type_ids", DataType.INT64, "batch_size", "sequence_length");
        if (head == Head.MASKED_LM) {
            g.output("logits", DataType.FLOAT, "batch_size", "sequence_length", s.vocabSize());
        } else {
            g.output("last_hidden_state", DataType.FLOAT, "batch_size", "sequence_length", s.hiddenSize());
        }
        String x = embeddings();
        String bias = maskBias();
        for (int i = 0; i < s.numLayers(); i++) {
            x = layer("encoder.layer." + i + ".", x, bias);
        }
        if (head == Head.MASKED_LM) {
            String t = layerNorm("cls.predictions.transform.LayerNorm", gelu(linear("cls.predictions.transform.dense", x,
                    s.hiddenSize(), s.hiddenSize())));
            String wordT = ops == Ops.FUSED
                    ? g.op("Transpose", List.of("embeddings.word_embeddings.weight"), intsAttr("perm", 1, 0))
                    : g.floatInit("onnx::MatMul_decoder", transposedWordEmbeddings(), s.hiddenSize(), s.vocabSize());
            String logits = g.op("MatMul", List.of(t, wordT));
            g.opInto("Add", List.of(logits, g.floatInit("cls.predictions.bias", new float[s.vocabSize()], s.vocabSize())),
                    List.of("logits"));
        } else {
            g.opInto("Identity", List.of(x), List.of("last_hidden_state"));
        }
        g.writeModel(out, "spindle-demo-builder");
    }

    private String embeddings() {
        int h = s.hiddenSize();
        g.floatInit("embeddings.word_embeddings.weight", gaussian(s.vocabSize() * h), s.vocabSize(), h);
        g.floatInit("embeddings.position_embeddings.weight", gaussian(s.contextLength() * h), s.contextLength(), h);
        g.floatInit("embeddings.token_type_embeddings.weight", gaussian(2 * h), 2, h);
        String words = g.op("Gather", List.of("embeddings.word_embeddings.weight", "input_ids"));
        g.longInit("zero", new long[] {0});
        g.longInit("one", new long[] {1});
        g.longInit("index1", new long[] {1});
        String len = g.op("Gather", List.of(g.op("Shape", List.of("input_ids")), "index1"), intAttr("axis", 0));
        String positions = g.op("Range", List.of("zero", len, "one"));
        String pos = g.op("Gather", List.of("embeddings.position_embeddings.weight", positions));
        String types = g.op("Gather", List.of("embeddings.token_type_embeddings.weight", "token_type_ids"));
        String sum = g.op("Add", List.of(g.op("Add", List.of(words, pos)), types));
        return layerNorm("embeddings.LayerNorm", sum);
    }

    /** [batch, 1, 1, len]: 0 for real positions, MASK_NEG for padding. */
    private String maskBias() {
        String m = g.op("Cast", List.of("attention_mask"), intAttr("to", DataType.FLOAT.getNumber()));
        g.scalar("one_f", 1f);
        g.scalar("mask_neg", MASK_NEG);
        String blocked = g.op("Mul", List.of(g.op("Sub", List.of("one_f", m)), "mask_neg"));
        g.longInit("axes12", new long[] {1, 2}, 2);
        return g.op("Unsqueeze", List.of(blocked, "axes12"));
    }

    private String layer(String p, String x, String bias) {
        int h = s.hiddenSize();
        String q = heads(linear(p + "attention.self.query", x, h, h));
        String k = heads(linear(p + "attention.self.key", x, h, h));
        String v = heads(linear(p + "attention.self.value", x, h, h));
        String kT = g.op("Transpose", List.of(k), intsAttr("perm", 0, 1, 3, 2));
        String scores = g.op("Mul", List.of(g.op("MatMul", List.of(q, kT)),
                g.scalar(p + "scale", (float) (1.0 / Math.sqrt(h / (double) s.numHeads())))));
        String probs = g.op("Softmax", List.of(g.op("Add", List.of(scores, bias))), intAttr("axis", -1));
        String ctx = g.op("Transpose", List.of(g.op("MatMul", List.of(probs, v))), intsAttr("perm", 0, 2, 1, 3));
        String merged = g.op("Reshape", List.of(ctx, mergeShape()));
        String attn = linear(p + "attention.output.dense", merged, h, h);
        String x1 = layerNorm(p + "attention.output.LayerNorm", g.op("Add", List.of(x, attn)));
        String inter = gelu(linear(p + "intermediate.dense", x1, h, s.intermediateSize()));
        String out = linear(p + "output.dense", inter, s.intermediateSize(), h);
        return layerNorm(p + "output.LayerNorm", g.op("Add", List.of(x1, out)));
    }

    private boolean shapesDeclared;

    private String mergeShape() {
        declareShapes();
        return "merge_shape";
    }

    private void declareShapes() {
        if (!shapesDeclared) {
            g.longInit("heads_shape", new long[] {0, 0, s.numHeads(), s.hiddenSize() / s.numHeads()}, 4);
            g.longInit("merge_shape", new long[] {0, 0, s.hiddenSize()}, 3);
            shapesDeclared = true;
        }
    }

    /** [batch, len, hidden] → [batch, heads, len, head_dim]. */
    private String heads(String x) {
        declareShapes();
        return g.op("Transpose", List.of(g.op("Reshape", List.of(x, "heads_shape"))), intsAttr("perm", 0, 2, 1, 3));
    }

    private String linear(String name, String x, int in, int out) {
        String w = g.floatInit(name + ".weight", gaussian(in * out), in, out);
        String b = g.floatInit(name + ".bias", gaussian(out), out);
        return g.op("Add", List.of(g.op("MatMul", List.of(x, w)), b));
    }

    private String layerNorm(String name, String x) {
        float[] gamma = new float[s.hiddenSize()];
        Arrays.fill(gamma, 1f);
        String w = g.floatInit(name + ".weight", gamma, s.hiddenSize());
        String b = g.floatInit(name + ".bias", new float[s.hiddenSize()], s.hiddenSize());
        if (ops == Ops.DECOMPOSED) {
            String centred = g.op("Sub", List.of(x, g.op("ReduceMean", List.of(x), intsAttr("axes", -1))));
            String variance = g.op("ReduceMean", List.of(g.op("Pow", List.of(centred, constant(2f)))),
                    intsAttr("axes", -1));
            String std = g.op("Sqrt", List.of(g.op("Add", List.of(variance, constant(1e-12f)))));
            return g.op("Add", List.of(g.op("Mul", List.of(g.op("Div", List.of(centred, std)), w)), b));
        }
        return g.op("LayerNormalization", List.of(x, w, b), intAttr("axis", -1), floatAttr("epsilon", 1e-12f));
    }

    /** BERT's GELU: 0.5·x·(1 + erf(x/√2)). */
    private String gelu(String x) {
        if (ops == Ops.DECOMPOSED) {
            String erf = g.op("Erf", List.of(g.op("Div", List.of(x, constant((float) Math.sqrt(2))))));
            String onePlus = g.op("Add", List.of(erf, constant(1f)));
            return g.op("Mul", List.of(g.op("Mul", List.of(x, onePlus)), constant(0.5f)));
        }
        String erf = g.op("Erf", List.of(g.op("Mul", List.of(x, g.scalar("inv_sqrt2_" + x, (float) (1 / Math.sqrt(2)))))));
        String onePlus = g.op("Add", List.of(erf, "one_f"));
        return g.op("Mul", List.of(g.op("Mul", List.of(x, onePlus)), g.scalar("half_" + x, 0.5f)));
    }

    /** A scalar as PyTorch's exporter writes one: a Constant node. */
    private String constant(float value) {
        return g.op("Constant", List.of(), tensorAttr("value", OnnxGraphWriter.floatTensor(value)));
    }

    /** The word embeddings [vocab, hidden] as the decoder's [hidden, vocab] weight, as a folded export holds it. */
    private float[] transposedWordEmbeddings() {
        float[] words = g.floats("embeddings.word_embeddings.weight");
        float[] t = new float[words.length];
        for (int v = 0; v < s.vocabSize(); v++) {
            for (int h = 0; h < s.hiddenSize(); h++) {
                t[h * s.vocabSize() + v] = words[v * s.hiddenSize() + h];
            }
        }
        return t;
    }

    private float[] gaussian(int n) {
        float[] w = new float[n];
        for (int i = 0; i < n; i++) {
            w[i] = (float) (random.nextGaussian() * INIT_STD);
        }
        return w;
    }
}
