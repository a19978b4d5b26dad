package io.spindle.runtime.onnx;

import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.DigestOutputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.logging.Logger;

/**
 * Rewritten graphs on disk, keyed by the SHA-256 of the source graph and the rewrite's version:
 * {@code <dir>/<source sha256>-<version>.onnx} beside {@code .onnx.sha256}, the rewritten file's own
 * SHA-256. The checksum file is written last and read first, so a file that was cut short, changed or
 * written by a process that died is never served: it is deleted and rebuilt. Several processes may
 * share the directory; each writes to a temporary name and moves it into place.
 */
public final class RewriteCache {
    private static final Logger LOG = Logger.getLogger(RewriteCache.class.getName());

    /** Writes a graph to the stream it is given. */
    public interface Writer {
        void write(OutputStream out) throws IOException;
    }

    private final Path dir;

    public RewriteCache(Path dir) {
        this.dir = dir;
    }

    /** The cache file of {@code source} rewritten by {@code version}, whether or not it exists. */
    public Path file(Path source, String version) throws IOException {
        return dir.resolve(sha256(source) + "-" + version + ".onnx");
    }

    /** Whether {@code file} is there and matches its checksum; a file that does not is deleted. */
    public boolean valid(Path file) throws IOException {
        Path sum = checksum(file);
        if (!Files.isRegularFile(file) || !Files.isRegularFile(sum)) {
            return false;
        }
        String expected = Files.readString(sum).strip();
        if (expected.equals(sha256(file))) {
            return true;
        }
        LOG.warning("rewritten graph " + file + " does not match its checksum (cut short or changed); rebuilding it");
        Files.deleteIfExists(sum);
        Files.deleteIfExists(file);
        return false;
    }

    /** Writes {@code file} and then its checksum, each through a temporary file moved into place. */
    public void store(Path file, Writer writer) throws IOException {
        Files.createDirectories(dir);
        String suffix = ".tmp-" + ProcessHandle.current().pid() + "-" + Thread.currentThread().threadId();
        Path tmp = file.resolveSibling(file.getFileName() + suffix);
        Path sumTmp = checksum(file).resolveSibling(checksum(file).getFileName() + suffix);
        try {
            MessageDigest digest = sha256();
            try (OutputStream out = new DigestOutputStream(new BufferedOutputStream(Files.newOutputStream(tmp), 1 << 20),
                    digest)) {
                writer.write(out);
            }
            Files.writeString(sumTmp, HexFormat.of().formatHex(digest.digest()) + "\n");
            Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            Files.move(sumTmp, checksum(file), StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } finally {
            Files.deleteIfExists(tmp);
            Files.deleteIfExists(sumTmp);
        }
    }

    public static Path checksum(Path file) {
        return file.resolveSibling(file.getFileName() + ".sha256");
    }

    public static String sha256(Path file) throws IOException {
        MessageDigest digest = sha256();
        byte[] buf = new byte[1 << 20];
        try (InputStream in = Files.newInputStream(file)) {
            for (int n; (n = in.read(buf)) > 0; ) {
                digest.update(buf, 0, n);
            }
        }
        return HexFormat.of().formatHex(digest.digest());
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every JDK has SHA-256", e);
        }
    }
}
