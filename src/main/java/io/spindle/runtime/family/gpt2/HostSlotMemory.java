package io.spindle.runtime.family.gpt2;

import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;

/** {@link SlotMemory} in Spindle's host memory: native buffers ONNX Runtime reads in place, copied by Java. */
final class HostSlotMemory extends SlotMemory {
    private NativeBuffer[] buffers;

    HostSlotMemory(int numTensors, int heads, int rowBytes) {
        super(numTensors, heads, rowBytes);
    }

    @Override
    boolean onDevice() {
        return false;
    }

    @Override
    void reshape(int newSlots, int newLen, int[] lengths) {
        long bytes = tensorBytes(newSlots, newLen);
        if (bytes > Integer.MAX_VALUE) {
            throw new IllegalStateException("a KV-cache tensor of " + newSlots + " slots × " + newLen
                    + " positions (" + bytes + " bytes) exceeds what one buffer holds");
        }
        if (buffers != null && newLen == len && newSlots >= slots) {
            // Slots are the outermost dimension: more of them only appends, and realloc keeps (or moves
            // the mapping of) what is there. A failure leaves some tensors longer than used, which is harmless.
            for (NativeBuffer b : buffers) {
                b.grow(bytes);
            }
            slots = newSlots;
            return;
        }
        NativeBuffer[] grown = new NativeBuffer[numTensors];
        try {
            for (int c = 0; c < numTensors; c++) {
                grown[c] = NativeBuffer.allocate(bytes);
            }
        } catch (RuntimeException | OutOfMemoryError e) {
            for (NativeBuffer b : grown) {
                if (b != null) {
                    b.close();
                }
            }
            throw e;
        }
        if (buffers != null) {
            for (int s = 0; s < slots; s++) {
                if (lengths[s] == 0) {
                    continue;
                }
                for (int c = 0; c < numTensors; c++) {
                    ByteBuffer from = buffers[c].buffer();
                    ByteBuffer to = grown[c].buffer();
                    for (int h = 0; h < heads; h++) {
                        to.put(offset(s, h, 0, newLen), from, offset(s, h, 0, len), lengths[s] * rowBytes);
                    }
                }
            }
            for (NativeBuffer b : buffers) {
                b.close();
            }
        }
        buffers = grown;
        slots = newSlots;
        len = newLen;
    }

    private int offset(int slot, int head, int position, int length) {
        return (int) ((((long) slot * heads + head) * length + position) * rowBytes);
    }

    /** One tensor per cache tensor over slots [first, first + n), for the official API's past and present. */
    OnnxTensor[] views(OrtEnvironment env, OnnxJavaType type, int first, int n) throws OrtException {
        OnnxTensor[] out = new OnnxTensor[numTensors];
        int width = type == OnnxJavaType.FLOAT16 ? 2 : 4;
        long[] shape = {n, heads, len, rowBytes / width};
        try {
            for (int c = 0; c < numTensors; c++) {
                out[c] = OnnxTensor.createTensor(env, view(c, first, n), shape, type);
            }
            return out;
        } catch (OrtException | RuntimeException e) {
            BatchCache.closeAll(out);
            throw e;
        }
    }

    ByteBuffer view(int c, int first, int n) {
        long slotBytes = slotBytes();
        return buffers[c].buffer().duplicate().position((int) (first * slotBytes))
                .limit((int) ((first + n) * slotBytes)).slice().order(ByteOrder.nativeOrder());
    }

    @Override
    void copyPrefix(int from, int to, int n) {
        for (int c = 0; c < numTensors; c++) {
            ByteBuffer b = buffers[c].buffer();
            for (int h = 0; h < heads; h++) {
                b.put(offset(to, h, 0, len), b, offset(from, h, 0, len), n * rowBytes);
            }
        }
    }

    @Override
    void restore(int slot, List<ByteBuffer> blocks, int blockSize, int blockBytes) {
        for (int i = 0; i < blocks.size(); i++) {
            ByteBuffer src = blocks.get(i);
            for (int c = 0; c < numTensors; c++) {
                ByteBuffer b = buffers[c].buffer();
                for (int h = 0; h < heads; h++) {
                    b.put(offset(slot, h, i * blockSize, len), src, c * blockBytes + h * blockSize * rowBytes,
                            blockSize * rowBytes);
                }
            }
        }
    }

    @Override
    Reader reader(int slot, int from, int to) {
        return new Reader() {
            @Override
            public void copy(int c, int f, int t, ByteBuffer dst, int at) {
                int n = t - f;
                ByteBuffer b = buffers[c].buffer();
                for (int h = 0; h < heads; h++) {
                    dst.put(at + h * n * rowBytes, b, offset(slot, h, f, len), n * rowBytes);
                }
            }

            @Override
            public void close() {
            }
        };
    }

    @Override
    long allocatedBytes() {
        long n = 0;
        if (buffers != null) {
            for (NativeBuffer b : buffers) {
                n += b.capacity();
            }
        }
        return n;
    }

    @Override
    void drop() {
        if (buffers != null) {
            for (NativeBuffer b : buffers) {
                b.close();
            }
        }
        buffers = null;
        slots = 0;
        len = 0;
    }
}
