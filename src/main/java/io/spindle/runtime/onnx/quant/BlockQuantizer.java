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
 * <p>Each block's scale and zero point come from {@link WeightQuantizer.Scales}. Round to nearest
 * keeps every weight within |scale| / 2: asymmetric blocks span [min(w, 0), max(w, 0)] with
 * 2^bits − 1 steps (zero stays exactly representable); symmetric blocks map the side of larger
 * magnitude onto the long end of the code range (−8 for 4 bits, the sign carried by the scale, as
 * ONNX Runtime's own quantizer does) and size the step so that the other side still fits the short
 * end without clipping. The search (served) clips the range where that lowers the block's squared
 * reconstruction error — the same idea as GPTQ's {@code mse} grid and llama.cpp's
 * {@code make_qkx2_quants}, without their importance weights — and gives the chosen codes the
 * least-squares scale; the round-to-nearest candidate is one of those it tries, so no block ends up
 * with a larger error than round to nearest gives it. Deterministic: same weights, same bytes.
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

    /**
     * Clipping factors the search tries on a block's range: 1 (no clipping) down to 0.6 in steps of
     * 0.05. On N(0, 1) blocks of 32 at 4 bits (PackingTest's matrix), 21 factors down to 0.5 in steps
     * of 0.025 leave 0.918 of round to nearest's squared error, these 9 leave 0.919, in half the time.
     */
    private static final double[] SHRINK = {1.0, 0.95, 0.9, 0.85, 0.8, 0.75, 0.7, 0.65, 0.6};

    private BlockQuantizer() {
    }

    static Packed quantize(Source w, int n, int k, int bits, int block, boolean symmetric, WeightQuantizer.Scales method) {
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
        float[] x = new float[block];
        Fit fit = new Fit();
        for (int col = 0; col < n; col++) {
            for (int b = 0; b < kBlocks; b++) {
                int start = b * block;
                int len = Math.min(block, k - start);
                for (int i = 0; i < len; i++) {
                    x[i] = w.get(col, start + i);
                }
                if (symmetric) {
                    fitSymmetric(x, len, mid, method, fit);
                } else {
                    fitAsymmetric(x, len, qmax, method, fit);
                }
                float scale = fit.scale;
                int zp = fit.zp;
                double inv = scale == 0 ? 0 : 1.0 / scale;
                for (int i = 0; i < block; i++) {
                    if (i < len) {
                        long q = Math.round(x[i] * inv) + zp;
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

    /** One block's scale and zero point, and its squared reconstruction error (mutable: one per call, not per block). */
    private static final class Fit {
        float scale;
        int zp;
        double error;
        /** The block's range widened to include 0, and its sum of squares ({@link #measure}). */
        float min;
        float max;
        double sxx;

        void measure(float[] x, int len) {
            min = 0;
            max = 0;
            sxx = 0;
            for (int i = 0; i < len; i++) {
                min = Math.min(min, x[i]);
                max = Math.max(max, x[i]);
                sxx += (double) x[i] * x[i];
            }
        }
    }

    /**
     * Asymmetric: codes q = clamp(round(w / s) + z, 0, qmax), w ≈ (q − z) · s, z an integer (ONNX
     * Runtime's zero points are packed integers). Round to nearest spans [min(w, 0), max(w, 0)]; the
     * search also tries that range shrunk by each factor of {@link #SHRINK}, gives each candidate's
     * codes the least-squares scale, keeps the candidate with the smallest error, and then refines it
     * (zero point ±1, re-rounding, least squares again) while the error drops.
     */
    private static void fitAsymmetric(float[] x, int len, int qmax, WeightQuantizer.Scales method, Fit fit) {
        fit.measure(x, len);
        float min = fit.min;
        float max = fit.max;
        double sxx = fit.sxx;
        float rtn = (max - min) / qmax;
        fit.scale = rtn;
        fit.zp = rtn == 0 ? 0 : (int) Math.max(0, Math.min(qmax, Math.round(-min / (double) rtn)));
        if (rtn == 0 || method == WeightQuantizer.Scales.ROUND_TO_NEAREST) {
            return;
        }
        fit.error = Double.POSITIVE_INFINITY;
        for (double f : SHRINK) {
            double s = f * ((double) max - min) / qmax;
            int z = (int) Math.max(0, Math.min(qmax, Math.round(-f * min / s)));
            tryCodes(x, len, sxx, s, -z, qmax - z, z, fit);
        }
        for (int round = 0; round < 4; round++) {
            double before = fit.error;
            int z0 = fit.zp;
            double s0 = fit.scale;
            for (int z = Math.max(0, z0 - 1); z <= Math.min(qmax, z0 + 1); z++) {
                tryCodes(x, len, sxx, s0, -z, qmax - z, z, fit);
            }
            if (!(fit.error < before)) {
                break;
            }
        }
    }

    /**
     * Symmetric: codes c = clamp(round(w / s), −mid, mid − 1) with the sign of s free, so either side
     * can take the long end. Round to nearest is the no-clipping step below; the search tries both
     * sides on the long end, each shrunk by every factor of {@link #SHRINK}, with least-squares scales,
     * then re-rounds and re-solves the best while the error drops.
     */
    private static void fitSymmetric(float[] x, int len, int mid, WeightQuantizer.Scales method, Fit fit) {
        fit.measure(x, len);
        float min = fit.min;
        float max = fit.max;
        double sxx = fit.sxx;
        // The larger side takes the long end (−mid), the other side must fit mid − 1 steps.
        boolean positiveBigger = max >= -min;
        float big = positiveBigger ? max : -min;
        float small = positiveBigger ? -min : max;
        float step = Math.max(big / mid, small / (mid - 1));
        fit.scale = positiveBigger ? -step : step;
        fit.zp = mid;
        if (step == 0 || method == WeightQuantizer.Scales.ROUND_TO_NEAREST) {
            return;
        }
        fit.error = Double.POSITIVE_INFINITY;
        tryCodes(x, len, sxx, fit.scale, -mid, mid - 1, mid, fit);
        for (double f : SHRINK) {
            if (max > 0) {
                tryCodes(x, len, sxx, -f * max / mid, -mid, mid - 1, mid, fit);
            }
            if (min < 0) {
                tryCodes(x, len, sxx, -f * min / mid, -mid, mid - 1, mid, fit);
            }
        }
        for (int round = 0; round < 4; round++) {
            double before = fit.error;
            tryCodes(x, len, sxx, fit.scale, -mid, mid - 1, mid, fit);
            if (!(fit.error < before)) {
                break;
            }
        }
    }

    /**
     * Rounds the block with step {@code s} into [lo, hi] (codes relative to the zero point), then
     * takes, for those codes, the scale that minimises Σ (w − c · scale)² — Σ w·c / Σ c² — and its
     * error Σ w² − (Σ w·c)² / Σ c²; replaces {@code fit} when that error is smaller. Re-rounding with
     * the new scale can only lower the error again (each weight then gets its nearest code), which is
     * what the caller's refinement rounds do.
     */
    private static void tryCodes(float[] x, int len, double sxx, double s, int lo, int hi, int zp, Fit fit) {
        double inv = 1.0 / s;
        double sxc = 0;
        double scc = 0;
        for (int i = 0; i < len; i++) {
            double c = Math.max(lo, Math.min(hi, Math.rint(x[i] * inv)));
            sxc += x[i] * c;
            scc += c * c;
        }
        if (scc == 0) {
            return;
        }
        float scale = (float) (sxc / scc);
        // The error of the stored (float) scale: sxx − 2·scale·sxc + scale²·scc.
        double error = sxx - 2 * scale * sxc + (double) scale * scale * scc;
        if (scale != 0 && error < fit.error) {
            fit.error = error;
            fit.scale = scale;
            fit.zp = zp;
        }
    }
}
