package io.spindle.sampling;

/** A sampling parameter outside its domain; {@link #param()} names it as the API spells it. */
public final class InvalidSamplingParameterException extends IllegalArgumentException {
    private final String param;

    public InvalidSamplingParameterException(String param, String message) {
        super(message);
        this.param = param;
    }

    public String param() {
        return param;
    }
}
