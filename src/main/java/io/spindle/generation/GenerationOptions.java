package io.spindle.generation;

/**
 * The less common knobs of a generation request, grouped so that {@link GenerationRequest} stays
 * readable; {@link #NONE} leaves every one off.
 *
 * @param minP           0 disables; see {@code SamplingParams}
 * @param typicalP       1 disables (TGI's {@code typical_p})
 * @param minTokens      nothing ends the output before this many tokens: EOS and the stop token ids
 *                       are held back, and stop strings are looked for only after them
 * @param truncate       keep only the last this many prompt tokens (TGI's {@code truncate}); null keeps all
 * @param topLogprobs    with logprobs on: also the this-many most likely tokens at each position (0–20)
 * @param promptLogprobs with logprobs on: score the prompt's tokens too (OpenAI's {@code echo} with
 *                       {@code logprobs}, TGI's {@code decoder_input_details}); max tokens may then be 0
 * @param samples        samples of the prompt, sharing its prefill (OpenAI's {@code n}, or {@code best_of})
 * @param scoreSamples   compute each token's log-probability even when logprobs are off, to rank
 *                       samples by cumulative log-probability ({@code best_of})
 * @param constraint what the output must match (response_format, guided_*, TGI grammar); null for none
 */
public record GenerationOptions(double minP, double typicalP, int minTokens, Integer truncate, int topLogprobs,
                                boolean promptLogprobs, int samples, boolean scoreSamples, OutputConstraint constraint) {
    public static final GenerationOptions NONE = new GenerationOptions(0, 1, 0, null, 0, false, 1, false, null);

    public GenerationOptions(double minP, double typicalP, int minTokens, Integer truncate, int topLogprobs,
                             boolean promptLogprobs, int samples, boolean scoreSamples) {
        this(minP, typicalP, minTokens, truncate, topLogprobs, promptLogprobs, samples, scoreSamples, null);
    }

    public GenerationOptions(double minP, double typicalP, int minTokens, Integer truncate, int topLogprobs,
                             boolean promptLogprobs) {
        this(minP, typicalP, minTokens, truncate, topLogprobs, promptLogprobs, 1, false);
    }

    public GenerationOptions withSamples(int n, boolean score) {
        return new GenerationOptions(minP, typicalP, minTokens, truncate, topLogprobs, promptLogprobs, n, score, constraint);
    }

    /** The same options with the output held to {@code c} (null: unconstrained). */
    public GenerationOptions withConstraint(OutputConstraint c) {
        return new GenerationOptions(minP, typicalP, minTokens, truncate, topLogprobs, promptLogprobs, samples,
                scoreSamples, c);
    }
}
