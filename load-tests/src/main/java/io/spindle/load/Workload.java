package io.spindle.load;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * Prompts of controlled length, seeded. Each prompt is made of common English words that GPT-2's BPE
 * encodes as one token each (with their leading space), so {@code inputTokens} words give about as many
 * prompt tokens; the server's own count comes back in each response's usage. Output length is fixed
 * by {@code max_tokens} with {@code ignore_eos} (TGI has no such flag: it may stop early at EOS).
 */
public final class Workload {
    static final String[] WORDS = ("the of and to in is that for it as was with be by on not he this are or his "
            + "from at which but have an had they you were their one all we can her has there been if more when will "
            + "would who so no time people year good new first way day man thing world life hand part child eye "
            + "woman place work week case point number group problem fact water house story city name light "
            + "night river money music power war game book word line end state side home school family room "
            + "country question body table door market road field sound voice river heart").split(" ");

    public record Item(String prompt, int maxTokens) {
    }

    private Workload() {
    }

    /**
     * @param rangeRatio lengths drawn uniformly from [L·(1−r), L·(1+r)], as vLLM's random dataset does
     */
    public static List<Item> generate(int count, int inputTokens, int outputTokens, double rangeRatio, long seed) {
        Random rnd = new Random(seed);
        List<Item> items = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            int in = draw(rnd, inputTokens, rangeRatio);
            int out = draw(rnd, outputTokens, rangeRatio);
            StringBuilder sb = new StringBuilder("The");
            for (int w = 1; w < in; w++) {
                sb.append(' ').append(WORDS[rnd.nextInt(WORDS.length)]);
            }
            items.add(new Item(sb.toString(), out));
        }
        return items;
    }

    private static int draw(Random rnd, int length, double ratio) {
        if (ratio <= 0) {
            return Math.max(1, length);
        }
        int lo = (int) Math.floor(length * (1 - ratio));
        int hi = (int) Math.ceil(length * (1 + ratio));
        return Math.max(1, lo + rnd.nextInt(Math.max(1, hi - lo + 1)));
    }
}
