package io.spindle.app;

import io.quarkus.vertx.http.HttpServerOptionsCustomizer;
import io.vertx.core.http.HttpServerOptions;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;

/**
 * Sets the HTTP server's socket send buffer when {@code spindle.api.socket-send-buffer} is given.
 * Unset, the kernel sizes it (Linux grows it up to {@code net.ipv4.tcp_wmem}'s maximum, 4 MiB by
 * default), so a client that stops reading can make each of its connections hold that much kernel
 * memory before {@code spindle.api.max-buffered-events} even starts counting.
 */
@ApplicationScoped
public class SocketBuffers implements HttpServerOptionsCustomizer {
    @Inject
    SpindleConfig config;

    @Override
    public void customizeHttpServer(HttpServerOptions options) {
        config.api().socketSendBuffer().ifPresent(size -> options.setSendBufferSize((int) size.asLongValue()));
    }
}
