package io.spindle.runtime.family.t5;

import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.TensorInfo;
import io.spindle.runtime.onnx.GraphSignature;
import io.spindle.runtime.onnx.ModelLoadException;

import java.util.Set;

/**
 * What the runner needs to know about a T5-family export, recognised from the encoder's and the
 * decoder's inputs and outputs.
 *
 * @param merged true for {@code decoder_model_merged.onnx} (one graph, {@code use_cache_branch})
 */
public record T5Graph(int numLayers, int numHeads, int dKv, int dModel, int vocabSize, boolean merged) {
    private static final Set<OnnxJavaType> INT64 = Set.of(OnnxJavaType.INT64);
    private static final Set<OnnxJavaType> FLOAT = Set.of(OnnxJavaType.FLOAT);

    /** Cache bytes per token of one sequence, over all layers, keys and values: the same for the decoder's own
     * positions and for each encoder position the cross-attention keeps. */
    public long kvBytesPerToken() {
        return 2L * numLayers * numHeads * dKv * Float.BYTES;
    }

    public String layoutName() {
        return merged ? "optimum-merged" : "optimum-split";
    }

    static String past(int layer, String part) {
        return "past_key_values." + layer + "." + part;
    }

    static String present(int layer, String part) {
        return "present." + layer + "." + part;
    }

    /**
     * @param withPast  the decoder graph that takes past keys and values (the merged one, or decoder_with_past)
     * @param noPast    the split export's first-step decoder, or null for a merged export
     */
    static T5Graph recognise(GraphSignature encoder, GraphSignature withPast, GraphSignature noPast,
                             int configHeads, int configDKv) throws ModelLoadException {
        encoder.inputType("input_ids", INT64);
        encoder.inputType("attention_mask", INT64);
        TensorInfo hidden = encoder.output("last_hidden_state");
        long[] hs = hidden.getShape();
        if (hidden.type != OnnxJavaType.FLOAT || hs.length != 3) {
            throw new ModelLoadException(encoder.file(), "output 'last_hidden_state' must be float [batch, length, d_model], is "
                    + hidden.type + " " + java.util.Arrays.toString(hs));
        }
        boolean merged = noPast == null;
        withPast.inputType("input_ids", INT64);
        withPast.inputType("encoder_attention_mask", INT64);
        if (merged) {
            withPast.inputType("encoder_hidden_states", FLOAT);
            if (!withPast.hasInput("use_cache_branch")) {
                throw new ModelLoadException(withPast.file(), "a merged decoder needs the input 'use_cache_branch'");
            }
        } else {
            noPast.inputType("input_ids", INT64);
            noPast.inputType("encoder_attention_mask", INT64);
            noPast.inputType("encoder_hidden_states", FLOAT);
            noPast.output("logits");
        }
        int layers = 0;
        while (withPast.hasInput(past(layers, "decoder.key"))) {
            layers++;
        }
        if (layers == 0) {
            throw new ModelLoadException(withPast.file(), "no 'past_key_values.{i}.decoder.key' inputs: not a seq2seq "
                    + "decoder with past (inputs are " + withPast.inputs().keySet() + ")");
        }
        for (int i = 0; i < layers; i++) {
            for (String part : new String[] {"decoder.key", "decoder.value", "encoder.key", "encoder.value"}) {
                withPast.inputType(past(i, part), FLOAT);
                GraphSignature firstStep = merged ? withPast : noPast;
                firstStep.output(present(i, part));
            }
            withPast.output(present(i, "decoder.key"));
            withPast.output(present(i, "decoder.value"));
        }
        long[] kv = withPast.input(past(0, "decoder.key")).getShape();
        int heads = kv.length == 4 && kv[1] > 0 ? (int) kv[1] : configHeads;
        int dKv = kv.length == 4 && kv[3] > 0 ? (int) kv[3] : configDKv;
        TensorInfo logits = withPast.output("logits");
        if (logits.type != OnnxJavaType.FLOAT) {
            throw new ModelLoadException(withPast.file(), "output 'logits' has element type " + logits.type + "; expected float");
        }
        long[] ls = logits.getShape();
        int vocab = (int) ls[ls.length - 1];
        int dModel = (int) hs[2];
        if (heads <= 0 || dKv <= 0 || vocab <= 0 || dModel <= 0) {
            throw new ModelLoadException(withPast.file(), "heads, d_kv, d_model or the vocabulary are symbolic in the "
                    + "graph and config.json does not give them");
        }
        return new T5Graph(layers, heads, dKv, dModel, vocab, merged);
    }
}
