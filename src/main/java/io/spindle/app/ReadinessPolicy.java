package io.spindle.app;

import io.spindle.generation.ModelRegistry;
import io.spindle.generation.ServedModel;

import java.util.List;

/**
 * When a server whose models were all tried is ready ({@code spindle.models.required}): every model
 * named there serves; with none named, at least one text-generation model serves. A model that
 * failed outside that set is reported, not fatal: the others keep serving.
 */
final class ReadinessPolicy {
    private ReadinessPolicy() {
    }

    /** Null when the policy holds, else why not, naming the models at fault and their errors. */
    static String unmet(List<String> required, ModelRegistry registry) {
        List<String> ids = required.stream().map(String::trim).filter(s -> !s.isEmpty()).toList();
        if (ids.isEmpty()) {
            boolean generates = registry.all().stream().anyMatch(m -> m.engine() != null);
            return generates ? null : "no text-generation model is serving (spindle.models.required is not set, "
                    + "so at least one is required); failed: " + registry.failures();
        }
        List<String> missing = ids.stream().filter(id -> !registry.isServed(id)).toList();
        if (missing.isEmpty()) {
            return null;
        }
        StringBuilder why = new StringBuilder("required model(s) not serving (spindle.models.required):");
        for (String id : missing) {
            String failure = registry.failures().get(id);
            why.append(' ').append(id).append(" (").append(failure != null ? "failed: " + failure : "not found").append(')');
        }
        why.append("; serving ").append(registry.all().stream().map(ServedModel::id).toList());
        return why.toString();
    }
}
