package io.spindle.runtime.family.bert;

import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import io.spindle.runtime.onnx.ModelLoadException;
import io.spindle.runtime.onnx.OrtRuntime;

import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.logging.Logger;

/**
 * Makes a masked-LM export compute logits at the masks only: the graph rewritten by
 * {@link GatherRewrite}, cached by {@link RewriteCache} under the source's SHA-256. A rewrite is served
 * only after it gave the export's own logits on a probe batch (two rows of different lengths, padding,
 * several positions each); a graph whose head is not recognised, or whose rewrite disagrees, is served
 * as exported, with a log line saying why. Runs on the model-loading thread.
 */
final class MaskedLmGather {
    private static final Logger LOG = Logger.getLogger(MaskedLmGather.class.getName());
    /** Agreement the probe asks for: far looser than float noise, far tighter than a wrong rewrite. */
    private static final double TOLERANCE = 1e-3;

    private final RewriteCache cache;
    private final Path graph;
    private final Path file;

    private MaskedLmGather(RewriteCache cache, Path graph, Path file) {
        this.cache = cache;
        this.graph = graph;
        this.file = file;
    }

    static MaskedLmGather of(Path graph, Path cacheDir) throws IOException {
        RewriteCache cache = new RewriteCache(cacheDir);
        return new MaskedLmGather(cache, graph, cache.file(graph, GatherRewrite.VERSION));
    }

    /** The cached rewrite of this graph, when there is a sound one. */
    Path cached() throws IOException {
        if (!cache.valid(file)) {
            return null;
        }
        LOG.info("masked-LM graph " + graph + ": logits at the masks only, rewritten graph " + file + " (cached)");
        return file;
    }

    /**
     * A session on the rewritten graph, closing {@code original}; or {@code original} itself when the
     * graph cannot be rewritten or the rewrite does not compute the same logits.
     */
    OrtSession rewrite(OrtRuntime ort, OrtSession original) {
        String why;
        try {
            ModelProto model;
            try (InputStream in = new BufferedInputStream(Files.newInputStream(graph), 1 << 20)) {
                model = ModelProto.parseFrom(in);
            }
            GatherRewrite.Rewritten rewritten = GatherRewrite.rewrite(model, "logits");
            PerPositionTail.Tail tail = rewritten.tail();
            cache.store(file, rewritten.model()::writeTo);
            // The parsed graph holds as much heap as the file is large; let it go before ONNX Runtime loads.
            model = null;
            rewritten = null;
            OrtSession session = ort.openForVaryingShapes(file);
            String mismatch = probe(ort.env(), original, session);
            if (mismatch == null) {
                LOG.info("masked-LM graph " + graph + ": logits at the masks only, gathered before '"
                        + tail.entry() + "' (then " + tail.summary() + "); rewritten graph " + file);
                original.close();
                return session;
            }
            session.close();
            Files.deleteIfExists(RewriteCache.checksum(file));
            Files.deleteIfExists(file);
            why = "the rewritten graph's logits differ from the export's: " + mismatch;
        } catch (PerPositionTail.NotRecognised e) {
            why = "its masked-LM head was not recognised: " + e.getMessage();
        } catch (IOException | OrtException | ModelLoadException | RuntimeException e) {
            why = "the rewrite failed: " + e;
        } catch (OutOfMemoryError e) {
            why = "the heap cannot hold the graph while rewriting it (about its file size is needed)";
        }
        LOG.warning("masked-LM graph " + graph + " is served as exported, with logits at every position "
                + "(padded tokens × vocabulary × 4 bytes per pass; lower spindle.embeddings.max-tokens-per-pass to "
                + "bound them), because " + why);
        return original;
    }

    /** Null when both sessions give the same logits at a few positions of a padded two-row batch, else how not. */
    static String probe(OrtEnvironment env, OrtSession original, OrtSession rewritten) throws OrtException {
        List<int[]> rows = List.of(ids(9, 5), ids(6, 40));
        int seq = BertFeed.paddedLength(rows);
        long[] at = {1, 4, 8, seq, (long) seq + 2, (long) seq + 5};
        float[] all = new BertFeed(env, original, "logits").run(rows).values();
        float[] picked = new BertFeed(env, rewritten, "logits").run(rows, at).values();
        int vocab = all.length / (rows.size() * seq);
        if (picked.length != at.length * vocab) {
            return "expected " + at.length + " × " + vocab + " logits, got " + picked.length;
        }
        for (int i = 0; i < at.length; i++) {
            for (int v = 0; v < vocab; v++) {
                float want = all[(int) at[i] * vocab + v];
                float got = picked[i * vocab + v];
                if (!(Math.abs(want - got) <= TOLERANCE * Math.max(1, Math.abs(want)))) {
                    return "at flat position " + at[i] + ", token " + v + ": " + got + " instead of " + want;
                }
            }
        }
        return null;
    }

    private static int[] ids(int n, int from) {
        int[] ids = new int[n];
        for (int i = 0; i < n; i++) {
            ids[i] = from + 3 * i;
        }
        return ids;
    }
}
