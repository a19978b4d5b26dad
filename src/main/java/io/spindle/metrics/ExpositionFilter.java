package io.spindle.metrics;

import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.config.MeterFilter;
import io.micrometer.core.instrument.config.MeterFilterReply;

/**
 * Makes the meters that Micrometer, Vert.x and Netty register by themselves pass Prometheus's own
 * linter ({@code promtool check metrics}), so an operator's CI can lint Spindle's scrape as ours does:
 * <ul>
 *   <li>{@code process.cpu.time} is counted in nanoseconds ({@code process_cpu_time_ns_total}, an
 *       abbreviated, non-base unit); it is dropped for {@code process_cpu_seconds_total}, the name
 *       other Prometheus clients use ({@link SpindleMetrics} registers it);</li>
 *   <li>{@code system.cpu.count} is a gauge whose Prometheus name ends in {@code _count}, which reads
 *       as a histogram's series; it is exposed as {@code system_cpus};</li>
 *   <li>long task timers (Vert.x's open-connection timers) are exposed as a "summary" whose series
 *       ({@code _active_count}, {@code _duration_sum}) no summary may have; they are dropped (open
 *       requests remain visible as {@code http_server_active_requests});</li>
 *   <li>meters registered without a description get one, since a missing HELP line fails the lint;</li>
 *   <li>double quotes in a description become single quotes: the OpenMetrics format, which a scrape
 *       without an Accept header gets (curl, a plain {@code java -jar}), escapes them as {@code \"}
 *       in HELP lines, which Prometheus's text format and {@code promtool check metrics} reject
 *       (Micrometer's {@code process_cpu_usage} and {@code system_cpu_usage} have them).</li>
 * </ul>
 */
public final class ExpositionFilter implements MeterFilter {
    private static final String NANOSECOND_CPU_TIME = "process.cpu.time";
    private static final String CPU_COUNT = "system.cpu.count";
    static final String CPU_COUNT_RENAMED = "system.cpus";

    @Override
    public MeterFilterReply accept(Meter.Id id) {
        return id.getName().equals(NANOSECOND_CPU_TIME) || id.getType() == Meter.Type.LONG_TASK_TIMER
                ? MeterFilterReply.DENY : MeterFilterReply.NEUTRAL;
    }

    @Override
    public Meter.Id map(Meter.Id id) {
        String name = id.getName().equals(CPU_COUNT) ? CPU_COUNT_RENAMED : id.getName();
        String help = id.getDescription() == null || id.getDescription().isBlank()
                ? id.getName() + " (its instrumentation gives no description)" : id.getDescription().replace('"', '\'');
        if (name.equals(id.getName()) && help.equals(id.getDescription())) {
            return id;
        }
        return new Meter.Id(name, Tags.of(id.getTagsAsIterable()), id.getBaseUnit(), help, id.getType());
    }
}
