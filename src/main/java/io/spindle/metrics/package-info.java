/**
 * Spindle's Prometheus metrics: every name in {@link io.spindle.metrics.MetricNames}, meters built
 * with Micrometer from what the engine and the generation layer report
 * ({@link io.spindle.engine.EngineObserver}, {@link io.spindle.generation.RequestObserver}) and from
 * {@link io.spindle.engine.EngineStats} for gauges. Reads engine and generation; nothing depends on it
 * except {@code app}, which wires it.
 */
package io.spindle.metrics;
