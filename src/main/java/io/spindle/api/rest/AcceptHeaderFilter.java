package io.spindle.api.rest;

import jakarta.ws.rs.container.ContainerRequestContext;
import jakarta.ws.rs.core.HttpHeaders;
import org.jboss.resteasy.reactive.server.ServerRequestFilter;

/**
 * Spindle's endpoints each answer in one shape, chosen by the body ({@code stream}) and not by
 * content negotiation, and declare {@code text/plain} to Quarkus so that it writes each SSE frame as
 * it is (docs/decisions/0001-sse-framing.md). Real clients send every kind of Accept header: the
 * OpenAI Node and Python SDKs send {@code application/json} even when they stream, SSE clients
 * {@code text/event-stream}, others lists with q-values or nothing. Negotiation would turn those into
 * 406s, so it is switched off for every JAX-RS request; OpenAI's own server behaves the same way.
 * (Vert.x routes such as {@code /q/metrics} never pass here and keep their own negotiation.)
 */
public class AcceptHeaderFilter {
    @ServerRequestFilter(preMatching = true)
    public void ignoreAccept(ContainerRequestContext request) {
        if (request.getHeaderString(HttpHeaders.ACCEPT) != null) {
            request.getHeaders().putSingle(HttpHeaders.ACCEPT, "*/*");
        }
    }
}
