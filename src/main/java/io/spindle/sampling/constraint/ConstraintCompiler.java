package io.spindle.sampling.constraint;

import dk.brics.automaton.Automaton;
import dk.brics.automaton.BasicAutomata;
import dk.brics.automaton.RegExp;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Compiles constraints against a vocabulary, with a bounded LRU cache keyed by (kind, source text,
 * vocabulary fingerprint). Thread-safe; compile off the engine thread (before submission), since a
 * cold compile of a schema takes milliseconds to tens of milliseconds.
 */
public final class ConstraintCompiler {
    public static final int DEFAULT_CACHE_SIZE = 64;

    private record Key(String kind, String source, String vocabulary) {
    }

    /**
     * Told about every lookup and every compile, for metrics. Called on the compiling thread, outside
     * the cache's lock: implementations must be thread-safe and return at once.
     */
    public interface Listener {
        /** Hears nothing. */
        Listener NONE = new Listener() {
        };

        /** A constraint of {@code kind} ({@link ConstraintSpec#kind()}) was looked up; {@code hit}: found compiled. */
        default void constraintLookup(String kind, boolean hit) {
        }

        /**
         * A constraint of {@code kind} was compiled after a miss, in {@code nanos} (regex or schema to
         * byte DFA; the token index is built lazily while decoding). Not called when compiling fails.
         */
        default void constraintCompiled(String kind, long nanos) {
        }
    }

    private final Map<Key, CompiledConstraint> cache;
    private final Listener listener;
    private long hits;
    private long misses;

    public ConstraintCompiler() {
        this(DEFAULT_CACHE_SIZE);
    }

    public ConstraintCompiler(int capacity) {
        this(capacity, Listener.NONE);
    }

    public ConstraintCompiler(int capacity, Listener listener) {
        if (capacity < 1) {
            throw new IllegalArgumentException("cache capacity must be positive");
        }
        this.listener = listener;
        this.cache = new LinkedHashMap<>(16, 0.75f, true) {
            @Override
            protected boolean removeEldestEntry(Map.Entry<Key, CompiledConstraint> eldest) {
                return size() > capacity;
            }
        };
    }

    /**
     * The compiled constraint, from the cache or compiled now (outside the cache's lock, so a slow
     * compile does not hold up hits on other keys; two threads compiling the same key both succeed).
     *
     * @throws ConstraintException when the constraint is invalid, unsupported or cannot match anything
     */
    public CompiledConstraint compile(ConstraintSpec spec, TokenVocabulary vocabulary) {
        Key key = new Key(spec.kind(), spec.source(), vocabulary.fingerprint());
        CompiledConstraint cached;
        synchronized (cache) {
            cached = cache.get(key);
            if (cached != null) {
                hits++;
            } else {
                misses++;
            }
        }
        listener.constraintLookup(spec.kind(), cached != null);
        if (cached != null) {
            return cached;
        }
        CompiledConstraint c = compileUncached(spec, vocabulary);
        listener.constraintCompiled(spec.kind(), c.compileNanos());
        synchronized (cache) {
            cache.put(key, c);
        }
        return c;
    }

    public static CompiledConstraint compileUncached(ConstraintSpec spec, TokenVocabulary vocabulary) {
        long t0 = System.nanoTime();
        Automaton chars = switch (spec) {
            case ConstraintSpec.Regex r -> regex(r.pattern());
            case ConstraintSpec.Choice c -> choice(c);
            case ConstraintSpec.JsonSchema s -> JsonSchemaRegex.schema(s.schemaJson());
            case ConstraintSpec.JsonObject o -> JsonSchemaRegex.anyJsonObject();
        };
        if (chars.isEmpty()) {
            throw new ConstraintException(spec.kind() + ": the constraint cannot match any text");
        }
        ByteDfa dfa = ByteDfa.fromChars(chars);
        return new CompiledConstraint(spec, vocabulary, dfa, System.nanoTime() - t0);
    }

    private static Automaton regex(String pattern) {
        String brics = RegexTranslator.toBrics(pattern);
        try {
            return new RegExp(brics, RegExp.NONE).toAutomaton();
        } catch (IllegalArgumentException e) {
            throw new ConstraintException("regex: invalid pattern: " + e.getMessage(), e);
        }
    }

    private static Automaton choice(ConstraintSpec.Choice c) {
        if (c.choices().isEmpty()) {
            throw new ConstraintException("choice: the list of choices is empty");
        }
        Automaton a = BasicAutomata.makeEmpty();
        for (String s : c.choices()) {
            if (s == null) {
                throw new ConstraintException("choice: a choice is null");
            }
            a = a.union(BasicAutomata.makeString(s));
        }
        return a;
    }

    public long cacheHits() {
        synchronized (cache) {
            return hits;
        }
    }

    public long cacheMisses() {
        synchronized (cache) {
            return misses;
        }
    }

    public int cacheSize() {
        synchronized (cache) {
            return cache.size();
        }
    }
}
