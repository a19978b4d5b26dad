package io.spindle.app;

import io.spindle.testing.ServerProcess;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Long encoder requests on the packaged server, default configuration: 64 embedding inputs and 16
 * fill-mask inputs of about 500 words each, sent together, all succeed while the process's resident
 * memory (VmRSS, sampled every 10 ms) stays within its idle figure + 1 GiB. Before masked-LM logits
 * were computed only at the masks and encoder passes were bounded in tokens, the same requests took
 * a server from 0.4 GB to several GB (the demo masked-LM has bert-base-uncased's 30,522-token
 * vocabulary and 512 positions, so its logits grow like the real model's).
 * Figures are printed, never compared with a clock.
 */
class EncoderMemoryIT {
    private static final long GIB = 1L << 30;
    /** Words that are each one token of bert-base-uncased's WordPiece vocabulary. */
    private static final String[] WORDS = ("the of and to in is was he for it with as his on be at by had not are "
            + "but from or have an they which one you were her all she there would their we him been has when who will "
            + "more no if out so said what up its about into than them can only other new some could time these two "
            + "may then do first any my now such like our over man me even most made after also did many before must "
            + "through back years where much your way well down should because each just those people how too little "
            + "state good very make world still own see men work long get here between both life being under never day "
            + "same another know while last might us great old year off come since against go came right used take three")
            .split(" ");
    /** With [CLS] and [SEP]: 500 tokens (one of them the mask, for fill-mask), within both models' 512 positions. */
    private static final int WORDS_PER_TEXT = 498;

    @Test
    void longEncoderRequestsStayWithinAGibibyteOfIdleMemory() throws Exception {
        try (ServerProcess server = ServerProcess.start("encoder-memory")) {
            long pid = server.process().pid();
            long idle = idleRss(pid);
            AtomicLong peak = new AtomicLong(idle);
            AtomicBoolean sampling = new AtomicBoolean(true);
            Thread sampler = Thread.ofPlatform().name("rss-sampler").start(() -> {
                while (sampling.get()) {
                    peak.accumulateAndGet(rss(pid), Math::max);
                    sleep(10);
                }
            });
            SplittableRandom random = new SplittableRandom(7);
            CompletableFuture<HttpResponse<String>> embeddings = send(server, "/v1/embeddings",
                    "{\"model\":\"all-minilm-l6-v2\",\"input\":" + texts(random, 64, false) + "}");
            CompletableFuture<HttpResponse<String>> fillMask = send(server, "/v1/fill-mask",
                    "{\"model\":\"demo-bert-mlm\",\"inputs\":" + texts(random, 16, true) + "}");
            HttpResponse<String> e;
            HttpResponse<String> f;
            try {
                e = embeddings.get(10, TimeUnit.MINUTES);
                f = fillMask.get(10, TimeUnit.MINUTES);
            } finally {
                sampling.set(false);
                sampler.join();
            }
            System.out.printf("EncoderMemoryIT: idle RSS %.1f MiB, peak RSS %.1f MiB (+%.1f MiB); embeddings %d, "
                            + "fill-mask %d%n", idle / 1048576.0, peak.get() / 1048576.0,
                    (peak.get() - idle) / 1048576.0, e.statusCode(), f.statusCode());
            assertEquals(200, e.statusCode(), head(e.body()));
            assertEquals(200, f.statusCode(), head(f.body()));
            assertEquals(64, count(e.body(), "\"object\":\"embedding\""), "one vector per input");
            assertTrue(e.body().contains("\"prompt_tokens\":" + 64 * (WORDS_PER_TEXT + 2)), head(e.body()));
            assertEquals(16 * 5, count(f.body(), "\"token_str\""), "five candidates per input");
            assertTrue(peak.get() <= idle + GIB, "peak RSS " + peak.get() / 1048576 + " MiB vs. idle "
                    + idle / 1048576 + " MiB");
        }
    }

    /** The largest of several samples over a second, after start-up and warm-up have settled. */
    private static long idleRss(long pid) {
        long max = 0;
        for (int i = 0; i < 10; i++) {
            max = Math.max(max, rss(pid));
            sleep(100);
        }
        return max;
    }

    /** VmRSS of the process, in bytes. */
    private static long rss(long pid) {
        try {
            for (String line : Files.readAllLines(Path.of("/proc", Long.toString(pid), "status"))) {
                if (line.startsWith("VmRSS:")) {
                    return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
                }
            }
        } catch (IOException | RuntimeException gone) {
            return 0;
        }
        return 0;
    }

    private static String texts(SplittableRandom random, int n, boolean withMask) {
        List<String> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            StringBuilder s = new StringBuilder();
            int maskAt = withMask ? random.nextInt(WORDS_PER_TEXT) : -1;
            for (int w = 0; w < WORDS_PER_TEXT; w++) {
                s.append(w == 0 ? "" : " ").append(w == maskAt ? "[MASK]" : WORDS[random.nextInt(WORDS.length)]);
            }
            out.add("\"" + s + "\"");
        }
        return "[" + String.join(",", out) + "]";
    }

    private static CompletableFuture<HttpResponse<String>> send(ServerProcess server, String path, String json) {
        return server.http().sendAsync(java.net.http.HttpRequest.newBuilder(server.uri(path))
                        .header("Content-Type", "application/json").timeout(Duration.ofMinutes(10))
                        .POST(java.net.http.HttpRequest.BodyPublishers.ofString(json)).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    private static int count(String s, String what) {
        int n = 0;
        for (int i = s.indexOf(what); i >= 0; i = s.indexOf(what, i + 1)) {
            n++;
        }
        return n;
    }

    private static String head(String s) {
        return s.substring(0, Math.min(400, s.length()));
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
