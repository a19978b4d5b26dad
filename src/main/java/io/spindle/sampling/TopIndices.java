package io.spindle.sampling;

/** Selects the k largest values' indices with a bounded min-heap: O(n log k), no allocation. */
public final class TopIndices {
    private TopIndices() {
    }

    /** Writes the indices of the {@code k} largest of {@code v[0..n)} into {@code out}, largest first; returns k. */
    public static int select(float[] v, int n, int k, int[] out) {
        k = Math.min(k, n);
        int size = 0;
        for (int i = 0; i < n; i++) {
            if (size < k) {
                out[size] = i;
                siftUp(v, out, size++);
            } else if (v[i] > v[out[0]]) {
                out[0] = i;
                siftDown(v, out, 0, size);
            }
        }
        // Heap-sort in place: repeatedly move the smallest to the end, leaving descending order.
        for (int end = size - 1; end > 0; end--) {
            int t = out[0];
            out[0] = out[end];
            out[end] = t;
            siftDown(v, out, 0, end);
        }
        return size;
    }

    private static void siftUp(float[] v, int[] h, int i) {
        while (i > 0) {
            int parent = (i - 1) >>> 1;
            if (less(v, h[i], h[parent])) {
                int t = h[i];
                h[i] = h[parent];
                h[parent] = t;
                i = parent;
            } else {
                return;
            }
        }
    }

    private static void siftDown(float[] v, int[] h, int i, int size) {
        while (true) {
            int l = 2 * i + 1;
            if (l >= size) {
                return;
            }
            int smallest = (l + 1 < size && less(v, h[l + 1], h[l])) ? l + 1 : l;
            if (less(v, h[smallest], h[i])) {
                int t = h[i];
                h[i] = h[smallest];
                h[smallest] = t;
                i = smallest;
            } else {
                return;
            }
        }
    }

    /** Orders by value, ties by higher index first so that the lower index wins, as in argmax. */
    private static boolean less(float[] v, int a, int b) {
        return v[a] < v[b] || (v[a] == v[b] && a > b);
    }
}
