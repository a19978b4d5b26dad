package io.spindle.app;

import io.spindle.generation.GenerationService;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import org.eclipse.microprofile.health.HealthCheck;
import org.eclipse.microprofile.health.HealthCheckResponse;
import org.eclipse.microprofile.health.HealthCheckResponseBuilder;
import org.eclipse.microprofile.health.Readiness;

/**
 * Ready once every configured model was loaded (or failed) and the loaded ones were warmed up; DOWN
 * again while draining for shutdown.
 */
@Readiness
@ApplicationScoped
public class ModelsReadiness implements HealthCheck {
    @Inject
    ModelBootstrap bootstrap;
    @Inject
    GenerationService service;

    @Override
    public HealthCheckResponse call() {
        boolean draining = service.isDraining();
        HealthCheckResponseBuilder b = HealthCheckResponse.named("models")
                .status(bootstrap.state() == ModelBootstrap.State.READY && !draining)
                .withData("state", draining ? "draining" : bootstrap.state().name().toLowerCase())
                .withData("detail", bootstrap.detail());
        bootstrap.registry().all().forEach(m -> b.withData("model." + m.id(), "serving"));
        bootstrap.registry().failures().forEach((id, why) -> b.withData("model." + id, "failed: " + why));
        return b.build();
    }
}
