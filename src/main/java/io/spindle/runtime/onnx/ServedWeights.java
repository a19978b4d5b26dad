package io.spindle.runtime.onnx;

import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import io.spindle.runtime.onnx.quant.QuantizeSettings;
import io.spindle.runtime.onnx.quant.WeightQuantizer;

import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.logging.Logger;

/**
 * The weights one model is served with: its {@code spindle.models.quantize} setting applied to each
 * graph it serves, and what those graphs hold. A loader settles on a graph first (a rewrite or a
 * compiled form, probed against the export in float32, where quantization noise would hide a wrong
 * rewrite) and only then hands the file and its probed session to {@link #serve}, which swaps in the
 * quantized graph: written by {@link WeightQuantizer}, cached by the source's SHA-256 and the settings
 * ({@link RewriteCache}), the float graph with one warning saying why when it cannot be.
 */
public final class ServedWeights {
    private static final Logger LOG = Logger.getLogger(ServedWeights.class.getName());

    private final QuantizeSettings settings;
    private final Path cacheDir;
    /** What each served session's graph holds; a loader that closes a session it got here forgets it. */
    private final Map<OrtSession, WeightFormat> served = new LinkedHashMap<>();

    /**
     * @param settings what to quantize to; {@link QuantizeSettings#NONE} serves the graphs as they are
     * @param cacheDir where quantized graphs are kept; null quantizes nothing (a warning says so)
     */
    public ServedWeights(QuantizeSettings settings, Path cacheDir) {
        this.settings = settings;
        this.cacheDir = cacheDir;
    }

    /** Graphs served as they are; their formats are still recorded. */
    public static ServedWeights asExported() {
        return new ServedWeights(QuantizeSettings.NONE, null);
    }

    public QuantizeSettings settings() {
        return settings;
    }

    /** Whether graphs are to be quantized (a loader then reopens graphs it probed in float32). */
    public boolean quantizes() {
        return settings.format() != QuantizeSettings.Format.NONE && cacheDir != null;
    }

    /**
     * The session to serve for {@code file}, whose probed session is {@code probed}: {@code probed}
     * itself when nothing is to be quantized, else a session on the quantized graph (closing
     * {@code probed}), or {@code probed} again when the graph cannot be quantized or its quantized form
     * does not open.
     */
    public OrtSession serve(OrtSession probed, Path file, HeadGather.Opener opener) throws ModelLoadException {
        Path quantized = settings.format() == QuantizeSettings.Format.NONE ? null : quantized(file);
        if (quantized == null) {
            record(probed, file);
            return probed;
        }
        OrtSession session;
        try {
            session = opener.open(quantized);
        } catch (ModelLoadException e) {
            LOG.warning("graph " + file + " is served in float: ONNX Runtime cannot open its quantized form " + quantized
                    + " (" + e.getMessage() + ")");
            discard(quantized);
            record(probed, file);
            return probed;
        }
        try {
            probed.close();
        } catch (OrtException e) {
            LOG.fine("closing the float session of " + file + ": " + e.getMessage());
        }
        record(session, quantized);
        return session;
    }

    /** A session on {@code file} in the form it is served in (for graphs that need no probe). */
    public OrtSession open(Path file, HeadGather.Opener opener) throws ModelLoadException {
        Path quantized = settings.format() == QuantizeSettings.Format.NONE ? null : quantized(file);
        if (quantized != null) {
            try {
                OrtSession session = opener.open(quantized);
                record(session, quantized);
                return session;
            } catch (ModelLoadException e) {
                LOG.warning("graph " + file + " is served in float: ONNX Runtime cannot open its quantized form "
                        + quantized + " (" + e.getMessage() + ")");
                discard(quantized);
            }
        }
        OrtSession session = opener.open(file);
        record(session, file);
        return session;
    }

    /** Forgets {@code session}: the loader closes it and serves another. */
    public synchronized void forget(OrtSession session) {
        served.remove(session);
    }

    /** What the served graphs' weights are, for {@code /v1/models}. */
    public synchronized WeightFormat format() {
        return WeightFormat.combine(List.copyOf(served.values()));
    }

    private synchronized void record(OrtSession session, Path file) {
        try {
            served.put(session, WeightFormat.read(file));
        } catch (IOException | RuntimeException e) {
            // ONNX Runtime has just opened it; a graph this cannot read is reported as unknown, not refused.
            LOG.warning("cannot read the weight format of " + file + ": " + e);
        }
    }

    /** The quantized form of {@code file} (cached, or written now), or null when it is served in float. */
    private Path quantized(Path file) {
        if (cacheDir == null) {
            LOG.warning("graph " + file + " is served in float: quantization to " + settings.describe()
                    + " was asked for but no cache directory for quantized graphs was given");
            return null;
        }
        String why;
        try {
            RewriteCache cache = new RewriteCache(cacheDir);
            Path out = cache.file(file, WeightQuantizer.VERSION + "-" + settings.cacheTag());
            if (cache.valid(out)) {
                LOG.info("graph " + file + ": weights quantized to " + settings.describe() + ", quantized graph " + out
                        + " (cached)");
                return out;
            }
            long t0 = System.nanoTime();
            ModelProto model;
            try (InputStream in = new BufferedInputStream(Files.newInputStream(file), 1 << 20)) {
                model = ModelProto.parseFrom(in);
            }
            WeightQuantizer.Result result = WeightQuantizer.quantize(model, settings);
            model = null;
            if (result.quantizedMatMuls() + result.quantizedGathers() == 0) {
                why = "it has no weights to quantize" + leftAsIs(result);
            } else {
                cache.store(out, result.model()::writeTo);
                LOG.info(String.format("graph %s: weights quantized to %s in %d ms: %d MatMuls%s, %.1f MB of float weights "
                                + "→ %.1f MB%s; quantized graph %s", file, settings.describe(),
                        (System.nanoTime() - t0) / 1_000_000, result.quantizedMatMuls(),
                        result.quantizedGathers() > 0 ? " and " + result.quantizedGathers() + " embedding Gathers" : "",
                        result.floatWeightBytesBefore() / 1e6, result.weightBytesAfter() / 1e6, leftAsIs(result), out));
                return out;
            }
        } catch (IOException | RuntimeException e) {
            why = "quantizing it failed: " + e;
        } catch (OutOfMemoryError e) {
            why = "the heap cannot hold the graph while quantizing it (about its file size is needed)";
        }
        LOG.warning("graph " + file + " is served in float, not quantized to " + settings.describe()
                + " (spindle.models.quantize), because " + why);
        return null;
    }

    private static String leftAsIs(WeightQuantizer.Result result) {
        List<String> left = result.leftAsIs();
        if (left.isEmpty()) {
            return "";
        }
        return "; left in float: " + String.join("; ", left.subList(0, Math.min(left.size(), 5)))
                + (left.size() > 5 ? " and " + (left.size() - 5) + " more" : "");
    }

    private static void discard(Path file) {
        try {
            Files.deleteIfExists(RewriteCache.checksum(file));
            Files.deleteIfExists(file);
        } catch (IOException ignored) {
            // The next load rebuilds it.
        }
    }
}
