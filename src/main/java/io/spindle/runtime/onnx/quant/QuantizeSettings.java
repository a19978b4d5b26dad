package io.spindle.runtime.onnx.quant;

import java.util.HashSet;
import java.util.Locale;
import java.util.Set;

/**
 * How {@link WeightQuantizer} rewrites a graph's weights: the format, and for the block-wise formats
 * the block size along K, symmetric or asymmetric blocks, ONNX Runtime's {@code accuracy_level} for
 * {@code MatMulNBits}, and whether the LM head and the embedding Gathers are quantized too.
 *
 * <p>Value syntax ({@link #parse}): {@code none} | {@code int8} | {@code int4}, optionally followed
 * by comma-separated options {@code block=N} (a power of two, 16..256), {@code symmetric} |
 * {@code asymmetric}, {@code accuracy=N} (0..4), {@code lm-head=yes|no}, {@code embeddings=yes|no};
 * or {@code int8-dynamic}, optionally followed by {@code lm-head=yes|no}.
 * The defaults and the measurements behind them are in {@link WeightQuantizer}'s class comment and
 * {@code load-tests/results/quantize/}.
 */
public record QuantizeSettings(Format format, int blockSize, boolean symmetric, int accuracyLevel, boolean lmHead,
                               boolean embeddings) {
    /**
     * {@code INT8_DYNAMIC}: ONNX Runtime's {@code quantize_dynamic} kind of int8, one scale per output
     * column of the weights and the activations quantized per tensor at run time
     * ({@code com.microsoft.DynamicQuantizeMatMul}); no blocks, no accuracy level, no embeddings.
     */
    public enum Format { NONE, INT8, INT4, INT8_DYNAMIC }

    public static final int DEFAULT_BLOCK = 32;
    public static final boolean DEFAULT_SYMMETRIC = false;
    public static final int DEFAULT_ACCURACY = 4;
    public static final boolean DEFAULT_LM_HEAD = true;
    public static final boolean DEFAULT_EMBEDDINGS = false;

    public static final QuantizeSettings NONE = new QuantizeSettings(Format.NONE, DEFAULT_BLOCK, DEFAULT_SYMMETRIC,
            DEFAULT_ACCURACY, DEFAULT_LM_HEAD, DEFAULT_EMBEDDINGS);

    public QuantizeSettings {
        if (blockSize < 16 || blockSize > 256 || Integer.bitCount(blockSize) != 1) {
            throw new IllegalArgumentException("block size " + blockSize + " is not a power of two in 16..256");
        }
        if (accuracyLevel < 0 || accuracyLevel > 4) {
            throw new IllegalArgumentException("accuracy level " + accuracyLevel + " is not in 0..4");
        }
    }

    /** The given format with every option at its default. */
    public static QuantizeSettings of(Format format) {
        return new QuantizeSettings(format, DEFAULT_BLOCK, DEFAULT_SYMMETRIC, DEFAULT_ACCURACY, DEFAULT_LM_HEAD,
                DEFAULT_EMBEDDINGS);
    }

    public boolean enabled() {
        return format != Format.NONE;
    }

    /** 4 or 8; 32 for {@link Format#NONE}. */
    public int bits() {
        return switch (format) {
            case INT4 -> 4;
            case INT8, INT8_DYNAMIC -> 8;
            case NONE -> 32;
        };
    }

    /** The name a value starts with: none, int8, int4, int8-dynamic. */
    public String formatName() {
        return format.name().toLowerCase(Locale.ROOT).replace('_', '-');
    }

    /**
     * Parses a config value.
     *
     * @param key named in every error, so that a bad setting is a start-up error the user can find
     * @throws IllegalArgumentException naming {@code key}, the bad part and what is allowed
     */
    public static QuantizeSettings parse(String key, String value) {
        if (value == null || value.isBlank()) {
            throw new IllegalArgumentException(key + " is empty; expected none, int8, int4 or int8-dynamic (e.g. int4,block=32)");
        }
        String[] parts = value.trim().toLowerCase(Locale.ROOT).split(",", -1);
        Format format = switch (parts[0].trim()) {
            case "none" -> Format.NONE;
            case "int8" -> Format.INT8;
            case "int4" -> Format.INT4;
            case "int8-dynamic" -> Format.INT8_DYNAMIC;
            default -> throw new IllegalArgumentException(key + "=" + value + ": unknown format '" + parts[0].trim()
                    + "'; expected none, int8, int4 or int8-dynamic, optionally followed by options such as ,block=32");
        };
        if (format == Format.NONE && parts.length > 1) {
            throw new IllegalArgumentException(key + "=" + value + ": 'none' takes no options");
        }
        int block = DEFAULT_BLOCK;
        boolean symmetric = DEFAULT_SYMMETRIC;
        int accuracy = DEFAULT_ACCURACY;
        boolean lmHead = DEFAULT_LM_HEAD;
        boolean embeddings = DEFAULT_EMBEDDINGS;
        Set<String> seen = new HashSet<>();
        for (int i = 1; i < parts.length; i++) {
            String part = parts[i].trim();
            int eq = part.indexOf('=');
            String name = eq < 0 ? part : part.substring(0, eq).trim();
            String arg = eq < 0 ? null : part.substring(eq + 1).trim();
            String option = name.equals("symmetric") || name.equals("asymmetric") ? "symmetric|asymmetric" : name;
            if (!seen.add(option)) {
                throw new IllegalArgumentException(key + "=" + value + ": option '" + option + "' given twice");
            }
            if (format == Format.INT8_DYNAMIC && !name.equals("lm-head")) {
                throw new IllegalArgumentException(key + "=" + value + ": int8-dynamic takes only lm-head=yes|no ('"
                        + part + "' is for the block formats int8 and int4: it has one scale per output column, "
                        + "no blocks, and leaves the embeddings float)");
            }
            switch (name) {
                case "block" -> block = number(key, value, name, arg, 16, 256);
                case "accuracy" -> accuracy = number(key, value, name, arg, 0, 4);
                case "symmetric", "asymmetric" -> {
                    if (arg != null) {
                        throw new IllegalArgumentException(key + "=" + value + ": '" + name + "' takes no value");
                    }
                    symmetric = name.equals("symmetric");
                }
                case "lm-head" -> lmHead = yesNo(key, value, name, arg);
                case "embeddings" -> embeddings = yesNo(key, value, name, arg);
                default -> throw new IllegalArgumentException(key + "=" + value + ": unknown option '" + part
                        + "'; allowed: block=N (power of two, 16..256), symmetric, asymmetric, accuracy=0..4, "
                        + "lm-head=yes|no, embeddings=yes|no");
            }
        }
        if (Integer.bitCount(block) != 1) {
            throw new IllegalArgumentException(key + "=" + value + ": block=" + block
                    + " is not a power of two (allowed: 16, 32, 64, 128, 256)");
        }
        return new QuantizeSettings(format, block, symmetric, accuracy, lmHead, embeddings);
    }

    private static int number(String key, String value, String name, String arg, int min, int max) {
        if (arg == null || arg.isEmpty()) {
            throw new IllegalArgumentException(key + "=" + value + ": '" + name + "' needs a number, e.g. " + name + "="
                    + (name.equals("block") ? 32 : 4));
        }
        int n;
        try {
            n = Integer.parseInt(arg);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(key + "=" + value + ": '" + name + "=" + arg + "' is not a whole number ("
                    + min + ".." + max + ")");
        }
        if (n < min || n > max) {
            throw new IllegalArgumentException(key + "=" + value + ": '" + name + "=" + arg + "' is out of range ("
                    + min + ".." + max + ")");
        }
        return n;
    }

    private static boolean yesNo(String key, String value, String name, String arg) {
        if ("yes".equals(arg)) {
            return true;
        }
        if ("no".equals(arg)) {
            return false;
        }
        throw new IllegalArgumentException(key + "=" + value + ": '" + name + "' is yes or no, not "
                + (arg == null ? "missing" : "'" + arg + "'"));
    }

    /** Stable short text for cache file names; changes whenever the quantized output would. */
    public String cacheTag() {
        if (format == Format.NONE) {
            return "none";
        }
        if (format == Format.INT8_DYNAMIC) {
            return formatName() + (lmHead ? "-head" : "-nohead");
        }
        return format.name().toLowerCase(Locale.ROOT) + "-b" + blockSize + (symmetric ? "-sym" : "-asym") + "-acc"
                + accuracyLevel + (lmHead ? "-head" : "-nohead") + (embeddings ? "-emb" : "");
    }

    /** For logs and /v1/models. */
    public String describe() {
        if (format == Format.NONE) {
            return "float (not quantized)";
        }
        if (format == Format.INT8_DYNAMIC) {
            return "int8-dynamic (weights int8 per output column, activations quantized at run time, LM head "
                    + (lmHead ? "quantized" : "float") + ")";
        }
        return format.name().toLowerCase(Locale.ROOT) + " (block " + blockSize + ", "
                + (symmetric ? "symmetric" : "asymmetric") + ", accuracy level " + accuracyLevel + ", LM head "
                + (lmHead ? "quantized" : "float") + (embeddings ? ", embeddings quantized" : "") + ")";
    }

    @Override
    public String toString() {
        return cacheTag();
    }
}
