package io.spindle.sampling.constraint;

import java.util.ArrayList;
import java.util.List;

/**
 * Translates the common subset of PCRE / Python / JavaScript regular expressions that constrained
 * decoding supports into dk.brics.automaton's syntax, with code-point semantics: {@code .}, classes
 * and escapes match whole Unicode characters (supplementary ones as their surrogate pair, which
 * {@link ByteDfa} turns into 4 UTF-8 bytes). The pattern must match the whole output, so a leading
 * {@code ^} and a trailing {@code $} are accepted and dropped.
 *
 * <p>Rejected with a {@link ConstraintException} naming the feature: lookaround, backreferences, word
 * boundaries, anchors inside the pattern, inline flags, possessive quantifiers, Unicode property classes.
 * Lazy quantifiers equal greedy ones for a whole-output match and are accepted.
 */
final class RegexTranslator {
    static final int MAX_CODE_POINT = 0x10FFFF;
    private static final int[][] DIGIT = {{'0', '9'}};
    private static final int[][] WORD = {{'0', '9'}, {'A', 'Z'}, {'_', '_'}, {'a', 'z'}};
    private static final int[][] SPACE = {{'\t', '\r'}, {' ', ' '}};

    private final String p;
    private int i;
    private final StringBuilder out = new StringBuilder();

    private RegexTranslator(String pattern) {
        this.p = pattern;
    }

    static String toBrics(String pattern) {
        if (pattern == null) {
            throw new ConstraintException("regex: the pattern is missing");
        }
        RegexTranslator t = new RegexTranslator(pattern);
        t.translate();
        return t.out.toString();
    }

    private void translate() {
        int end = p.length();
        if (end > 0 && p.charAt(end - 1) == '$' && !escaped(end - 1)) {
            end--;
        }
        i = p.startsWith("^") ? 1 : 0;
        while (i < end) {
            int c = p.codePointAt(i);
            i += Character.charCount(c);
            switch (c) {
                case '\\' -> escape(end);
                case '[' -> emitSet(charClass(end));
                case '.' -> emitSet(complement(new int[][] {{'\n', '\n'}}));
                case '(' -> group();
                case ')', '|' -> out.append((char) c);
                case '*', '+', '?' -> {
                    out.append((char) c);
                    quantifierSuffix(end);
                }
                case '{' -> brace(end);
                case '^', '$' -> throw unsupported("anchors (^, $) other than at the start and end of the pattern");
                default -> literal(c);
            }
        }
        if (i > end) {
            throw new ConstraintException("regex: the pattern ends inside an escape or a class");
        }
    }

    private boolean escaped(int index) {
        int n = 0;
        for (int k = index - 1; k >= 0 && p.charAt(k) == '\\'; k--) {
            n++;
        }
        return n % 2 == 1;
    }

    private void escape(int end) {
        if (i >= end) {
            throw new ConstraintException("regex: the pattern ends with a lone backslash");
        }
        int c = p.codePointAt(i);
        switch (c) {
            case 'd' -> { i++; emitSet(DIGIT); }
            case 'D' -> { i++; emitSet(complement(DIGIT)); }
            case 'w' -> { i++; emitSet(WORD); }
            case 'W' -> { i++; emitSet(complement(WORD)); }
            case 's' -> { i++; emitSet(SPACE); }
            case 'S' -> { i++; emitSet(complement(SPACE)); }
            case 'b', 'B', 'A', 'z', 'Z', 'G' -> throw unsupported("\\" + (char) c + " (word boundaries and anchors)");
            case 'p', 'P' -> throw unsupported("\\" + (char) c + "{…} (Unicode property classes)");
            case 'k' -> throw unsupported("\\k (backreferences)");
            default -> {
                if (c >= '1' && c <= '9') {
                    throw unsupported("\\" + (char) c + " (backreferences)");
                }
                literal(escapedCodePoint());
            }
        }
    }

    /** After a backslash: the code point it denotes (n, xHH, x{…}, u{…}, uHHHH escapes, or the character itself). */
    private int escapedCodePoint() {
        int c = p.codePointAt(i);
        i += Character.charCount(c);
        return switch (c) {
            case 'n' -> '\n';
            case 't' -> '\t';
            case 'r' -> '\r';
            case 'f' -> '\f';
            case 'v' -> 0x0B;
            case '0' -> 0;
            case 'x' -> hex(2);
            case 'u' -> hex(4);
            default -> {
                if (Character.isLetterOrDigit(c)) {
                    throw unsupported("the escape \\" + Character.toString(c));
                }
                yield c;
            }
        };
    }

