package io.spindle.generation;

import io.spindle.engine.EngineClient;
import io.spindle.model.ModelCard;
import io.spindle.text.ChatTemplate;
import io.spindle.text.TextTokenizer;

/** A model that is loaded and serving: its card, its engine, and the text side of it. */
public record ServedModel(ModelCard card, EngineClient engine, TextTokenizer tokenizer, ChatTemplate chatTemplate,
                          int[] eosTokenIds) {
    public String id() {
        return card.id();
    }

    public int contextLength() {
        return card.contextLength();
    }
}
