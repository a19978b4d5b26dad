package io.spindle.api.rest;

import io.vertx.core.http.HttpMethod;
import io.vertx.ext.web.Router;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;

/**
 * The probe and scrape paths other servers use, so that platforms and clients configured for vLLM or
 * TGI find them: {@code GET /health} (200 when ready, 503 otherwise: {@code /q/health/ready}) and
 * {@code GET /metrics} (the same Prometheus scrape as {@code /q/metrics}, same negotiation).
 */
@ApplicationScoped
public class AliasRoutes {
    void install(@Observes Router router) {
        router.route(HttpMethod.GET, "/health").handler(ctx -> ctx.reroute("/q/health/ready"));
        router.route(HttpMethod.HEAD, "/health").handler(ctx -> ctx.reroute("/q/health/ready"));
        router.route(HttpMethod.GET, "/metrics").handler(ctx -> ctx.reroute("/q/metrics"));
    }
}
