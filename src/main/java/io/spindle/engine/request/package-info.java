/**
 * Request-side state inside the engine: what a caller submits ({@link io.spindle.engine.request.EngineRequest})
 * and the engine's per-sequence bookkeeping. Plain Java; depends on {@code sampling} only.
 */
package io.spindle.engine.request;
