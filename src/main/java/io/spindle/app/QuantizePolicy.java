package io.spindle.app;

import io.spindle.runtime.onnx.quant.QuantizeSettings;

import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * Which quantization each model is loaded with: {@code spindle.models.quantize} for all of them,
 * {@code spindle.models.quantize-for."<id>"} for one. Every value is parsed when the policy is made,
 * so a bad one stops loading before any model, with an error naming its key.
 */
final class QuantizePolicy {
    static final String KEY = "spindle.models.quantize";
    static final String PER_MODEL_KEY = "spindle.models.quantize-for";

    private final QuantizeSettings global;
    private final Map<String, QuantizeSettings> perModel = new TreeMap<>();
    private final Set<String> asked = new TreeSet<>();

    QuantizePolicy(String global, Map<String, String> perModel) {
        this.global = QuantizeSettings.parse(KEY, global);
        for (Map.Entry<String, String> e : perModel.entrySet()) {
            this.perModel.put(e.getKey(), QuantizeSettings.parse(PER_MODEL_KEY + ".\"" + e.getKey() + "\"", e.getValue()));
        }
    }

    static QuantizePolicy none() {
        return new QuantizePolicy("none", Map.of());
    }

    QuantizeSettings settings(String id) {
        synchronized (asked) {
            asked.add(id);
        }
        return perModel.getOrDefault(id, global);
    }

    /** Per-model keys naming models that were never loaded (a typo would otherwise do nothing, silently). */
    Set<String> unmatched() {
        Set<String> out = new TreeSet<>(perModel.keySet());
        synchronized (asked) {
            out.removeAll(asked);
        }
        return out;
    }
}
