package io.spindle.engine.request;

import io.spindle.sampling.SamplingParams;
import io.spindle.sampling.constraint.CompiledConstraint;

/**
 * What the engine needs to run one sequence: token ids and limits, never text.
 *
 * @param stopTokenIds token ids that end the sequence when generated (the model's EOS ids plus the
 *                     request's own), already merged by the caller
 * @param numLogprobs  -1: token events carry no log-probabilities (NaN); 0: the chosen token's;
 *                     k &gt; 0: also the k most likely tokens at each position
 * @param promptLogprobs the log-probability of every prompt token but the first (and the top
 *                     {@code numLogprobs} at each position) is reported once the prompt is in;
 *                     then {@code maxNewTokens} may be 0 (score the prompt, generate nothing)
 * @param minNewTokens the stop tokens cannot be generated before this many tokens
 * @param constraint   what the output must match (regex, choice, JSON Schema, JSON object), enforced
 *                     token by token; null for none
 */
public record EngineRequest(String requestId, int[] promptTokens, SamplingParams sampling, int maxNewTokens,
                            int[] stopTokenIds, int numLogprobs, boolean promptLogprobs, int minNewTokens,
                            CompiledConstraint constraint) {
    /** An unconstrained request. */
    public EngineRequest(String requestId, int[] promptTokens, SamplingParams sampling, int maxNewTokens,
                         int[] stopTokenIds, int numLogprobs, boolean promptLogprobs, int minNewTokens) {
        this(requestId, promptTokens, sampling, maxNewTokens, stopTokenIds, numLogprobs, promptLogprobs, minNewTokens,
                null);
    }

    public EngineRequest {
        if (promptTokens.length == 0) {
            throw new IllegalArgumentException("a request needs at least one prompt token");
        }
        if (maxNewTokens < (promptLogprobs ? 0 : 1)) {
            throw new IllegalArgumentException("maxNewTokens must be >= 1 (>= 0 when scoring the prompt)");
        }
        if (numLogprobs < -1 || (promptLogprobs && numLogprobs < 0)) {
            throw new IllegalArgumentException("numLogprobs must be >= -1, and >= 0 with prompt log-probabilities");
        }
    }

    public EngineRequest(String requestId, int[] promptTokens, SamplingParams sampling, int maxNewTokens,
                         int[] stopTokenIds, boolean logprobs) {
        this(requestId, promptTokens, sampling, maxNewTokens, stopTokenIds, logprobs ? 0 : -1, false, 0);
    }

    public boolean logprobs() {
        return numLogprobs >= 0;
    }

    public boolean isStopToken(int tokenId) {
        for (int t : stopTokenIds) {
            if (t == tokenId) {
                return true;
            }
        }
        return false;
    }
}
