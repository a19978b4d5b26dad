package io.spindle.sampling.constraint;

import java.math.BigInteger;
import java.util.ArrayList;
import java.util.List;

/**
 * A regular expression (the PCRE-like syntax {@link RegexTranslator} reads) for the decimal integers
 * in [lo, hi] as JSON writes them: no leading zeros, no "-0". The classic construction: split by
 * digit count, then per digit position the digits between the bounds, the bounds' own prefixes on
 * either side. Its size grows with the number of digits, not with the width of the range.
 */
final class IntegerRange {
    private IntegerRange() {
    }

    static String regex(BigInteger lo, BigInteger hi) {
        if (lo.compareTo(hi) > 0) {
            throw new IllegalArgumentException("empty range [" + lo + ", " + hi + "]");
        }
        if (hi.signum() < 0) {
            return "-(" + nonNegative(hi.negate(), lo.negate()) + ")";
        }
        if (lo.signum() >= 0) {
            return "(" + nonNegative(lo, hi) + ")";
        }
        return "(-(" + nonNegative(BigInteger.ONE, lo.negate()) + ")|" + nonNegative(BigInteger.ZERO, hi) + ")";
    }

    private static String nonNegative(BigInteger a, BigInteger b) {
        List<String> alternatives = new ArrayList<>();
        int from = a.toString().length();
        int to = b.toString().length();
        for (int len = from; len <= to; len++) {
            BigInteger lo = len == from ? a : BigInteger.TEN.pow(len - 1);
            BigInteger hi = len == to ? b : BigInteger.TEN.pow(len).subtract(BigInteger.ONE);
            alternatives.add(sameLength(lo.toString(), hi.toString()));
        }
        return String.join("|", alternatives);
    }

    /** The numbers from x to y, both of the same length. */
    private static String sameLength(String x, String y) {
        int n = x.length();
        if (x.equals(y)) {
            return x;
        }
        if (n == 1) {
            return "[" + x + "-" + y + "]";
        }
        char x0 = x.charAt(0);
        char y0 = y.charAt(0);
        String restX = x.substring(1);
        String restY = y.substring(1);
        if (x0 == y0) {
            return x0 + "(" + sameLength(restX, restY) + ")";
        }
        String zeros = "0".repeat(n - 1);
        String nines = "9".repeat(n - 1);
        List<String> parts = new ArrayList<>(3);
        char midFrom = (char) (x0 + 1);
        char midTo = (char) (y0 - 1);
        if (restX.equals(zeros)) {
            midFrom = x0;
        } else {
            parts.add(x0 + "(" + sameLength(restX, nines) + ")");
        }
        if (restY.equals(nines)) {
            midTo = y0;
        } else {
            parts.add(y0 + "(" + sameLength(zeros, restY) + ")");
        }
        if (midFrom <= midTo) {
            parts.add((midFrom == midTo ? String.valueOf(midFrom) : "[" + midFrom + "-" + midTo + "]") + "[0-9]{" + (n - 1) + "}");
        }
        return String.join("|", parts);
    }
}
