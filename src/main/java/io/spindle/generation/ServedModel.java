package io.spindle.generation;

import io.spindle.engine.EncoderClient;
import io.spindle.engine.EngineClient;
import io.spindle.engine.request.SpindleException;
import io.spindle.model.ModelCard;
import io.spindle.sampling.constraint.TokenVocabulary;
import io.spindle.text.ChatTemplate;
import io.spindle.text.TextTokenizer;

/**
 * A model that is loaded and serving: its card, what runs it, and the text side of it. A decoder or
 * an encoder-decoder (text generation) has an {@code engine}; an encoder (embeddings or fill-mask,
 * as its card's tasks say) has an {@code encoder}; the other is null.
 */
public record ServedModel(ModelCard card, EngineClient engine, EncoderClient encoder, TextTokenizer tokenizer,
                          ChatTemplate chatTemplate, int[] eosTokenIds, TokenVocabulary vocabulary) {
    /** A model whose outputs cannot be constrained (no token bytes known). */
    public ServedModel(ModelCard card, EngineClient engine, EncoderClient encoder, TextTokenizer tokenizer,
                       ChatTemplate chatTemplate, int[] eosTokenIds) {
        this(card, engine, encoder, tokenizer, chatTemplate, eosTokenIds, null);
    }

    public String id() {
        return card.id();
    }

    public int contextLength() {
        return card.contextLength();
    }

    /** This model's decode engine; a 400 naming the model's family when it does not generate text. */
    public EngineClient requireGenerator(String endpoint) {
        if (engine == null) {
            throw SpindleException.invalid("model", "model '" + id() + "' is a " + card.family() + " model ("
                    + String.join(", ", card.tasks()) + "); " + endpoint + " needs a text-generation model");
        }
        return engine;
    }

    /**
     * A 400 unless chat prompts make sense for this model: a decoder-only model without a template
     * gets a generic one; an encoder-decoder without one is a text-to-text model, not a chat model.
     */
    public void requireChat() {
        if (card.encoderDecoder() && chatTemplate.isFallback()) {
            throw SpindleException.invalid("model", "model '" + id() + "' is a " + card.family()
                    + " text-to-text model without a chat template, so it cannot take chat messages; "
                    + "send the text as a prompt to /v1/completions or /generate");
        }
    }

    /** This model's encoder; a 400 naming the model's family when it does not embed. */
    public EncoderClient requireEmbedder(String endpoint) {
        return requireEncoder("embeddings", endpoint + " needs an embedding model");
    }

    /** This model's encoder; a 400 naming the model's family when it has no masked-LM head. */
    public EncoderClient requireFillMask(String endpoint) {
        return requireEncoder("fill-mask", endpoint + " needs a masked-language model (a fill-mask export)");
    }

    private EncoderClient requireEncoder(String task, String needs) {
        if (encoder == null || !card.tasks().contains(task)) {
            throw SpindleException.invalid("model", "model '" + id() + "' is a " + card.family() + " model ("
                    + String.join(", ", card.tasks()) + "); " + needs);
        }
        return encoder;
    }
}
