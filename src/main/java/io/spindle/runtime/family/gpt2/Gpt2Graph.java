package io.spindle.runtime.family.gpt2;

import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.TensorInfo;
import io.spindle.runtime.onnx.GatherRewrite;
import io.spindle.runtime.onnx.GraphSignature;
import io.spindle.runtime.onnx.HeadGather;
import io.spindle.runtime.onnx.ModelLoadException;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * What the runner needs to know about a GPT-2-family decoder graph, recognised from its inputs and
 * outputs: which KV layout it uses, how many layers, heads and head dims, and the element types of
 * ids, mask, cache and logits.
 *
 * @param cacheOuter 1 for Optimum's separate key/value tensors [batch, heads, len, head_dim]; 2 for
 *                   ONNX Runtime's stacked {@code past_i} [2, batch, heads, len, head_dim]
 * @param pastNames  cache inputs, aligned index by index with {@code presentNames}
 * @param gathersLogits the graph takes {@value GatherRewrite#INPUT} (flat positions [1, n]) and computes
 *                      {@code logits} [1, n, vocab] at those positions only (Spindle's serving form:
 *                      the demo builder writes it, {@link HeadGather} rewrites exports to it)
 * @param inPlaceKv the graph takes {@code seqlens_k} (int32 [batch]) and {@code total_sequence_length}
 *                  (int32 scalar) instead of {@code attention_mask}, its cache tensors are
 *                  [batch, heads, max_len, head_dim] and each present may be bound to its past's very
 *                  buffer, into which only the new positions are written (GroupQueryAttention; served
 *                  by {@link InPlaceKvRunner}); {@code maskType} is then null
 */
public record Gpt2Graph(String layoutName, int numLayers, int numHeads, int headDim, int cacheOuter,
                        OnnxJavaType idsType, OnnxJavaType maskType, OnnxJavaType kvType, OnnxJavaType logitsType,
                        boolean hasPositionIds, boolean hasUseCacheBranch, int vocabSize,
                        List<String> pastNames, List<String> presentNames, boolean gathersLogits,
                        boolean inPlaceKv) {

    public static final String OPTIMUM = "optimum";
    public static final String ORT_GPT2 = "ort-gpt2";
    /** Spindle's in-place KV serving form ({@link #inPlaceKv}). */
    public static final String IN_PLACE_KV = "in-place-kv";
    private static final Set<OnnxJavaType> ID_TYPES = Set.of(OnnxJavaType.INT64, OnnxJavaType.INT32);
    private static final Set<OnnxJavaType> MASK_TYPES = Set.of(OnnxJavaType.INT64, OnnxJavaType.INT32, OnnxJavaType.FLOAT);
    private static final Set<OnnxJavaType> FLOAT_TYPES = Set.of(OnnxJavaType.FLOAT, OnnxJavaType.FLOAT16);

    /** Bytes of cache per token of one sequence, over all layers (keys and values). */
    public long kvBytesPerToken() {
        return 2L * numLayers * numHeads * headDim * (kvType == OnnxJavaType.FLOAT16 ? 2 : 4);
    }

    /**
     * Recognises a decoder graph with past inputs. {@code configHeads} comes from config.json and is
     * used only when the graph leaves the head count symbolic.
     */
    public static Gpt2Graph recognise(GraphSignature sig, int configHeads) throws ModelLoadException {
        OnnxJavaType ids = sig.inputType("input_ids", ID_TYPES);
        boolean inPlace = sig.hasInput("seqlens_k") && sig.hasInput("total_sequence_length");
        OnnxJavaType mask = null;
        if (inPlace) {
            sig.inputType("seqlens_k", Set.of(OnnxJavaType.INT32));
            sig.inputType("total_sequence_length", Set.of(OnnxJavaType.INT32));
            if (!sig.hasInput("position_ids") || !sig.hasInput(GatherRewrite.INPUT)) {
                throw new ModelLoadException(sig.file(), "an in-place KV graph (seqlens_k, total_sequence_length) "
                        + "needs inputs 'position_ids' and '" + GatherRewrite.INPUT + "'; inputs are " + sig.inputs().keySet());
            }
        } else {
            mask = sig.inputType("attention_mask", MASK_TYPES);
        }
        boolean positions = sig.hasInput("position_ids");
        if (positions) {
            sig.inputType("position_ids", ID_TYPES);
        }
        TensorInfo logits = sig.output("logits");
        if (!FLOAT_TYPES.contains(logits.type)) {
            throw new ModelLoadException(sig.file(), "output 'logits' has element type " + logits.type + "; expected float or float16");
        }
        long[] logitsShape = logits.getShape();
        int vocab = (int) logitsShape[logitsShape.length - 1];

        List<String> past = new ArrayList<>();
        List<String> present = new ArrayList<>();
        String layout;
        int outer;
        if (sig.hasInput("past_key_values.0.key")) {
            layout = inPlace ? IN_PLACE_KV : OPTIMUM;
            outer = 1;
            for (int i = 0; sig.hasInput("past_key_values." + i + ".key"); i++) {
                past.add("past_key_values." + i + ".key");
                past.add("past_key_values." + i + ".value");
                present.add("present." + i + ".key");
                present.add("present." + i + ".value");
            }
        } else if (!inPlace && sig.hasInput("past_0")) {
            layout = ORT_GPT2;
            outer = 2;
            for (int i = 0; sig.hasInput("past_" + i); i++) {
                past.add("past_" + i);
                present.add("present_" + i);
            }
        } else {
            throw new ModelLoadException(sig.file(), "no KV-cache inputs: expected 'past_key_values.{i}.key|value' "
                    + "(Hugging Face Optimum) or 'past_{i}' (ONNX Runtime GPT-2); inputs are " + sig.inputs().keySet());
        }
        OnnxJavaType kv = sig.inputType(past.getFirst(), FLOAT_TYPES);
        long[] shape = sig.input(past.getFirst()).getShape();
        int rank = outer == 1 ? 4 : 5;
        if (shape.length != rank) {
            throw new ModelLoadException(sig.file(), "input '" + past.getFirst() + "' has rank " + shape.length + "; expected " + rank);
        }
        for (int i = 0; i < past.size(); i++) {
            sig.inputType(past.get(i), Set.of(kv));
            sig.output(present.get(i));
        }
        int heads = (int) shape[rank - 3];
        int headDim = (int) shape[rank - 1];
        if (heads <= 0) {
            heads = configHeads;
        }
        if (heads <= 0 || headDim <= 0) {
            throw new ModelLoadException(sig.file(), "input '" + past.getFirst() + "' leaves heads or head_dim symbolic "
                    + java.util.Arrays.toString(shape) + " and config.json gives no n_head");
        }
        int layers = outer == 1 ? past.size() / 2 : past.size();
        return new Gpt2Graph(layout, layers, heads, headDim, outer, ids, mask, kv, logits.type, positions,
                sig.hasInput("use_cache_branch"), vocab, List.copyOf(past), List.copyOf(present),
                sig.hasInput(GatherRewrite.INPUT), inPlace);
    }
}
