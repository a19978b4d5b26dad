package io.spindle.api.rest;

import jakarta.ws.rs.container.ContainerRequestContext;
import jakarta.ws.rs.core.HttpHeaders;
import org.jboss.resteasy.reactive.server.ServerRequestFilter;

/**
 * Generation endpoints choose their response type from the body ({@code stream}), not from content
 * negotiation, and declare {@code text/plain} for Quarkus (docs/decisions/0001-sse-framing.md). A
 * client that says {@code Accept: text/event-stream} (as SSE clients do) would get a 406 from that
 * declaration; such requests are negotiated as {@code *}{@code /*} instead, and get the stream (or
 * the JSON answer) they asked for in the body.
 */
public class AcceptHeaderFilter {
    @ServerRequestFilter(preMatching = true)
    public void acceptEventStream(ContainerRequestContext request) {
        String accept = request.getHeaderString(HttpHeaders.ACCEPT);
        if (accept != null && accept.contains("text/event-stream") && "POST".equals(request.getMethod())) {
            request.getHeaders().putSingle(HttpHeaders.ACCEPT, "*/*");
        }
    }
}
