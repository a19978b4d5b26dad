package io.spindle.runtime.onnx;

import ai.onnxruntime.OnnxJavaType;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** spindle.models.kv-dtype: auto follows the provider (CUDA's GroupQueryAttention is float16 only). */
class KvDtypeTest {
    @Test
    void autoIsFloat16OnCudaAndFloat32OnCpu() {
        assertEquals(KvDtype.FLOAT16, KvDtype.resolve("auto", OrtRuntime.Provider.CUDA));
        assertEquals(KvDtype.FLOAT32, KvDtype.resolve("auto", OrtRuntime.Provider.CPU));
        assertEquals(KvDtype.FLOAT32, KvDtype.resolve(" Float32 ", OrtRuntime.Provider.CUDA), "an explicit type wins");
        assertEquals(KvDtype.FLOAT16, KvDtype.resolve("float16", OrtRuntime.Provider.CPU));
    }

    @Test
    void anUnknownValueNamesTheKey() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> KvDtype.resolve("bfloat16", OrtRuntime.Provider.CPU));
        assertTrue(e.getMessage().contains("spindle.models.kv-dtype") && e.getMessage().contains("bfloat16"), e.getMessage());
    }

    @Test
    void elementWidthsAndGraphTypes() {
        assertEquals(4, KvDtype.FLOAT32.bytes());
        assertEquals(2, KvDtype.FLOAT16.bytes());
        assertEquals(KvDtype.FLOAT16, KvDtype.of(OnnxJavaType.FLOAT16));
        assertEquals(KvDtype.FLOAT32, KvDtype.of(OnnxJavaType.FLOAT));
        assertNull(KvDtype.of(OnnxJavaType.INT8));
    }
}
