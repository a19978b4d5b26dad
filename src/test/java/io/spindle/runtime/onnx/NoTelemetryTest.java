package io.spindle.runtime.onnx;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The in-process guard sets the variables where ONNX Runtime and DJL read them: the C library's
 * environment. (.ci/run also traces a plain {@code java -jar} for connect() calls.)
 */
class NoTelemetryTest {
    @Test
    void setsTheOptOutVariablesInTheProcessEnvironment() {
        NoTelemetry.ensureDisabled();
        assertEquals("1", NoTelemetry.nativeGetenv("ORT_DISABLE_TELEMETRY"));
        assertEquals("true", NoTelemetry.nativeGetenv("OPT_OUT_TRACKING"));
        assertEquals("true", System.getProperty("ai.djl.offline"));
    }
}
