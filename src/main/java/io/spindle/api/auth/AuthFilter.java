package io.spindle.api.auth;

import io.spindle.api.error.ApiDialect;
import io.spindle.api.rest.Json;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.ext.web.Router;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Inject;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * When API keys are configured, every request to {@code /v1/*}, {@code /generate},
 * {@code /generate_stream}, TGI's {@code POST /}, {@code /tokenize} and {@code /detokenize} (the
 * WebSocket upgrade of {@code /v1/ws} included) must carry one, as
 * {@code Authorization: Bearer KEY}, or for WebSocket clients that cannot set headers (browsers) as
 * the query parameter {@code api_key}. Otherwise: 401 in the API's error format, before the body is
 * read. Health ({@code /q/health}, {@code /health}), metrics ({@code /q/metrics}, {@code /metrics}),
 * {@code /version}, TGI's {@code /info}, the playground page and CORS preflights stay open.
 */
@ApplicationScoped
public class AuthFilter {
    @Inject
    ApiKeys keys;

    void install(@Observes Router router) {
        if (!keys.enabled()) {
            return;
        }
        router.route().order(Integer.MIN_VALUE + 1).handler(ctx -> {
            HttpServerRequest req = ctx.request();
            if (!protectedPath(req) || isCorsPreflight(req) || keys.accepts(presented(req))) {
                ctx.next();
                return;
            }
            ctx.response().setStatusCode(401).putHeader("Content-Type", "application/json")
                    .putHeader("WWW-Authenticate", "Bearer").end(Json.write(body(req.path())));
        });
    }

    /**
     * A browser's CORS preflight never carries credentials; it is answered by the CORS handler
     * (when quarkus.http.cors is enabled) and grants nothing by itself, the real request still
     * needs its key.
     */
    private static boolean isCorsPreflight(HttpServerRequest req) {
        return req.method() == io.vertx.core.http.HttpMethod.OPTIONS && req.getHeader("Origin") != null
                && req.getHeader("Access-Control-Request-Method") != null;
    }

    /** The API: everything that runs a model or reads a tokenizer (TGI's {@code POST /} included, not the page at {@code GET /}). */
    static boolean protectedPath(HttpServerRequest req) {
        String path = req.path();
        return path.startsWith("/v1/") || path.equals("/generate") || path.equals("/generate_stream")
                || path.equals("/tokenize") || path.equals("/detokenize")
                || (path.equals("/") && req.method() == io.vertx.core.http.HttpMethod.POST);
    }

    private static String presented(HttpServerRequest req) {
        String auth = req.getHeader("Authorization");
        if (auth != null && auth.regionMatches(true, 0, "Bearer ", 0, 7)) {
            return auth.substring(7).strip();
        }
        return req.path().equals("/v1/ws") ? req.getParam("api_key") : null;
    }

    private static Object body(String path) {
        String message = "a valid API key is required: send 'Authorization: Bearer <key>'"
                + (path.equals("/v1/ws") ? " or the query parameter api_key" : "");
        Map<String, Object> body = new LinkedHashMap<>();
        if (ApiDialect.forPath(path) == ApiDialect.TGI) {
            body.put("error", message);
            body.put("error_type", "authentication");
            return body;
        }
        Map<String, Object> error = new LinkedHashMap<>();
        error.put("message", message);
        error.put("type", "invalid_request_error");
        error.put("param", null);
        error.put("code", "invalid_api_key");
        body.put("error", error);
        return body;
    }
}
