package io.spindle.engine.request;

/** Why a sequence left the engine. Stop strings are detected on text, above the engine, and end it by abort. */
public enum FinishReason {
    /** A stop token (EOS from the model's config, or a request's stop token id) was generated. */
    STOP_TOKEN,
    /** max new tokens, or the model's context, was reached. */
    LENGTH,
    /** The client went away or asked to stop, or a stop string matched above the engine. */
    CANCELLED
}
