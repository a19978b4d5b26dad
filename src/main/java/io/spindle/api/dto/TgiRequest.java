package io.spindle.api.dto;

import com.fasterxml.jackson.annotation.JsonProperty;

import java.util.List;

/** Hugging Face TGI {@code POST /generate} and {@code /generate_stream}. */
public record TgiRequest(String inputs, Parameters parameters, Boolean stream) {

    public record Parameters(
            @JsonProperty("max_new_tokens") Integer maxNewTokens,
            @JsonProperty("do_sample") Boolean doSample,
            Double temperature,
            @JsonProperty("top_k") Integer topK,
            @JsonProperty("top_p") Double topP,
            @JsonProperty("repetition_penalty") Double repetitionPenalty,
            @JsonProperty("frequency_penalty") Double frequencyPenalty,
            Long seed,
            List<String> stop,
            Boolean details,
            @JsonProperty("return_full_text") Boolean returnFullText,
            @JsonProperty("decoder_input_details") Boolean decoderInputDetails,
            @JsonProperty("typical_p") Double typicalP,
            Integer truncate,
            @JsonProperty("top_n_tokens") Integer topNTokens,
            com.fasterxml.jackson.databind.JsonNode grammar) {
        public static final Parameters NONE = new Parameters(null, null, null, null, null, null, null, null, null, null,
                null, null, null, null, null, null);
    }
}
