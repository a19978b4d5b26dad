/**
 * The engine: one thread per model runs schedule → execute → update. {@link io.spindle.engine.EngineClient}
 * is how the rest of Spindle submits and aborts. Token ids only; no text or JSON enters here.
 * Plain Java; depends on {@code engine.request}, {@code engine.sched}, {@code engine.exec},
 * {@code kvcache} and {@code sampling}.
 */
package io.spindle.engine;
