package io.spindle.app;

import io.quarkus.test.junit.QuarkusTest;
import io.spindle.testing.Server;
import org.junit.jupiter.api.Test;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.startsWith;

@QuarkusTest
class HealthTest {
    @Test
    void readyOnceModelsAreLoadedAndLiveWhileEnginesRun() {
        Server.awaitReady();
        given().get("/q/health/ready").then().statusCode(200)
                .body("checks.find { it.name == 'models' }.data.state", equalTo("ready"))
                .body("checks.find { it.name == 'models' }.data.'model.demo-gpt2'", equalTo("serving"));
        given().get("/q/health/live").then().statusCode(200)
                .body("checks.find { it.name == 'engines' }.status", equalTo("UP"))
                .body("checks.find { it.name == 'engines' }.data.'demo-gpt2'", startsWith("alive"));
    }
}
