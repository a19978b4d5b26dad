package io.spindle.runtime.onnx.quant;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class QuantizeSettingsTest {
    private static final String KEY = "spindle.models.quantize";

    @Test
    void parsesFormatsWithTheirDefaults() {
        assertEquals(QuantizeSettings.NONE, QuantizeSettings.parse(KEY, "none"));
        assertFalse(QuantizeSettings.parse(KEY, " None ").enabled());
        QuantizeSettings int4 = QuantizeSettings.parse(KEY, "int4");
        assertEquals(new QuantizeSettings(QuantizeSettings.Format.INT4, 32, false, 4, true, false), int4);
        assertEquals("int4-b32-asym-acc4-head", int4.cacheTag());
        assertEquals("int4 (block 32, asymmetric, accuracy level 4, LM head quantized)", int4.describe());
        assertEquals(8, QuantizeSettings.parse(KEY, "INT8").bits());
        assertEquals("none", QuantizeSettings.NONE.cacheTag());
    }

    @Test
    void parsesEveryOption() {
        QuantizeSettings s = QuantizeSettings.parse(KEY, "int4, block=64 ,symmetric,accuracy=0,lm-head=no,embeddings=yes");
        assertEquals(new QuantizeSettings(QuantizeSettings.Format.INT4, 64, true, 0, false, true), s);
        assertEquals("int4-b64-sym-acc0-nohead-emb", s.cacheTag());
        assertEquals("int4 (block 64, symmetric, accuracy level 0, LM head float, embeddings quantized)", s.describe());
        assertEquals(QuantizeSettings.parse(KEY, "int8,asymmetric,block=32,lm-head=yes,embeddings=no"),
                QuantizeSettings.of(QuantizeSettings.Format.INT8));
    }

    @Test
    void everyChangeOfOutputChangesTheCacheTag() {
        String base = QuantizeSettings.parse(KEY, "int4").cacheTag();
        for (String v : new String[] {"int8", "int4,block=16", "int4,symmetric", "int4,accuracy=1", "int4,lm-head=no",
                "int4,embeddings=yes", "none", "int8-dynamic"}) {
            assertNotEquals(base, QuantizeSettings.parse(KEY, v).cacheTag(), v);
        }
        assertNotEquals(QuantizeSettings.parse(KEY, "int8").cacheTag(), QuantizeSettings.parse(KEY, "int8-dynamic").cacheTag());
        assertNotEquals(QuantizeSettings.parse(KEY, "int8-dynamic").cacheTag(),
                QuantizeSettings.parse(KEY, "int8-dynamic,lm-head=no").cacheTag());
    }

    @Test
    void int8DynamicTakesOnlyTheLmHeadOption() {
        QuantizeSettings s = QuantizeSettings.parse(KEY, "int8-dynamic");
        assertEquals(QuantizeSettings.Format.INT8_DYNAMIC, s.format());
        assertEquals(8, s.bits());
        assertTrue(s.lmHead());
        assertFalse(QuantizeSettings.parse(KEY, "int8-dynamic, lm-head=no").lmHead());
        for (String v : new String[] {"int8-dynamic,block=32", "int8-dynamic,symmetric", "int8-dynamic,accuracy=4",
                "int8-dynamic,embeddings=yes"}) {
            String m = assertThrows(IllegalArgumentException.class, () -> QuantizeSettings.parse(KEY, v)).getMessage();
            assertTrue(m.startsWith(KEY) && m.contains("int8-dynamic takes only lm-head"), m);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "int3", "int4,block=48", "int4,block=8", "int4,block=512", "int4,block=x", "int4,block=",
            "int4,accuracy=5", "int4,accuracy=-1", "int4,symmetric,asymmetric", "int4,block=32,block=64", "int4,lm-head=maybe",
            "int4,embeddings", "int4,fast", "none,block=32", "int4,symmetric=yes", "int4,,block=32"})
    void badValuesNameTheKey(String value) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> QuantizeSettings.parse(KEY, value));
        assertTrue(e.getMessage().startsWith(KEY), e.getMessage());
        System.out.println(e.getMessage());
    }

    @Test
    void errorsSayWhatIsAllowed() {
        assertTrue(QuantizeSettings.parse(KEY, "int4").enabled());
        String m = assertThrows(IllegalArgumentException.class, () -> QuantizeSettings.parse(KEY, "int4,block=48")).getMessage();
        assertTrue(m.contains("block=48") && m.contains("power of two"), m);
        m = assertThrows(IllegalArgumentException.class, () -> QuantizeSettings.parse(KEY, "int4,block=32,block=64")).getMessage();
        assertTrue(m.contains("twice"), m);
        m = assertThrows(IllegalArgumentException.class, () -> QuantizeSettings.parse(KEY, "int4,fast")).getMessage();
        assertTrue(m.contains("'fast'") && m.contains("block=N"), m);
        m = assertThrows(IllegalArgumentException.class, () -> QuantizeSettings.parse(KEY, "int4,accuracy=5")).getMessage();
        assertTrue(m.contains("0..4"), m);
    }
}
