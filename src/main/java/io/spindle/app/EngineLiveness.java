package io.spindle.app;

import io.spindle.engine.EngineStats;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import org.eclipse.microprofile.health.HealthCheck;
import org.eclipse.microprofile.health.HealthCheckResponse;
import org.eclipse.microprofile.health.HealthCheckResponseBuilder;
import org.eclipse.microprofile.health.Liveness;

import java.util.Map;

/**
 * Live while every model's engine loop runs and makes progress: DOWN when a loop thread died, or when
 * a loop with work has not finished a step within {@code spindle.engine.watchdog-timeout} (a hung
 * forward pass). Either can only be fixed by a restart.
 */
@Liveness
@ApplicationScoped
public class EngineLiveness implements HealthCheck {
    @Inject
    ModelBootstrap bootstrap;
    @Inject
    SpindleConfig config;

    @Override
    public HealthCheckResponse call() {
        boolean up = true;
        HealthCheckResponseBuilder b = HealthCheckResponse.named("engines");
        for (Map.Entry<String, EngineStats> e : bootstrap.engineStats().entrySet()) {
            EngineStats s = e.getValue();
            boolean stalled = s.stalled(config.engine().watchdogTimeout());
            up &= s.loopAlive() && !stalled;
            String state = !s.loopAlive() ? "stopped"
                    : stalled ? "stalled for " + s.nanosSinceProgress() / 1_000_000_000 + " s" : "alive";
            b.withData(e.getKey(), state + ", running " + s.numRunning()
                    + ", waiting " + s.numWaiting() + ", steps " + s.numSteps() + ", forward pass share of step time "
                    + (s.stepNanos() == 0 ? "n/a" : String.format("%.3f", s.forwardNanos() / (double) s.stepNanos())));
        }
        return b.status(up && bootstrap.state() != ModelBootstrap.State.FAILED).build();
    }
}
