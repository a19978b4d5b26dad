package io.spindle.runtime.family.gpt2;

import java.nio.ByteBuffer;

/**
 * Byte arithmetic over one cache tensor shaped [outer, batch, heads, len, head_dim] (outer = 1 for
 * Optimum's separate key/value tensors, 2 for ONNX Runtime's stacked past): copying one sequence's
 * valid positions out of a batch tensor into a compact [outer, heads, n, head_dim] block, and back
 * into a left-padded batch tensor.
 */
record KvLayout(int outer, int heads, int headDim, int elementBytes) {

    int rowBytes() {
        return headDim * elementBytes;
    }

    /** Compact bytes for {@code n} positions of one sequence. */
    int compactBytes(int n) {
        return outer * heads * n * rowBytes();
    }

    /**
     * Copies the positions of batch row {@code row} whose {@code mask} byte is 1 from {@code src}
     * (batch {@code batch}, length {@code len}) into a compact block.
     */
    byte[] gather(ByteBuffer src, int batch, int row, int len, byte[] mask, int maskOffset, int validCount) {
        int rb = rowBytes();
        byte[] out = new byte[compactBytes(validCount)];
        int dst = 0;
        for (int o = 0; o < outer; o++) {
            for (int h = 0; h < heads; h++) {
                int base = (((o * batch + row) * heads + h) * len) * rb;
                for (int p = 0; p < len; p++) {
                    if (mask[maskOffset + p] == 1) {
                        src.get(base + p * rb, out, dst, rb);
                        dst += rb;
                    }
                }
            }
        }
        return out;
    }

    /** Writes a compact block of {@code n} positions into batch row {@code row}, ending at position {@code len}. */
    void scatter(byte[] compact, int n, ByteBuffer dst, int batch, int row, int len) {
        int rb = rowBytes();
        int src = 0;
        for (int o = 0; o < outer; o++) {
            for (int h = 0; h < heads; h++) {
                int base = (((o * batch + row) * heads + h) * len + (len - n)) * rb;
                dst.put(base, compact, src, n * rb);
                src += n * rb;
            }
        }
    }
}
