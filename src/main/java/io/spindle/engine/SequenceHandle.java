package io.spindle.engine;

/** A submitted sequence: its engine-wide id and the way to cancel it. */
public record SequenceHandle(long sequenceId, EngineClient engine) {
    public void abort() {
        engine.abort(sequenceId);
    }
}
