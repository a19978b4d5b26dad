package io.spindle.runtime.onnx;

import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtProvider;
import ai.onnxruntime.OrtSession;
import io.spindle.runtime.onnx.capi.CopyGraphs;
import io.spindle.runtime.onnx.capi.ElementType;
import io.spindle.runtime.onnx.capi.OrtCapi;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.logging.Handler;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code spindle.runtime.execution-provider=cuda} where CUDA cannot be had: the CPU jar (no CUDA provider)
 * and, under {@code -Pgpu}, onnxruntime_gpu on a machine without a GPU or CUDA libraries. Sessions open on
 * CPU, the runtime says CPU, and one WARN line names the key and the way out. On a machine where CUDA does
 * load, the provider is CUDA and nothing is logged. Either way the C API layer finds the jar's library.
 */
class OrtRuntimeTest {
    @Test
    void cudaThatCannotLoadFallsBackToCpuWithOneClearWarning() throws Exception {
        List<LogRecord> records = new ArrayList<>();
        Handler h = new Handler() {
            @Override
            public void publish(LogRecord r) {
                records.add(r);
            }

            @Override
            public void flush() {
            }

            @Override
            public void close() {
            }
        };
        Logger log = Logger.getLogger(OrtRuntime.class.getName());
        log.addHandler(h);
        try {
            OrtRuntime ort = new OrtRuntime("cuda", 1);
            try (OrtSession a = ort.open(CopyGraphs.pad(ElementType.FLOAT), "test");
                 OrtSession b = ort.open(CopyGraphs.slice(ElementType.FLOAT), "test")) {
                assertEquals(5, a.getInputNames().size() + b.getInputNames().size(), "data+pads, data+starts+ends");
            }
            List<String> warnings = records.stream().map(LogRecord::getMessage).filter(m -> m.contains("CUDA")).toList();
            if (ort.provider() == OrtRuntime.Provider.CPU) {
                assertEquals(1, warnings.size(), "one warning for two sessions: " + warnings);
                String w = warnings.getFirst();
                assertTrue(w.contains("spindle.runtime.execution-provider") && w.contains("running on CPU"), w);
                boolean gpuJar = OrtEnvironment.getAvailableProviders().contains(OrtProvider.CUDA);
                assertTrue(w.contains(gpuJar ? "LD_LIBRARY_PATH" : "-Pgpu"), w);
            } else {
                assertTrue(warnings.isEmpty(), warnings.toString());
            }
        } finally {
            log.removeHandler(h);
        }
        OrtCapi api = OrtCapi.load();
        assertEquals(OrtEnvironment.getEnvironment().getVersion(), api.version(), "the same library, checked at load");
    }
}
