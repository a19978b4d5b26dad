package io.spindle.api.rest;

import io.quarkus.runtime.configuration.MemorySize;
import io.spindle.api.error.ApiDialect;
import io.spindle.api.error.ApiError;
import io.spindle.engine.request.SpindleException;
import io.vertx.ext.web.Router;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import org.eclipse.microprofile.config.inject.ConfigProperty;

/**
 * A request whose declared body is larger than {@code quarkus.http.limits.max-body-size} gets a 413
 * in its API's error format at once, before the body is read (the HTTP layer's own answer to an
 * oversized body is an empty 413). Bodies without a Content-Length are still capped by that limit.
 */
@ApplicationScoped
public class BodyLimit {
    @ConfigProperty(name = "quarkus.http.limits.max-body-size")
    MemorySize limit;

    void install(@Observes Router router) {
        long max = limit.asLongValue();
        router.route().order(Integer.MIN_VALUE).handler(ctx -> {
            String declared = ctx.request().getHeader("Content-Length");
            long length = -1;
            try {
                length = declared == null ? -1 : Long.parseLong(declared.trim());
            } catch (NumberFormatException ignored) {
                // left to the HTTP layer
            }
            if (length <= max) {
                ctx.next();
                return;
            }
            SpindleException e = SpindleException.invalid(null, "the request body is " + length
                    + " bytes; this server accepts at most " + max + " (quarkus.http.limits.max-body-size)");
            ctx.response().setStatusCode(413).putHeader("Content-Type", "application/json")
                    .putHeader("Connection", "close")
                    .end(Json.write(ApiError.body(ApiDialect.forPath(ctx.request().path()), e)));
        });
    }
}
