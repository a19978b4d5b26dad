package io.spindle.api.auth;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.List;

/**
 * The accepted API keys, held as SHA-256 digests so that comparing a presented key takes the same
 * time whatever it is (no early exit on the first differing byte, no length leak), and so that no
 * key sits in memory as text. Keys are never logged. Thread-safe.
 */
public final class ApiKeys {
    private final List<byte[]> digests;

    public ApiKeys(List<String> keys) {
        this.digests = keys.stream().map(String::strip).filter(k -> !k.isEmpty()).map(ApiKeys::digest).toList();
    }

    /** Whether any key is configured; without one, authentication is off. */
    public boolean enabled() {
        return !digests.isEmpty();
    }

    public int count() {
        return digests.size();
    }

    /** Whether {@code presented} is one of the keys; every configured key is compared, in constant time. */
    public boolean accepts(String presented) {
        if (presented == null) {
            return false;
        }
        byte[] d = digest(presented);
        boolean ok = false;
        for (byte[] k : digests) {
            ok |= MessageDigest.isEqual(k, d);
        }
        return ok;
    }

    private static byte[] digest(String key) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(key.getBytes(StandardCharsets.UTF_8));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is missing from this JVM", e);
        }
    }
}
