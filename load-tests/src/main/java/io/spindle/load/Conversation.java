package io.spindle.load;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * One conversation of the chat scenario: a system prompt shared by every conversation of a run,
 * one user message of fresh words per turn, and the assistant's answers as they were streamed.
 * Turn k sends the whole history: system, then user 1, answer 1, …, user k−1, answer k−1, then
 * user k, so every turn's messages start with the previous turn's messages plus its answer (what a
 * prefix cache can reuse). Words are {@link Workload#WORDS}, one GPT-2 token each.
 * Not thread-safe: one conversation is driven by one client thread, one turn after the other.
 */
final class Conversation {
    private final int index;
    private final String system;
    private final List<String> users;
    private final List<String> answers = new ArrayList<>();

    Conversation(int index, String system, List<String> users) {
        this.index = index;
        this.system = system;
        this.users = List.copyOf(users);
    }

    /**
     * {@code count} conversations of {@code turns} turns: the system prompt is the same
     * {@code systemTokens} words in all of them (seeded by {@code seed} alone), the user messages are
     * {@code userTokens} words drawn per conversation and turn.
     */
    static List<Conversation> generate(int count, int turns, int systemTokens, int userTokens, long seed) {
        String system = words(new Random(seed), systemTokens);
        List<Conversation> out = new ArrayList<>(count);
        for (int c = 0; c < count; c++) {
            Random rnd = new Random(seed * 1_000_003L + 7919L * (c + 1));
            List<String> users = new ArrayList<>(turns);
            for (int t = 0; t < turns; t++) {
                users.add(words(rnd, userTokens));
            }
            out.add(new Conversation(c, system, users));
        }
        return out;
    }

    /** {@code count} words: "The", then words drawn from {@link Workload#WORDS}. */
    static String words(Random rnd, int count) {
        StringBuilder sb = new StringBuilder("The");
        for (int w = 1; w < count; w++) {
            sb.append(' ').append(Workload.WORDS[rnd.nextInt(Workload.WORDS.length)]);
        }
        return sb.toString();
    }

    int index() {
        return index;
    }

    int turns() {
        return users.size();
    }

    String system() {
        return system;
    }

    /** Answers recorded so far: turn k may be sent once k − 1 of them are in. */
    int answered() {
        return answers.size();
    }

    /** The messages of turn {@code turn} (1-based): the history so far and the turn's user message. */
    List<ChatTransport.Message> messages(int turn) {
        if (turn < 1 || turn > users.size() || answers.size() < turn - 1) {
            throw new IllegalStateException("turn " + turn + " of " + users.size() + " with " + answers.size() + " answers");
        }
        List<ChatTransport.Message> m = new ArrayList<>(2 * turn);
        m.add(new ChatTransport.Message("system", system));
        for (int t = 0; t < turn - 1; t++) {
            m.add(new ChatTransport.Message("user", users.get(t)));
            m.add(new ChatTransport.Message("assistant", answers.get(t)));
        }
        m.add(new ChatTransport.Message("user", users.get(turn - 1)));
        return m;
    }

    /** Records the answer to the turn last sent. */
    void answer(String text) {
        if (answers.size() >= users.size()) {
            throw new IllegalStateException("every turn is answered");
        }
        answers.add(text);
    }
}
