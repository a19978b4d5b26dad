/**
 * KV-cache accounting: the budget in tokens and who holds how much of it. The tensors themselves
 * live in the model runner. Plain Java; depends on nothing else in Spindle.
 */
package io.spindle.kvcache;
