package io.spindle.app;

import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import org.eclipse.microprofile.health.HealthCheck;
import org.eclipse.microprofile.health.HealthCheckResponse;
import org.eclipse.microprofile.health.HealthCheckResponseBuilder;
import org.eclipse.microprofile.health.Readiness;

/** Ready once every configured model was loaded (or failed) and the loaded ones were warmed up. */
@Readiness
@ApplicationScoped
public class ModelsReadiness implements HealthCheck {
    @Inject
    ModelBootstrap bootstrap;

    @Override
    public HealthCheckResponse call() {
        HealthCheckResponseBuilder b = HealthCheckResponse.named("models")
                .status(bootstrap.state() == ModelBootstrap.State.READY)
                .withData("state", bootstrap.state().name().toLowerCase())
                .withData("detail", bootstrap.detail());
        bootstrap.registry().all().forEach(m -> b.withData("model." + m.id(), "serving"));
        bootstrap.registry().failures().forEach((id, why) -> b.withData("model." + id, "failed: " + why));
        return b.build();
    }
}