    private int hex(int digits) {
        int close = -1;
        if (i < p.length() && p.charAt(i) == '{') {
            close = p.indexOf('}', i);
            if (close < 0) {
                throw new ConstraintException("regex: unterminated \\x{…} or \\u{…} escape");
            }
        }
        String h = close > 0 ? p.substring(i + 1, close) : p.substring(i, Math.min(p.length(), i + digits));
        try {
            int cp = Integer.parseInt(h, 16);
            if (cp > MAX_CODE_POINT || h.isEmpty() || (close < 0 && h.length() != digits)) {
                throw new NumberFormatException();
            }
            i = close > 0 ? close + 1 : i + digits;
            return cp;
        } catch (NumberFormatException e) {
            throw new ConstraintException("regex: malformed hexadecimal escape at offset " + i);
        }
    }

    private void group() {
        if (i < p.length() && p.charAt(i) == '?') {
            if (p.startsWith("?:", i)) {
                i += 2;
            } else if (p.startsWith("?P<", i) || (p.startsWith("?<", i) && !p.startsWith("?<=", i) && !p.startsWith("?<!", i))) {
                int close = p.indexOf('>', i);
                if (close < 0) {
                    throw new ConstraintException("regex: unterminated group name");
                }
                i = close + 1;
            } else if (p.startsWith("?=", i) || p.startsWith("?!", i) || p.startsWith("?<=", i) || p.startsWith("?<!", i)) {
                throw unsupported("lookaround (?=, ?!, ?<=, ?<!)");
            } else {
                throw unsupported("inline flags and other (?…) groups");
            }
        }
        out.append('(');
    }

    private void brace(int end) {
        int close = p.indexOf('}', i);
        String body = close < 0 || close >= end ? null : p.substring(i, close);
        if (body == null || !body.matches("\\d*(,\\d*)?") || body.isEmpty() || body.equals(",")) {
            literal('{');
            return;
        }
        int comma = body.indexOf(',');
        String min = comma < 0 ? body : body.substring(0, comma);
        String max = comma < 0 ? body : body.substring(comma + 1);
        min = min.isEmpty() ? "0" : min;
        if (!max.isEmpty() && Integer.parseInt(max) < Integer.parseInt(min)) {
            throw new ConstraintException("regex: the repetition {" + body + "} has its maximum below its minimum");
        }
        out.append('{').append(Integer.parseInt(min));
        if (comma >= 0) {
            out.append(',');
            if (!max.isEmpty()) {
                out.append(Integer.parseInt(max));
            }
        }
        out.append('}');
        i = close + 1;
        quantifierSuffix(end);
    }

    private void quantifierSuffix(int end) {
        if (i < end && p.charAt(i) == '?') {
            i++; // lazy: the same language
        } else if (i < end && p.charAt(i) == '+') {
            throw unsupported("possessive quantifiers");
        }
    }

    /** After '[': the class's code-point ranges, complemented when it starts with '^'. */
    private int[][] charClass(int end) {
        boolean negate = i < end && p.charAt(i) == '^';
        if (negate) {
            i++;
        }
        List<int[]> ranges = new ArrayList<>();
        boolean first = true;
        while (true) {
            if (i >= end) {
                throw new ConstraintException("regex: unterminated character class");
            }
            int c = p.codePointAt(i);
            if (c == ']' && !first) {
                i++;
                break;
            }
            first = false;
            if (p.startsWith("[:", i)) {
                throw unsupported("POSIX classes ([:alpha:])");
            }
            i += Character.charCount(c);
            int lo;
            if (c == '\\') {
                int e = p.codePointAt(i);
                int[][] set = switch (e) {
                    case 'd' -> DIGIT;
                    case 'w' -> WORD;
                    case 's' -> SPACE;
                    default -> null;
                };
                if (set != null) {
                    i++;
                    ranges.addAll(List.of(set));
                    continue;
                }
                if (e == 'D' || e == 'W' || e == 'S' || e == 'p' || e == 'P' || e == 'b') {
                    throw unsupported("\\" + (char) e + " inside a character class");
                }
                lo = escapedCodePoint();
            } else {
                lo = c;
            }
            int hi = lo;
            if (i + 1 < end && p.charAt(i) == '-' && p.charAt(i + 1) != ']') {
                i++;
                int h = p.codePointAt(i);
                i += Character.charCount(h);
                hi = h == '\\' ? escapedCodePoint() : h;
                if (hi < lo) {
                    throw new ConstraintException("regex: the class range " + Character.toString(lo) + "-"
                            + Character.toString(hi) + " is out of order");
                }
            }
            ranges.add(new int[] {lo, hi});
        }
        int[][] set = normalize(ranges);
        return negate ? complement(set) : set;
    }

