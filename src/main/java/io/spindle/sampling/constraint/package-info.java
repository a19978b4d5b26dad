/**
 * Constrained decoding: a regular expression, a choice among strings, a JSON Schema (subset) or any
 * JSON object, compiled once per (constraint, vocabulary) into a DFA over UTF-8 bytes plus a lazily
 * built token index, and a per-sequence {@link io.spindle.sampling.constraint.ConstraintState} that
 * yields the allowed token ids before each step and advances on the sampled one
 * (docs/decisions/0002-constrained-decoding.md). Plain Java: depends on dk.brics.automaton and
 * Jackson only; nothing else in Spindle.
 */
package io.spindle.sampling.constraint;
