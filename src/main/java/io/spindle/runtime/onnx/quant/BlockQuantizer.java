package io.spindle.runtime.onnx.quant;

/**
 * Block-wise integer quantization of a weight matrix W [K, N] along K, in the byte layout of ONNX
 * Runtime's {@code MatMulNBits}: for each output column n, ⌈K / block⌉ blocks of {@code block}
 * codes (the last one padded with its zero point, so the padding dequantizes to 0), 4-bit codes two
 * to a byte with the lower k in the low nibble; one float scale per block; zero points (asymmetric
 * only) packed the same way per column. A weight w is stored as code q with
 * w ≈ (q − zp) · scale; symmetric blocks have no stored zero point and use ONNX Runtime's implicit
 * 2^(bits−1).
 *
 * <p>Every weight's error is at most |scale| / 2: asymmetric blocks span [min(w, 0), max(w, 0)]
 * with 2^bits − 1 steps (zero stays exactly representable); symmetric blocks map the side of larger
 * magnitude onto the long end of the code range (−8 for 4 bits, the sign carried by the scale, as
 * ONNX Runtime's own quantizer does) and size the step so that the other side still fits the short
 * end without clipping (ONNX Runtime's quantizer divides by 8 only, which clips the other side by up
 * to a whole step when both sides are about equally large).
 */
final class BlockQuantizer {
    /** W[k][n], whatever the stored layout. */
    @FunctionalInterface
    interface Source {
        float get(int n, int k);
    }

    /**
     * @param data       [n][kBlocks][blockBytes]
     * @param scales     [n · kBlocks]
     * @param zeroPoints null when symmetric; else [n][zpBytesPerColumn]
     */
    record Packed(int n, int k, int bits, int block, byte[] data, float[] scales, byte[] zeroPoints) {
        int kBlocks() {
            return (k + block - 1) / block;
        }

        int blockBytes() {
            return block * bits / 8;
        }

        int zpBytesPerColumn() {
            return (kBlocks() * bits + 7) / 8;
        }

        /** The code of W[k][n]. */
        int code(int col, int row) {
            int b = row / block;
            int i = row % block;
            int base = (col * kBlocks() + b) * blockBytes();
            if (bits == 8) {
                return data[base + i] & 0xFF;
            }
            int v = data[base + i / 2] & 0xFF;
            return (i & 1) == 0 ? v & 0x0F : v >>> 4;
        }

        int zeroPoint(int col, int blockIndex) {
            if (zeroPoints == null) {
                return 1 << (bits - 1);
            }
            int base = col * zpBytesPerColumn();
            if (bits == 8) {
                return zeroPoints[base + blockIndex] & 0xFF;
            }
            int v = zeroPoints[base + blockIndex / 2] & 0xFF;
            return (blockIndex & 1) == 0 ? v & 0x0F : v >>> 4;
        }

        float scale(int col, int blockIndex) {
            return scales[col * kBlocks() + blockIndex];
        }
    }

    private BlockQuantizer() {
    }

    static Packed quantize(Source w, int n, int k, int bits, int block, boolean symmetric) {
        if (bits != 4 && bits != 8) {
            throw new IllegalArgumentException("bits " + bits);
        }
        int kBlocks = (k + block - 1) / block;
        int blockBytes = block * bits / 8;
        int zpBytes = (kBlocks * bits + 7) / 8;
        int qmax = (1 << bits) - 1;
        int mid = 1 << (bits - 1);
        byte[] data = new byte[Math.multiplyExact(Math.multiplyExact(n, kBlocks), blockBytes)];
        float[] scales = new float[n * kBlocks];
        byte[] zps = symmetric ? null : new byte[n * zpBytes];
        int[] codes = new int[block];
        for (int col = 0; col < n; col++) {
            for (int b = 0; b < kBlocks; b++) {
                int start = b * block;
                int len = Math.min(block, k - start);
                float min = 0;
                float max = 0;
                for (int i = 0; i < len; i++) {
                    float v = w.get(col, start + i);
                    min = Math.min(min, v);
                    max = Math.max(max, v);
                }
                float scale;
                int zp;
                if (symmetric) {
                    // The larger side takes the long end (−mid), the other side must fit mid − 1 steps.
                    boolean positiveBigger = max >= -min;
                    float big = positiveBigger ? max : -min;
                    float small = positiveBigger ? -min : max;
                    float step = Math.max(big / mid, small / (mid - 1));
                    scale = positiveBigger ? -step : step;
                    zp = mid;
                } else {
                    scale = (max - min) / qmax;
                    zp = scale == 0 ? 0 : (int) Math.max(0, Math.min(qmax, Math.round(-min / (double) scale)));
                }
                double inv = scale == 0 ? 0 : 1.0 / scale;
                for (int i = 0; i < block; i++) {
                    if (i < len) {
                        long q = Math.round(w.get(col, start + i) * inv) + zp;
                        codes[i] = (int) Math.max(0, Math.min(qmax, q));
                    } else {
                        codes[i] = zp;
                    }
                }
                int base = (col * kBlocks + b) * blockBytes;
                if (bits == 8) {
                    for (int i = 0; i < block; i++) {
                        data[base + i] = (byte) codes[i];
                    }
                } else {
                    for (int i = 0; i < block; i += 2) {
                        data[base + i / 2] = (byte) (codes[i] | codes[i + 1] << 4);
                    }
                }
                scales[col * kBlocks + b] = scale;
                if (zps != null) {
                    int zb = col * zpBytes;
                    if (bits == 8) {
                        zps[zb + b] = (byte) zp;
                    } else {
                        zps[zb + b / 2] |= (byte) ((b & 1) == 0 ? zp : zp << 4);
                    }
                }
            }
        }
        return new Packed(n, k, bits, block, data, scales, zps);
    }
}
