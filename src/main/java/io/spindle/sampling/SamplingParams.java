package io.spindle.sampling;

/**
 * How the next token is chosen from the logits. Validated on construction, so an engine never sees
 * an impossible value. A temperature of 0 means greedy decoding.
 *
 * @param topK               0 disables top-k
 * @param topP               in (0, 1]; 1 disables nucleus sampling
 * @param repetitionPenalty  Hugging Face/CTRL style, over prompt and generated tokens; 1 disables
 * @param presencePenalty    OpenAI style, over generated tokens, in [-2, 2]
 * @param frequencyPenalty   OpenAI style, over generated tokens, in [-2, 2]
 * @param seed               the random stream's seed; same seed and request give the same tokens
 * @param logitBias          added to chosen tokens' logits after the penalties
 * @param minP               in [0, 1]; tokens less likely than minP × the most likely one are cut
 *                           (after temperature); 0 disables
 * @param typicalP           in (0, 1]; locally typical sampling keeps the tokens whose surprise is
 *                           closest to the distribution's entropy, up to this mass; 1 disables
 */
public record SamplingParams(double temperature, int topK, double topP, double repetitionPenalty,
                             double presencePenalty, double frequencyPenalty, long seed, LogitBias logitBias,
                             double minP, double typicalP) {

    public SamplingParams(double temperature, int topK, double topP, double repetitionPenalty, double presencePenalty,
                          double frequencyPenalty, long seed) {
        this(temperature, topK, topP, repetitionPenalty, presencePenalty, frequencyPenalty, seed, LogitBias.NONE);
    }

    public SamplingParams(double temperature, int topK, double topP, double repetitionPenalty, double presencePenalty,
                          double frequencyPenalty, long seed, LogitBias logitBias) {
        this(temperature, topK, topP, repetitionPenalty, presencePenalty, frequencyPenalty, seed, logitBias, 0, 1);
    }

    public SamplingParams {
        check(Double.isFinite(temperature) && temperature >= 0, "temperature", "temperature must be a finite number >= 0");
        check(topK >= 0, "top_k", "top_k must be >= 0 (0 disables it)");
        check(topP > 0 && topP <= 1, "top_p", "top_p must be in (0, 1]");
        check(Double.isFinite(repetitionPenalty) && repetitionPenalty > 0, "repetition_penalty", "repetition_penalty must be > 0");
        check(presencePenalty >= -2 && presencePenalty <= 2, "presence_penalty", "presence_penalty must be in [-2, 2]");
        check(frequencyPenalty >= -2 && frequencyPenalty <= 2, "frequency_penalty", "frequency_penalty must be in [-2, 2]");
        check(minP >= 0 && minP <= 1, "min_p", "min_p must be in [0, 1] (0 disables it)");
        check(typicalP > 0 && typicalP <= 1, "typical_p", "typical_p must be in (0, 1] (1 disables it)");
    }

    public static SamplingParams greedy() {
        return new SamplingParams(0, 0, 1, 1, 0, 0, 0);
    }

    public boolean isGreedy() {
        return temperature == 0;
    }

    public boolean hasPenalties() {
        return repetitionPenalty != 1 || presencePenalty != 0 || frequencyPenalty != 0;
    }

    private static void check(boolean ok, String param, String message) {
        if (!ok) {
            throw new InvalidSamplingParameterException(param, message);
        }
    }
}
