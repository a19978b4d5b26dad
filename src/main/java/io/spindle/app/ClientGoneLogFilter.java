package io.spindle.app;

import io.quarkus.logging.LoggingFilter;

import java.util.logging.Filter;
import java.util.logging.LogRecord;

/**
 * Quarkus REST logs at ERROR, with a stack trace, whenever it cannot write an SSE event because the
 * client has gone ("impossible to send it to client": broken pipe, closed channel). A client that
 * disconnects is not a server fault: Spindle cancels its sequence and counts it
 * ({@code spindle_requests_total{outcome="cancelled"}}), so these records are dropped. Any other
 * record of that handler is kept.
 */
@LoggingFilter(name = "client-gone")
public final class ClientGoneLogFilter implements Filter {
    private static final String HANDLER = "org.jboss.resteasy.reactive.server.handlers.PublisherResponseHandler";

    @Override
    public boolean isLoggable(LogRecord record) {
        if (!HANDLER.equals(record.getLoggerName())) {
            return true;
        }
        String message = record.getMessage();
        return message == null || !message.contains("impossible to send it to client") || !clientGone(record.getThrown());
    }

    private static boolean clientGone(Throwable t) {
        for (Throwable c = t; c != null; c = c.getCause()) {
            if (c instanceof java.io.IOException || c.getClass().getName().contains("ClosedChannelException")) {
                return true;
            }
        }
        return false;
    }
}
