package io.spindle.app;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.util.logging.Level;
import java.util.logging.LogRecord;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Only Quarkus REST's "client went away" records are dropped; everything else is logged. */
class ClientGoneLogFilterTest {
    private static final String HANDLER = "org.jboss.resteasy.reactive.server.handlers.PublisherResponseHandler";
    private final ClientGoneLogFilter filter = new ClientGoneLogFilter();

    private static LogRecord record(String logger, String message, Throwable t) {
        LogRecord r = new LogRecord(Level.SEVERE, message);
        r.setLoggerName(logger);
        r.setThrown(t);
        return r;
    }

    @Test
    void dropsOnlyWritesToAClientThatHasGone() {
        String msg = "Exception in SSE server handling, impossible to send it to client";
        assertFalse(filter.isLoggable(record(HANDLER, msg, new IOException("Broken pipe"))));
        assertFalse(filter.isLoggable(record(HANDLER, msg + " [Error Occurred After Shutdown]",
                new RuntimeException(new IOException("Connection reset")))));
        assertTrue(filter.isLoggable(record(HANDLER, msg, new IllegalStateException("a real bug"))));
        assertTrue(filter.isLoggable(record(HANDLER, "something else", new IOException("x"))));
        assertTrue(filter.isLoggable(record("io.spindle.engine.Engine", msg, new IOException("x"))));
    }
}
