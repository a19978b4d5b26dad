/**
 * Pure functions over logits: greedy, temperature, top-k, top-p, repetition/presence/frequency
 * penalties and seeded randomness. Plain Java; depends on nothing else in Spindle.
 */
package io.spindle.sampling;
