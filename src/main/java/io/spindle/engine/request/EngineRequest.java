package io.spindle.engine.request;

import io.spindle.sampling.SamplingParams;

/**
 * What the engine needs to run one sequence: token ids and limits, never text.
 *
 * @param stopTokenIds token ids that end the sequence when generated (the model's EOS ids plus the
 *                     request's own), already merged by the caller
 * @param logprobs     whether token events must carry log-probabilities (NaN otherwise)
 */
public record EngineRequest(String requestId, int[] promptTokens, SamplingParams sampling, int maxNewTokens,
                            int[] stopTokenIds, boolean logprobs) {
    public EngineRequest {
        if (promptTokens.length == 0) {
            throw new IllegalArgumentException("a request needs at least one prompt token");
        }
        if (maxNewTokens < 1) {
            throw new IllegalArgumentException("maxNewTokens must be >= 1");
        }
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
