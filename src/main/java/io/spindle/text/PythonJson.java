package io.spindle.text;

import java.lang.reflect.Array;
import java.util.Map;

/**
 * JSON written as Python's {@code json.dumps(x, ensure_ascii=False, indent=indent)} writes it, which
 * is what transformers' {@code tojson} template filter does: {@code ", "} and {@code ": "} between
 * items without indent, {@code ","} and newlines with it, non-ASCII text as is. Chat templates put
 * tool schemas and call arguments into prompts with it, so a model sees the bytes it was trained on.
 */
public final class PythonJson {
    private PythonJson() {
    }

    /** @param indent null for one line, else spaces per level (Python's {@code indent=n}) */
    public static String dumps(Object value, Integer indent) {
        StringBuilder out = new StringBuilder();
        write(out, value, indent, 0);
        return out.toString();
    }

    private static void write(StringBuilder out, Object v, Integer indent, int level) {
        switch (v) {
            case null -> out.append("null");
            case CharSequence s -> string(out, s.toString());
            case Boolean b -> out.append(b ? "true" : "false");
            case Double d -> out.append(floatRepr(d));
            case Float f -> out.append(floatRepr(f.doubleValue()));
            case java.math.BigDecimal d -> out.append(floatRepr(d.doubleValue()));
            case Number n -> out.append(n);
            case Map<?, ?> m -> {
                if (m.isEmpty()) {
                    out.append("{}");
                    return;
                }
                out.append('{');
                boolean first = true;
                for (Map.Entry<?, ?> e : m.entrySet()) {
                    separator(out, first, indent, level + 1);
                    first = false;
                    string(out, String.valueOf(e.getKey()));
                    out.append(": ");
                    write(out, e.getValue(), indent, level + 1);
                }
                close(out, indent, level);
                out.append('}');
            }
            case Iterable<?> items -> {
                if (!items.iterator().hasNext()) {
                    out.append("[]");
                    return;
                }
                out.append('[');
                boolean first = true;
                for (Object item : items) {
                    separator(out, first, indent, level + 1);
                    first = false;
                    write(out, item, indent, level + 1);
                }
                close(out, indent, level);
                out.append(']');
            }
            default -> {
                if (v.getClass().isArray()) {
                    java.util.List<Object> list = new java.util.ArrayList<>();
                    for (int i = 0; i < Array.getLength(v); i++) {
                        list.add(Array.get(v, i));
                    }
                    write(out, list, indent, level);
                } else {
                    string(out, v.toString());
                }
            }
        }
    }

    private static void separator(StringBuilder out, boolean first, Integer indent, int level) {
        if (indent == null) {
            if (!first) {
                out.append(", ");
            }
            return;
        }
        if (!first) {
            out.append(',');
        }
        out.append('\n').append(" ".repeat(indent * level));
    }

    private static void close(StringBuilder out, Integer indent, int level) {
        if (indent != null) {
            out.append('\n').append(" ".repeat(indent * level));
        }
    }

    /**
     * Python's float repr: the shortest digits that read back (as Java's), written plainly for
     * 1e-4 <= |d| < 1e16 and as {@code 1.5e+300} / {@code 1e-05} outside.
     */
    static String floatRepr(double d) {
        if (Double.isNaN(d)) {
            return "NaN";
        }
        if (Double.isInfinite(d)) {
            return d > 0 ? "Infinity" : "-Infinity";
        }
        if (d == 0) {
            return 1 / d < 0 ? "-0.0" : "0.0";
        }
        java.math.BigDecimal exact = new java.math.BigDecimal(Double.toString(d)).stripTrailingZeros();
        double abs = Math.abs(d);
        if (abs >= 1e-4 && abs < 1e16) {
            String plain = exact.toPlainString();
            return plain.contains(".") ? plain : plain + ".0";
        }
        String digits = exact.unscaledValue().abs().toString();
        int exponent = digits.length() - 1 - exact.scale();
        String mantissa = digits.length() == 1 ? digits : digits.charAt(0) + "." + digits.substring(1);
        return (d < 0 ? "-" : "") + mantissa + "e" + (exponent < 0 ? "-" : "+")
                + (Math.abs(exponent) < 10 ? "0" : "") + Math.abs(exponent);
    }

    private static void string(StringBuilder out, String s) {
        out.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> out.append("\\\"");
                case '\\' -> out.append("\\\\");
                case '\n' -> out.append("\\n");
                case '\r' -> out.append("\\r");
                case '\t' -> out.append("\\t");
                case '\b' -> out.append("\\b");
                case '\f' -> out.append("\\f");
                default -> {
                    if (c < 0x20) {
                        out.append(String.format("\\u%04x", (int) c));
                    } else {
                        out.append(c);
                    }
                }
            }
        }
        out.append('"');
    }
}
