/**
 * Which sequences run in the next forward pass: admission, the per-step token budget and the KV
 * budget. Plain Java; depends on {@code engine.request} and {@code kvcache}.
 */
package io.spindle.engine.sched;
