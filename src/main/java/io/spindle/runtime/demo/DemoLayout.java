package io.spindle.runtime.demo;

import java.util.Locale;

/** Which exporter's graph signature the demo builder imitates, or which of Spindle's own serving forms it writes. */
public enum DemoLayout {
    /** Hugging Face Optimum: int64 ids, {@code past_key_values.{i}.key|value} [batch, heads, past, head_dim]. */
    OPTIMUM("optimum"),
    /** ONNX Runtime's GPT-2 export: int32 ids and mask, {@code past_{i}} [2, batch, heads, past, head_dim]. */
    ORT_GPT2("ort-gpt2"),
    /** Optimum's older split export: {@code decoder_model.onnx} (no past) + {@code decoder_with_past_model.onnx}. */
    OPTIMUM_SPLIT("optimum-split"),
    /**
     * ONNX Runtime's GPT-2 layout as its transformer optimizer writes it: fused contrib ops
     * ({@code EmbedLayerNormalization}, {@code Attention} with past, {@code SkipLayerNormalization},
     * {@code FastGelu}) instead of plain ones; the same weights as the other layouts for a seed.
     */
    ORT_FUSED("ort-gpt2-fused"),
    /**
     * The same fused graph as ONNX Runtime's tooling writes it without {@code --use_int32_inputs}:
     * int64 ids, positions and mask, cast to int32 in the graph for the contrib ops.
     */
    ORT_FUSED_INT64("ort-gpt2-fused-int64"),
    /**
     * Spindle's in-place KV form (issue 17, {@link Gpt2GraphBuilder#inPlaceKv}): each block's
     * attention is ONNX Runtime's {@code GroupQueryAttention} over a cache [slots, heads, max_len,
     * head_dim] that stays where it is, inputs {@code seqlens_k} and {@code total_sequence_length}
     * instead of an attention mask; served by the in-place runner. The same weights as the other
     * layouts for a seed; it always computes logits only where asked.
     */
    IN_PLACE_KV("in-place-kv");

    private final String id;

    DemoLayout(String id) {
        this.id = id;
    }

    public String id() {
        return id;
    }

    public static DemoLayout parse(String value) {
        for (DemoLayout l : values()) {
            if (l.id.equals(value.trim().toLowerCase(Locale.ROOT))) {
                return l;
            }
        }
        throw new IllegalArgumentException("unknown demo layout '" + value + "' (expected optimum, ort-gpt2, optimum-split, ort-gpt2-fused, ort-gpt2-fused-int64 or in-place-kv)");
    }
}
