package io.spindle.runtime.family.gpt2;

import java.nio.ByteBuffer;

/**
 * Byte arithmetic over cache tensors shaped [outer, batch, heads, len, head_dim] (outer = 1 for
 * Optimum's separate key/value tensors, 2 for ONNX Runtime's stacked past): moving one sequence's
 * real positions (mask 1) between batch tensors and compact [outer, heads, n, head_dim] blocks.
 * Rows in a batch tensor are right-aligned: padding first, then the sequence's positions; padding is
 * zero-filled so that masked keys can never hold NaN or infinities.
 */
record KvLayout(int outer, int heads, int headDim, int elementBytes) {
    private static final ByteBuffer ZEROS = ByteBuffer.allocateDirect(1 << 16);

    int rowBytes() {
        return headDim * elementBytes;
    }

    /** Bytes of a batch tensor of {@code rows} rows and {@code len} positions. */
    long batchBytes(int rows, int len) {
        return (long) outer * rows * heads * len * rowBytes();
    }

    /** Compact bytes for {@code n} positions of one sequence. */
    int compactBytes(int n) {
        return outer * heads * n * rowBytes();
    }

    private long base(int o, int batch, int row, int h, int len) {
        return (((long) o * batch + row) * heads + h) * len * rowBytes();
    }

    /** Copies the real positions of batch row {@code row} of {@code src} into a compact block. */
    byte[] gather(ByteBuffer src, int batch, int row, int len, byte[] mask, int maskOffset, int validCount) {
        int rb = rowBytes();
        byte[] out = new byte[compactBytes(validCount)];
        int dst = 0;
        for (int o = 0; o < outer; o++) {
            for (int h = 0; h < heads; h++) {
                int from = (int) base(o, batch, row, h, len);
                for (int p = 0; p < len; ) {
                    int run = runOfOnes(mask, maskOffset, p, len);
                    if (run > 0) {
                        src.get(from + p * rb, out, dst, run * rb);
                        dst += run * rb;
                        p += run;
                    } else {
                        p++;
                    }
                }
            }
        }
        return out;
    }

    /**
     * Copies the real positions of row {@code srcRow} of {@code src} straight into row {@code dstRow}
     * of {@code dst}, right-aligned at {@code dstLen}, and zero-fills the padding before them.
     */
    void move(ByteBuffer src, int srcBatch, int srcRow, int srcLen, byte[] mask, int maskOffset,
              ByteBuffer dst, int dstBatch, int dstRow, int dstLen, int validCount) {
        int rb = rowBytes();
        for (int o = 0; o < outer; o++) {
            for (int h = 0; h < heads; h++) {
                int from = (int) base(o, srcBatch, srcRow, h, srcLen);
                int to = (int) base(o, dstBatch, dstRow, h, dstLen);
                zero(dst, to, (dstLen - validCount) * rb);
                to += (dstLen - validCount) * rb;
                for (int p = 0; p < srcLen; ) {
                    int run = runOfOnes(mask, maskOffset, p, srcLen);
                    if (run > 0) {
                        dst.put(to, src, from + p * rb, run * rb);
                        to += run * rb;
                        p += run;
                    } else {
                        p++;
                    }
                }
            }
        }
    }

    /** Writes a compact block of {@code n} positions into row {@code row}, right-aligned at {@code len}. */
    void scatter(byte[] compact, int n, ByteBuffer dst, int batch, int row, int len) {
        int rb = rowBytes();
        int src = 0;
        for (int o = 0; o < outer; o++) {
            for (int h = 0; h < heads; h++) {
                int to = (int) base(o, batch, row, h, len);
                zero(dst, to, (len - n) * rb);
                if (n > 0) {
                    dst.put(to + (len - n) * rb, compact, src, n * rb);
                }
                src += n * rb;
            }
        }
    }

    /**
     * Writes buffer positions [from, to) of batch row {@code row} of {@code src} into {@code dst} at
     * {@code at}, compact: the same bytes as {@link #sliceInto} from the row's gathered block, without
     * gathering the whole row first.
     */
    void sliceRowInto(ByteBuffer src, int batch, int row, int len, int from, int to, ByteBuffer dst, int at) {
        int rb = rowBytes();
        int n = to - from;
        for (int o = 0; o < outer; o++) {
            for (int h = 0; h < heads; h++) {
                int slab = o * heads + h;
                dst.put(at + slab * n * rb, src, (int) base(o, batch, row, h, len) + from * rb, n * rb);
            }
        }
    }

    /** Writes positions [from, to) of a compact block of {@code n} positions into {@code dst} at {@code at}, compact. */
    void sliceInto(byte[] compact, int n, int from, int to, ByteBuffer dst, int at) {
        int rb = rowBytes();
        int len = to - from;
        for (int slab = 0; slab < outer * heads; slab++) {
            dst.put(at + slab * len * rb, compact, (slab * n + from) * rb, len * rb);
        }
    }

    /**
     * Compact blocks of {@code partLen} positions each, read from {@code parts} at {@code at}, one
     * after another, as one compact block.
     */
    byte[] concat(java.util.List<ByteBuffer> parts, int at, int partLen) {
        int rb = rowBytes();
        int total = parts.size() * partLen;
        byte[] out = new byte[compactBytes(total)];
        for (int i = 0; i < parts.size(); i++) {
            ByteBuffer part = parts.get(i);
            for (int slab = 0; slab < outer * heads; slab++) {
                part.get(at + slab * partLen * rb, out, (slab * total + i * partLen) * rb, partLen * rb);
            }
        }
        return out;
    }

    private static int runOfOnes(byte[] mask, int offset, int p, int len) {
        int q = p;
        while (q < len && mask[offset + q] == 1) {
            q++;
        }
        return q - p;
    }

    private static void zero(ByteBuffer dst, int at, int bytes) {
        for (int done = 0; done < bytes; ) {
            int n = Math.min(bytes - done, ZEROS.capacity());
            dst.put(at + done, ZEROS, 0, n);
            done += n;
        }
    }
}
