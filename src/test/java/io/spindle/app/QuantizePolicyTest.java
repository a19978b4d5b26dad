package io.spindle.app;

import io.spindle.runtime.onnx.quant.QuantizeSettings;
import org.junit.jupiter.api.Test;

import java.util.Map;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class QuantizePolicyTest {
    @Test
    void perModelValuesOverrideTheGlobalOne() {
        QuantizePolicy p = new QuantizePolicy("int4,block=64", Map.of("all-minilm-l6-v2", "int8", "typo-model", "none"));
        QuantizeSettings gpt2 = p.settings("demo-gpt2");
        assertEquals(QuantizeSettings.Format.INT4, gpt2.format());
        assertEquals(64, gpt2.blockSize());
        assertEquals(QuantizeSettings.Format.INT8, p.settings("all-minilm-l6-v2").format());
        assertEquals(Set.of("typo-model"), p.unmatched());
        assertEquals(QuantizeSettings.Format.NONE, QuantizePolicy.none().settings("x").format());
    }

    @Test
    void aBadValueNamesItsKey() {
        IllegalArgumentException global = assertThrows(IllegalArgumentException.class,
                () -> new QuantizePolicy("int5", Map.of()));
        assertTrue(global.getMessage().startsWith("spindle.models.quantize=int5"), global.getMessage());
        IllegalArgumentException one = assertThrows(IllegalArgumentException.class,
                () -> new QuantizePolicy("none", Map.of("demo-gpt2", "int4,block=7")));
        assertTrue(one.getMessage().startsWith("spindle.models.quantize-for.\"demo-gpt2\"=int4,block=7"), one.getMessage());
    }
}
