package io.spindle.generation;

import java.util.List;

/**
 * A transport-neutral generation request, as every API maps it.
 *
 * @param maxNewTokens   null means the API's default
 * @param seed           null means a fresh random seed (reported back where the API has a field)
 * @param stopTokenIds   extra token ids that end generation, besides the model's EOS
 * @param ignoreEos      keep generating past EOS (for benchmarks that need a fixed length)
 * @param logprobs       token events carry log-probabilities (they cost a pass over the vocabulary
 *                       per greedy token, so only when the API returns them)
 * @param logitBias      token id → bias added to its logit, or null
 * @param options        the less common knobs; never null
 */
public record GenerationRequest(String model, Prompt prompt, Integer maxNewTokens, Double temperature, Integer topK,
                                Double topP, Double repetitionPenalty, Double presencePenalty,
                                Double frequencyPenalty, Long seed, List<String> stop, List<Integer> stopTokenIds,
                                boolean ignoreEos, boolean logprobs, java.util.Map<Integer, Double> logitBias,
                                GenerationOptions options) {

    public GenerationRequest {
        options = options == null ? GenerationOptions.NONE : options;
    }

    public GenerationRequest(String model, Prompt prompt, Integer maxNewTokens, Double temperature, Integer topK,
                             Double topP, Double repetitionPenalty, Double presencePenalty, Double frequencyPenalty,
                             Long seed, List<String> stop, List<Integer> stopTokenIds, boolean ignoreEos,
                             boolean logprobs, java.util.Map<Integer, Double> logitBias) {
        this(model, prompt, maxNewTokens, temperature, topK, topP, repetitionPenalty, presencePenalty,
                frequencyPenalty, seed, stop, stopTokenIds, ignoreEos, logprobs, logitBias, GenerationOptions.NONE);
    }

    /** The same request with other options. */
    public GenerationRequest with(GenerationOptions o) {
        return new GenerationRequest(model, prompt, maxNewTokens, temperature, topK, topP, repetitionPenalty,
                presencePenalty, frequencyPenalty, seed, stop, stopTokenIds, ignoreEos, logprobs, logitBias, o);
    }

    public GenerationRequest(String model, Prompt prompt, Integer maxNewTokens, Double temperature, Integer topK,
                             Double topP, Double repetitionPenalty, Double presencePenalty, Double frequencyPenalty,
                             Long seed, List<String> stop, List<Integer> stopTokenIds, boolean ignoreEos,
                             boolean logprobs) {
        this(model, prompt, maxNewTokens, temperature, topK, topP, repetitionPenalty, presencePenalty,
                frequencyPenalty, seed, stop, stopTokenIds, ignoreEos, logprobs, null);
    }
}
