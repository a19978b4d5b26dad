package io.spindle.api.rest;

import io.spindle.generation.GenerationEvent;

import java.util.ArrayList;
import java.util.List;

/** Helpers the non-streaming answers share. */
final class Shapes {
    private Shapes() {
    }

    /** Every generated token in order, the one carried by the final event included. */
    static List<GenerationEvent.Token> tokens(List<GenerationEvent> events) {
        List<GenerationEvent.Token> out = new ArrayList<>(events.size());
        for (GenerationEvent ev : events) {
            if (ev instanceof GenerationEvent.Token t) {
                out.add(t);
            } else if (ev instanceof GenerationEvent.Done d && d.lastToken() != null) {
                out.add(d.lastToken());
            }
        }
        return out;
    }

    static GenerationEvent.Done done(List<GenerationEvent> events) {
        for (GenerationEvent ev : events) {
            if (ev instanceof GenerationEvent.Done d) {
                return d;
            }
        }
        throw new IllegalStateException("generation ended without a final event");
    }
}
