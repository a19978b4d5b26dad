package io.spindle;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import com.tngtech.archunit.lang.ArchRule;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.stream.Stream;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;
import static com.tngtech.archunit.library.dependencies.SlicesRuleDefinition.slices;

/**
 * The dependency rules of DESIGN.md §2, enforced on every build. (Rules are checked from a Jupiter
 * test rather than ArchUnit's own engine, which the JUnit platform in use here does not run.)
 */
class ArchitectureTest {
    private static JavaClasses classes;

    @BeforeAll
    static void importClasses() {
        classes = new ClassFileImporter().withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
                .importPackages("io.spindle");
    }

    static Stream<ArchRule> rules() {
        return Stream.of(plainJavaCore, onlyRuntimeTouchesOnnxRuntime, apiStaysAtTheEdge, generationDoesNotReachUp,
                engineDoesNotReachUp, engineSubpackagesDoNotDependOnTheLoop, runtimeImplementsTheSeamOnly, noCycles);
    }

    @ParameterizedTest
    @MethodSource("rules")
    void holds(ArchRule rule) {
        rule.check(classes);
    }

    private static final String[] FRAMEWORKS = {"io.quarkus..", "jakarta..", "io.smallrye..", "io.micrometer..",
            "ai.onnxruntime..", "io.vertx..", "org.jboss.."};

    static final ArchRule plainJavaCore = noClasses()
            .that().resideInAnyPackage("io.spindle.engine..", "io.spindle.kvcache..", "io.spindle.sampling..",
                    "io.spindle.text..", "io.spindle.model..")
            .should().dependOnClassesThat().resideInAnyPackage(FRAMEWORKS)
            .because("the engine, KV accounting, sampling, text and model metadata are plain Java");

    static final ArchRule onlyRuntimeTouchesOnnxRuntime = noClasses()
            .that().resideOutsideOfPackage("io.spindle.runtime..")
            .should().dependOnClassesThat().resideInAPackage("ai.onnxruntime..");

    static final ArchRule apiStaysAtTheEdge = noClasses()
            .that().resideInAPackage("io.spindle.api..")
            .should().dependOnClassesThat().resideInAnyPackage("io.spindle.runtime..", "io.spindle.engine.sched..",
                    "io.spindle.engine.exec..", "io.spindle.kvcache..", "io.spindle.app..");

    static final ArchRule generationDoesNotReachUp = noClasses()
            .that().resideInAPackage("io.spindle.generation..")
            .should().dependOnClassesThat().resideInAnyPackage("io.spindle.api..", "io.spindle.runtime..",
                    "io.spindle.app..", "io.spindle.engine.sched..", "io.spindle.engine.exec..");

    static final ArchRule engineDoesNotReachUp = noClasses()
            .that().resideInAPackage("io.spindle.engine..")
            .should().dependOnClassesThat().resideInAnyPackage("io.spindle.generation..", "io.spindle.api..",
                    "io.spindle.runtime..", "io.spindle.app..", "io.spindle.text..", "io.spindle.model..");

    static final ArchRule engineSubpackagesDoNotDependOnTheLoop = noClasses()
            .that().resideInAnyPackage("io.spindle.engine.sched..", "io.spindle.engine.exec..",
                    "io.spindle.engine.request..", "io.spindle.kvcache..", "io.spindle.sampling..")
            .should().dependOnClassesThat().resideInAPackage("io.spindle.engine")
            .because("arrows point from engine to its parts, never back");

    static final ArchRule runtimeImplementsTheSeamOnly = noClasses()
            .that().resideInAPackage("io.spindle.runtime..")
            .should().dependOnClassesThat().resideInAnyPackage("io.spindle.api..", "io.spindle.generation..",
                    "io.spindle.app..", "io.spindle.engine.sched..");

    static final ArchRule noCycles = slices().matching("io.spindle.(*)..").should().beFreeOfCycles();
}
