package io.spindle.runtime.onnx;

import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;

import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.logging.Logger;

/**
 * Makes a graph that computes its {@code logits} at every position compute them at chosen positions
 * only: the graph rewritten by {@link GatherRewrite}, cached by {@link RewriteCache} under the source's
 * SHA-256. A rewrite is served only after a family-specific {@link Probe} found that it gives the
 * export's own logits; a graph whose head is not recognised, or whose rewrite disagrees, is served as
 * exported, and the caller says so in the log. Runs on the model-loading thread.
 */
public final class HeadGather {
    private static final Logger LOG = Logger.getLogger(HeadGather.class.getName());
    private static final String OUTPUT = "logits";

    /** Compares the original and rewritten sessions on a few positions: null when they agree, else how not. */
    @FunctionalInterface
    public interface Probe {
        String mismatch(OrtSession original, OrtSession rewritten) throws OrtException;
    }

    /** How a session is opened (the rewritten one is opened the same way as the original). */
    @FunctionalInterface
    public interface Opener {
        OrtSession open(Path file) throws ModelLoadException;
    }

    /** The session to serve, the graph it runs, and when that is the export as it was, why the rewrite was not used. */
    public record Outcome(OrtSession session, Path file, String whyNot) {
        public boolean rewritten() {
            return whyNot == null;
        }
    }

    /**
     * Null when {@code picked} ([positions × vocab], in the order of {@code at}) equals {@code all}
     * ([flat positions × vocab]) at flat positions {@code at} within {@code tolerance} (relative above 1),
     * else where it differs: what a probe asks of a rewrite.
     */
    public static String compareAt(float[] all, float[] picked, long[] at, int vocab, double tolerance) {
        if (picked.length != at.length * vocab) {
            return "expected " + at.length + " × " + vocab + " logits, got " + picked.length;
        }
        for (int i = 0; i < at.length; i++) {
            for (int v = 0; v < vocab; v++) {
                float want = all[(int) at[i] * vocab + v];
                float got = picked[i * vocab + v];
                if (!(Math.abs(want - got) <= tolerance * Math.max(1, Math.abs(want)))) {
                    return "at flat position " + at[i] + ", token " + v + ": " + got + " instead of " + want;
                }
            }
        }
        return null;
    }

    private final RewriteCache cache;
    private final Path graph;
    private final Path file;

    private HeadGather(RewriteCache cache, Path graph, Path file) {
        this.cache = cache;
        this.graph = graph;
        this.file = file;
    }

    public static HeadGather of(Path graph, Path cacheDir) throws IOException {
        RewriteCache cache = new RewriteCache(cacheDir);
        return new HeadGather(cache, graph, cache.file(graph, GatherRewrite.VERSION));
    }

    /** The cached rewrite of this graph, when there is a sound one. */
    public Path cached() throws IOException {
        if (!cache.valid(file)) {
            return null;
        }
        LOG.info("graph " + graph + ": logits at chosen positions only, rewritten graph " + file + " (cached)");
        return file;
    }

    /** Forgets the cached rewrite (a caller that could not use it). */
    public void discard() throws IOException {
        Files.deleteIfExists(RewriteCache.checksum(file));
        Files.deleteIfExists(file);
    }

    /**
     * A session on the rewritten graph, closing {@code original}; or {@code original} itself, with the
     * reason, when the graph cannot be rewritten or the rewrite does not compute the same logits.
     */
    public Outcome rewrite(Opener opener, OrtSession original, Probe probe) {
        String why;
        try {
            ModelProto model;
            try (InputStream in = new BufferedInputStream(Files.newInputStream(graph), 1 << 20)) {
                model = ModelProto.parseFrom(in);
            }
            GatherRewrite.Rewritten rewritten = GatherRewrite.rewrite(model, OUTPUT);
            PerPositionTail.Tail tail = rewritten.tail();
            cache.store(file, rewritten.model()::writeTo);
            // The parsed graph holds as much heap as the file is large; let it go before ONNX Runtime loads.
            model = null;
            rewritten = null;
            OrtSession session = opener.open(file);
            String mismatch = probe.mismatch(original, session);
            if (mismatch == null) {
                LOG.info("graph " + graph + ": logits at chosen positions only, gathered before '" + tail.entry()
                        + "' (then " + tail.summary() + "); rewritten graph " + file);
                original.close();
                return new Outcome(session, file, null);
            }
            session.close();
            discard();
            why = "the rewritten graph's logits differ from the export's: " + mismatch;
        } catch (PerPositionTail.NotRecognised e) {
            why = "its head was not recognised: " + e.getMessage();
        } catch (IOException | OrtException | ModelLoadException | RuntimeException e) {
            why = "the rewrite failed: " + e;
        } catch (OutOfMemoryError e) {
            why = "the heap cannot hold the graph while rewriting it (about its file size is needed)";
        }
        return new Outcome(original, graph, why);
    }
}
