package io.spindle.metrics;

import io.vertx.ext.web.Router;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;

/**
 * Every scrape gets Prometheus's text format 0.0.4, whatever it asks for. Quarkus's Micrometer
 * endpoint answered a {@code *}{@code /*} request (curl, an operator's
 * {@code curl /q/metrics | promtool check metrics}) with OpenMetrics, whose counter HELP lines name
 * the family without {@code _total} and escape quotes, so promtool failed on a plain
 * {@code java -jar} while our test scrape, which asked for text, passed; and it answered an explicit
 * {@code application/openmetrics-text; version=1.0.0} with 406. Prometheus itself lists text 0.0.4
 * among the formats it accepts and parses it fully.
 */
@ApplicationScoped
public class ScrapeFormat {
    static final String TEXT_004 = "text/plain; version=0.0.4; charset=utf-8";

    void install(@Observes Router router) {
        router.route("/q/metrics").order(Integer.MIN_VALUE + 2).handler(ctx -> {
            ctx.request().headers().set("Accept", TEXT_004);
            ctx.next();
        });
    }
}
