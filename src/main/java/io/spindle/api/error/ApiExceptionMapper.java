package io.spindle.api.error;

import io.vertx.core.http.HttpServerRequest;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import org.jboss.resteasy.reactive.server.ServerExceptionMapper;

/** Maps every exception a REST resource throws to its API's error format and status. */
public class ApiExceptionMapper {
    @ServerExceptionMapper(Throwable.class)
    public Response map(Throwable t, HttpServerRequest request) {
        var e = ApiError.classify(t);
        ApiDialect dialect = ApiDialect.forPath(request.path());
        // The HTTP layer's own client errors (405 wrong method, 415, ...) keep their status.
        int status = t instanceof jakarta.ws.rs.WebApplicationException w && w.getResponse().getStatus() >= 400
                && w.getResponse().getStatus() < 500 ? w.getResponse().getStatus() : ApiError.status(dialect, e);
        Response.ResponseBuilder r = Response.status(status)
                .type(MediaType.APPLICATION_JSON)
                .entity(ApiError.body(dialect, e));
        if (ApiError.hasRetryAfter(e.kind())) {
            r.header("Retry-After", ApiError.retryAfter(e));
        }
        return r.build();
    }
}
