package io.spindle.engine;

import io.spindle.engine.exec.EncoderRunner;

import java.util.List;

/**
 * The inputs one encoder forward pass takes, within its limits: rows, rows × padded length (the
 * longest row so far), and result rows (see {@link EncoderRunner#resultRows}). The first input is
 * always taken, so a pass never comes out empty. Confined to its encoder engine's thread.
 */
final class EncoderPass {
    private final EncoderConfig limits;
    private final EncoderRunner runner;
    private int rows;
    private int longest;
    private int resultRows;

    EncoderPass(EncoderConfig limits, EncoderRunner runner) {
        this.limits = limits;
        this.runner = runner;
    }

    /** Takes {@code input} into the pass if it fits beside what is there. */
    boolean add(int[] input) {
        int results = runner.resultRows(input);
        if (!fits(rows + 1, Math.max(longest, input.length), resultRows + results)) {
            return false;
        }
        rows++;
        longest = Math.max(longest, input.length);
        resultRows += results;
        return true;
    }

    /** Takes all of {@code inputs}, or none of them when they do not all fit. */
    boolean addAll(List<int[]> inputs) {
        int r = rows;
        int l = longest;
        int res = resultRows;
        for (int[] in : inputs) {
            r++;
            l = Math.max(l, in.length);
            res += runner.resultRows(in);
            if (!fits(r, l, res)) {
                return false;
            }
        }
        rows = r;
        longest = l;
        resultRows = res;
        return true;
    }

    int rows() {
        return rows;
    }

    /** Rows × padded length of the pass as it stands. */
    long paddedTokens() {
        return (long) rows * longest;
    }

    private boolean fits(int r, int l, int results) {
        return r == 1 || (r <= limits.maxBatchSize() && (long) r * l <= limits.maxTokensPerPass()
                && results <= limits.maxBatchSize());
    }
}
