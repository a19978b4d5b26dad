package io.spindle.generation;

import io.spindle.engine.request.ErrorKind;
import io.spindle.engine.request.SpindleException;

import java.util.Collection;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentSkipListMap;

/** The models this server serves, and those it could not load (with why). Thread-safe. */
public final class ModelRegistry {
    private final Map<String, ServedModel> models = new ConcurrentSkipListMap<>();
    private final Map<String, String> failures = new ConcurrentHashMap<>();

    public void add(ServedModel model) {
        models.put(model.id(), model);
        failures.remove(model.id());
    }

    public void addFailure(String modelId, String reason) {
        failures.put(modelId, reason);
    }

    /**
     * Text-generation models first, then encoders, each by id: front ends that open on the first
     * listed model (Spindle's playground among them) should open on one they can chat with.
     */
    public Collection<ServedModel> all() {
        return models.values().stream()
                .sorted(java.util.Comparator.comparing((ServedModel m) -> m.engine() == null).thenComparing(ServedModel::id))
                .toList();
    }

    /** The model a single-model API (TGI, vLLM's /tokenize) means when none is named: the first generator. */
    public ServedModel defaultGenerator() {
        return all().stream().filter(m -> m.engine() != null).findFirst()
                .orElseThrow(() -> SpindleException.invalid("model", "no text-generation model is loaded yet"));
    }

    public Map<String, String> failures() {
        return Map.copyOf(failures);
    }

    public boolean isServed(String id) {
        return id != null && models.containsKey(id);
    }

    public ServedModel require(String id) {
        if (id == null || id.isBlank()) {
            throw SpindleException.invalid("model", "'model' is required; served models: " + models.keySet());
        }
        ServedModel m = models.get(id);
        if (m == null) {
            String why = failures.get(id);
            throw new SpindleException(ErrorKind.NOT_FOUND, why != null
                    ? "model '" + id + "' failed to load: " + why
                    : "model '" + id + "' does not exist; served models: " + models.keySet(), "model");
        }
        return m;
    }
}
