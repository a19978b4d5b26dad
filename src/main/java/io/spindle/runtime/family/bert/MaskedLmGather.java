package io.spindle.runtime.family.bert;

import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import io.spindle.runtime.onnx.HeadGather;
import io.spindle.runtime.onnx.OrtRuntime;

import java.nio.file.Path;
import java.util.List;
import java.util.logging.Logger;

/**
 * Makes a masked-LM export compute logits at the masks only ({@link HeadGather}). The probe: two rows
 * of different lengths, padding, several positions each. A graph whose head is not recognised, or
 * whose rewrite disagrees, is served as exported, with a log line saying why.
 */
final class MaskedLmGather {
    private static final Logger LOG = Logger.getLogger(MaskedLmGather.class.getName());
    /** Agreement the probe asks for: far looser than float noise, far tighter than a wrong rewrite. */
    private static final double TOLERANCE = 1e-3;

    private MaskedLmGather() {
    }

    /**
     * A session on the rewritten graph, closing {@code original}; or {@code original} itself when the
     * graph cannot be rewritten or the rewrite does not compute the same logits (and the graph it runs).
     */
    static HeadGather.Outcome rewrite(HeadGather gather, Path graph, OrtRuntime ort, OrtSession original) {
        HeadGather.Outcome outcome = gather.rewrite(ort::openForVaryingShapes, original,
                (a, b) -> probe(ort.env(), a, b));
        if (!outcome.rewritten()) {
            LOG.warning("masked-LM graph " + graph + " is served as exported, with logits at every position "
                    + "(padded tokens × vocabulary × 4 bytes per pass; lower spindle.embeddings.max-tokens-per-pass to "
                    + "bound them), because " + outcome.whyNot());
        }
        return outcome;
    }

    /** Null when both sessions give the same logits at a few positions of a padded two-row batch, else how not. */
    static String probe(OrtEnvironment env, OrtSession original, OrtSession rewritten) throws OrtException {
        List<int[]> rows = List.of(ids(9, 5), ids(6, 40));
        int seq = BertFeed.paddedLength(rows);
        long[] at = {1, 4, 8, seq, (long) seq + 2, (long) seq + 5};
        float[] all = new BertFeed(env, original, "logits").run(rows).values();
        float[] picked = new BertFeed(env, rewritten, "logits").run(rows, at).values();
        return HeadGather.compareAt(all, picked, at, all.length / (rows.size() * seq), TOLERANCE);
    }

    private static int[] ids(int n, int from) {
        int[] ids = new int[n];
        for (int i = 0; i < n; i++) {
            ids[i] = from + 3 * i;
        }
        return ids;
    }
}
