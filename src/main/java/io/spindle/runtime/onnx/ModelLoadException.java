package io.spindle.runtime.onnx;

import java.nio.file.Path;

/** A model directory that cannot be served; the message names the file and what is wrong with it. */
public final class ModelLoadException extends Exception {
    public ModelLoadException(Path file, String problem) {
        super(file + ": " + problem);
    }

    public ModelLoadException(Path file, String problem, Throwable cause) {
        super(file + ": " + problem, cause);
    }
}
