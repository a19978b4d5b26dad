package io.spindle.runtime.onnx.quant;

import ai.onnx.proto.OnnxMl.ModelProto;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;

/** A copy of a model directory with every graph quantized: what the lead's load-time step will serve. */
public final class QuantizedCopy {
    private QuantizedCopy() {
    }

    /** Copies {@code src} to {@code dst} (replacing what is there), quantizing each .onnx; results by file name. */
    public static Map<String, WeightQuantizer.Result> write(Path src, Path dst, QuantizeSettings settings) {
        return write(src, dst, settings, WeightQuantizer.Scales.SEARCH);
    }

    /** The same with the given scale method (round to nearest: the quant-v1 figures, for comparison). */
    public static Map<String, WeightQuantizer.Result> write(Path src, Path dst, QuantizeSettings settings,
                                                            WeightQuantizer.Scales scales) {
        Map<String, WeightQuantizer.Result> results = new TreeMap<>();
        try {
            Files.createDirectories(dst);
            try (Stream<Path> files = Files.walk(src)) {
                for (Path f : files.filter(Files::isRegularFile).toList()) {
                    Path to = dst.resolve(src.relativize(f).toString());
                    Files.createDirectories(to.getParent());
                    if (f.getFileName().toString().endsWith(".onnx")) {
                        WeightQuantizer.Result r = WeightQuantizer.quantize(ModelProto.parseFrom(Files.readAllBytes(f)), settings,
                                scales);
                        Files.write(to, r.model().toByteArray());
                        results.put(f.getFileName().toString(), r);
                    } else {
                        Files.copy(f, to, StandardCopyOption.REPLACE_EXISTING);
                    }
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return results;
    }
}
