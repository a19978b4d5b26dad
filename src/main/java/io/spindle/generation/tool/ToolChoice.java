package io.spindle.generation.tool;

/** OpenAI's {@code tool_choice}. */
public sealed interface ToolChoice {
    /** Never call a tool: the model answers in text. */
    record None() implements ToolChoice {
    }

    /** The model decides between text and calls. */
    record Auto() implements ToolChoice {
    }

    /** At least one call, of any of the tools. */
    record Required() implements ToolChoice {
    }

    /** Exactly one call, of this function. */
    record Named(String name) implements ToolChoice {
    }
}
