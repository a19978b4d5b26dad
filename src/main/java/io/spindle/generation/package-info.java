/**
 * The generation use case: validation, tokenization and chat templates, submission to a model's
 * engine, and turning token events into UTF-8-safe text with stop strings, off the engine thread.
 * Depends on {@code engine}, {@code text}, {@code model}, {@code sampling} and Mutiny; never on
 * {@code runtime} or {@code api}.
 */
package io.spindle.generation;
