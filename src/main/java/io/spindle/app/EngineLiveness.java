package io.spindle.app;

import io.spindle.engine.EngineStats;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import org.eclipse.microprofile.health.HealthCheck;
import org.eclipse.microprofile.health.HealthCheckResponse;
import org.eclipse.microprofile.health.HealthCheckResponseBuilder;
import org.eclipse.microprofile.health.Liveness;

import java.util.Map;

/** Live while every model's engine loop thread is running (a dead loop can only be fixed by a restart). */
@Liveness
@ApplicationScoped
public class EngineLiveness implements HealthCheck {
    @Inject
    ModelBootstrap bootstrap;

    @Override
    public HealthCheckResponse call() {
        boolean up = true;
        HealthCheckResponseBuilder b = HealthCheckResponse.named("engines");
        for (Map.Entry<String, EngineStats> e : bootstrap.engineStats().entrySet()) {
            EngineStats s = e.getValue();
            up &= s.loopAlive();
            b.withData(e.getKey(), (s.loopAlive() ? "alive" : "stopped") + ", running " + s.numRunning()
                    + ", waiting " + s.numWaiting() + ", steps " + s.numSteps() + ", forward pass share of step time "
                    + (s.stepNanos() == 0 ? "n/a" : String.format("%.3f", s.forwardNanos() / (double) s.stepNanos())));
        }
        return b.status(up && bootstrap.state() != ModelBootstrap.State.FAILED).build();
    }
}