    private void literal(int cp) {
        emitSet(new int[][] {{cp, cp}});
    }

    /** Appends one code point out of {@code set} (sorted, disjoint) in brics syntax, as one atom. */
    private void emitSet(int[][] set) {
        out.append(setToBrics(set));
    }

    static String setToBrics(int[][] set) {
        List<String> parts = new ArrayList<>();
        StringBuilder bmp = new StringBuilder();
        int bmpRanges = 0;
        for (int[] r : withoutSurrogates(set)) {
            int lo = r[0];
            int hi = Math.min(r[1], 0xFFFF);
            if (lo <= hi) {
                bmp.append('\\').append((char) lo);
                if (hi > lo) {
                    bmp.append("-\\").append((char) hi);
                }
                bmpRanges++;
            }
            lo = Math.max(r[0], 0x10000);
            hi = r[1];
            if (lo <= hi) {
                supplementary(lo, hi, parts);
            }
        }
        if (bmpRanges == 1 && bmp.indexOf("-", 2) < 0) {
            parts.addFirst(bmp.toString());
        } else if (bmpRanges > 0) {
            parts.addFirst("[" + bmp + "]");
        }
        if (parts.isEmpty()) {
            return "(\\\uD800)"; // a lone surrogate: no UTF-8 text matches it, so ByteDfa drops the branch
        }
        return parts.size() == 1 && bmpRanges > 0 ? parts.getFirst() : "(" + String.join("|", parts) + ")";
    }

    private static void supplementary(int lo, int hi, List<String> parts) {
        char hlo = Character.highSurrogate(lo);
        char hhi = Character.highSurrogate(hi);
        char llo = Character.lowSurrogate(lo);
        char lhi = Character.lowSurrogate(hi);
        if (hlo == hhi) {
            parts.add("\\" + hlo + "[\\" + llo + "-\\" + lhi + "]");
            return;
        }
        parts.add("\\" + hlo + "[\\" + llo + "-\\\uDFFF]");
        if (hhi - hlo > 1) {
            parts.add("[\\" + (char) (hlo + 1) + "-\\" + (char) (hhi - 1) + "][\\\uDC00-\\\uDFFF]");
        }
        parts.add("\\" + hhi + "[\\\uDC00-\\" + lhi + "]");
    }

    private static List<int[]> withoutSurrogates(int[][] set) {
        List<int[]> out = new ArrayList<>();
        for (int[] r : set) {
            if (r[0] < 0xD800) {
                out.add(new int[] {r[0], Math.min(r[1], 0xD7FF)});
            }
            if (r[1] > 0xDFFF) {
                out.add(new int[] {Math.max(r[0], 0xE000), r[1]});
            }
        }
        return out;
    }

    static int[][] normalize(List<int[]> ranges) {
        List<int[]> sorted = new ArrayList<>(ranges);
        sorted.sort((a, b) -> Integer.compare(a[0], b[0]));
        List<int[]> merged = new ArrayList<>();
        for (int[] r : sorted) {
            if (!merged.isEmpty() && r[0] <= merged.getLast()[1] + 1) {
                merged.getLast()[1] = Math.max(merged.getLast()[1], r[1]);
            } else {
                merged.add(new int[] {r[0], r[1]});
            }
        }
        return merged.toArray(int[][]::new);
    }

    /** All code points (surrogates excluded) not in {@code set}. */
    static int[][] complement(int[][] set) {
        List<int[]> out = new ArrayList<>();
        int next = 0;
        for (int[] r : normalize(List.of(set))) {
            if (r[0] > next) {
                out.add(new int[] {next, r[0] - 1});
            }
            next = Math.max(next, r[1] + 1);
        }
        if (next <= MAX_CODE_POINT) {
            out.add(new int[] {next, MAX_CODE_POINT});
        }
        return out.toArray(int[][]::new);
    }

    private static ConstraintException unsupported(String what) {
        return new ConstraintException("regex: " + what + " not supported in constraints");
    }
}
