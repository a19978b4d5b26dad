package io.spindle.model;

import java.nio.file.Path;

/** A missing or malformed model file; the message names the file and the problem. */
public final class ModelConfigException extends Exception {
    public ModelConfigException(Path file, String problem) {
        super(file + ": " + problem);
    }
}
