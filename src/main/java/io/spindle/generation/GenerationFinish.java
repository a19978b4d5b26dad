package io.spindle.generation;

/** Why a generation ended, in the terms the APIs distinguish. */
public enum GenerationFinish {
    /** The model's EOS token, or a request's stop token id. */
    EOS_TOKEN,
    /** One of the request's stop strings (not included in the text). */
    STOP_SEQUENCE,
    /** max new tokens or the model's context. */
    LENGTH,
    /** The client cancelled or went away. */
    CANCELLED
}
