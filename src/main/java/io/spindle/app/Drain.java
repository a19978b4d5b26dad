package io.spindle.app;

import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import io.spindle.engine.request.SpindleException;
import io.spindle.generation.GenerationService;
import jakarta.annotation.Priority;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Inject;
import jakarta.interceptor.Interceptor;
import org.jboss.logging.Logger;
import sun.misc.Signal;
import sun.misc.SignalHandler;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.IntSupplier;

/**
 * Graceful shutdown. On SIGTERM, while the HTTP server still serves: readiness goes DOWN and new
 * generation requests get 503 with Retry-After; generations in flight run on for up to
 * {@code spindle.shutdown.drain-timeout}; any still open then end with an explicit error event (never
 * a cut connection); then the JVM's own SIGTERM handling exits and Quarkus shuts down.
 * <p>
 * The drain has to run before Quarkus's shutdown begins: by the time Quarkus fires its
 * {@link ShutdownEvent}, the HTTP server has already closed open connections. Hence a SIGTERM handler
 * of our own, which hands over to the previous one afterwards; a second SIGTERM exits at once. Any
 * other way of stopping (System.exit, Quarkus.asyncExit) still ends open generations with an error
 * event from the ShutdownEvent observer, as far as the closing server lets them through.
 */
@ApplicationScoped
public class Drain {
    private static final Logger LOG = Logger.getLogger(Drain.class);
    private static final int SIGTERM_EXIT_CODE = 128 + 15;
    private final AtomicBoolean started = new AtomicBoolean();
    /** How long aborted streams get to reach their clients before the server closes. */
    private static final Duration FLUSH = Duration.ofSeconds(5);

    @Inject
    GenerationService service;
    @Inject
    ModelBootstrap bootstrap;
    @Inject
    SpindleConfig config;

    void onStart(@Observes StartupEvent event) {
        try {
            SignalHandler[] previous = new SignalHandler[1];
            previous[0] = Signal.handle(new Signal("TERM"), sig -> {
                if (!started.compareAndSet(false, true)) {
                    LOG.warn("second SIGTERM while draining: exiting now");
                    handOver(previous[0], sig);
                    return;
                }
                Thread.ofPlatform().name("spindle-drain").start(() -> {
                    drain();
                    handOver(previous[0], sig);
                });
            });
        } catch (IllegalArgumentException | UnsupportedOperationException e) {
            LOG.warnf("cannot handle SIGTERM (%s); shutdown will not wait for running generations", e.getMessage());
        }
    }

    void onShutdown(@Observes @Priority(Interceptor.Priority.PLATFORM_BEFORE) ShutdownEvent event) {
        if (started.compareAndSet(false, true)) {
            drain();
        }
    }

    /** Lets the JVM (or whoever handled SIGTERM before us) exit as it would have. */
    private static void handOver(SignalHandler previous, Signal sig) {
        try {
            if (previous != null && previous != SignalHandler.SIG_DFL && previous != SignalHandler.SIG_IGN) {
                previous.handle(sig);
                return;
            }
        } catch (RuntimeException e) {
            LOG.debugf("previous SIGTERM handler failed: %s", e);
        }
        System.exit(SIGTERM_EXIT_CODE);
    }

    private void drain() {
        service.drain();
        Duration timeout = config.shutdown().drainTimeout();
        int open = service.inFlight();
        LOG.infof("draining: readiness is DOWN, new requests get 503; %d generation(s) in flight, waiting up to %s",
                open, timeout);
        if (!await(service::inFlight, timeout)) {
            LOG.warnf("drain timeout reached with %d generation(s) still running; ending them with an error event",
                    service.inFlight());
            bootstrap.abortAll(SpindleException.unavailable(
                    "the server shut down before this generation finished (drain timeout " + timeout + ")", 1));
            if (!await(service::inFlight, FLUSH)) {
                LOG.errorf("%d generation(s) did not end after being aborted", service.inFlight());
            }
        }
        // The last events are handed to the transports; give their writes a moment before the server stops.
        sleep(200);
        LOG.info("drain complete");
    }

    /** Polls until {@code open} reads 0; false on timeout. */
    private static boolean await(IntSupplier open, Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (open.getAsInt() > 0) {
            if (System.nanoTime() >= deadline) {
                return false;
            }
            sleep(20);
        }
        return true;
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
