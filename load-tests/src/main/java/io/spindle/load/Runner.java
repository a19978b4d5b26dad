package io.spindle.load;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Drives one run. Closed loop: {@code concurrency} clients, each sending its next request as soon
 * as the previous one ends. Open loop: requests arrive as a Poisson process of the given rate,
 * whatever the server's state (optionally capped at {@code maxConcurrency} in flight). Every
 * request runs on a virtual thread; transports pick requests round-robin.
 */
public final class Runner {
    private final List<Transport> transports;
    private final PrintStream progressOut;

    public Runner(List<Transport> transports, PrintStream progressOut) {
        this.transports = transports;
        this.progressOut = progressOut;
    }

    /** Results in send order, and the run's wall time from the first send to the last end. */
    public record Run(List<RequestResult> results, double seconds) {
    }

    public Run closedLoop(List<Workload.Item> items, int concurrency, String label) throws InterruptedException {
        AtomicInteger next = new AtomicInteger();
        List<RequestResult> results = Collections.synchronizedList(new ArrayList<>());
        Progress progress = new Progress(label, items.size());
        long t0 = System.nanoTime();
        try (ExecutorService clients = Executors.newVirtualThreadPerTaskExecutor()) {
            for (int c = 0; c < concurrency; c++) {
                clients.submit(() -> {
                    for (int i; (i = next.getAndIncrement()) < items.size(); ) {
                        RequestResult r = transports.get(i % transports.size()).run(items.get(i));
                        results.add(r);
                        progress.record(r);
                    }
                });
            }
            progress.showWhile(clients);
        }
        return finish(results, t0, progress);
    }

    public Run openLoop(List<Workload.Item> items, double ratePerSecond, int maxConcurrency, long seed, String label)
            throws InterruptedException {
        List<RequestResult> results = Collections.synchronizedList(new ArrayList<>());
        Progress progress = new Progress(label, items.size());
        Random rnd = new Random(seed);
        Semaphore slots = new Semaphore(maxConcurrency > 0 ? maxConcurrency : Integer.MAX_VALUE);
        long t0 = System.nanoTime();
        try (ExecutorService clients = Executors.newVirtualThreadPerTaskExecutor()) {
            Thread pacer = Thread.ofVirtual().start(() -> {
                long due = System.nanoTime();
                for (int i = 0; i < items.size(); i++) {
                    due += (long) (-Math.log(1 - rnd.nextDouble()) / ratePerSecond * 1e9);
                    long wait = due - System.nanoTime();
                    try {
                        if (wait > 0) {
                            TimeUnit.NANOSECONDS.sleep(wait);
                        }
                        slots.acquire();
                    } catch (InterruptedException e) {
                        return;
                    }
                    int index = i;
                    clients.submit(() -> {
                        try {
                            RequestResult r = transports.get(index % transports.size()).run(items.get(index));
                            results.add(r);
                            progress.record(r);
                        } finally {
                            slots.release();
                        }
                    });
                }
            });
            pacer.join();
            progress.showWhile(clients);
        }
        return finish(results, t0, progress);
    }

    private Run finish(List<RequestResult> results, long t0, Progress progress) {
        progress.done();
        List<RequestResult> sorted = new ArrayList<>(results);
        sorted.sort((a, b) -> Long.compare(a.sendNanos(), b.sendNanos()));
        long first = sorted.stream().mapToLong(RequestResult::sendNanos).min().orElse(t0);
        long last = sorted.stream().mapToLong(RequestResult::endNanos).max().orElse(System.nanoTime());
        return new Run(sorted, (last - first) / 1e9);
    }

    /** A one-line live progress bar on stderr (disabled when {@code progressOut} is null). */
    private final class Progress {
        private final String label;
        private final int total;
        private final AtomicInteger done = new AtomicInteger();
        private final AtomicInteger failed = new AtomicInteger();
        private final AtomicLong tokens = new AtomicLong();
        private final long start = System.nanoTime();

        Progress(String label, int total) {
            this.label = label;
            this.total = total;
        }

        void record(RequestResult r) {
            done.incrementAndGet();
            if (r.ok()) {
                tokens.addAndGet(r.outputTokens());
            } else {
                failed.incrementAndGet();
            }
        }

        /** Redraws the bar until the executor's tasks have all ended. */
        void showWhile(ExecutorService clients) throws InterruptedException {
            clients.shutdown();
            while (!clients.awaitTermination(250, TimeUnit.MILLISECONDS)) {
                draw();
            }
        }

        void draw() {
            if (progressOut == null) {
                return;
            }
            int d = done.get();
            int width = 30;
            int filled = total == 0 ? width : d * width / total;
            double s = (System.nanoTime() - start) / 1e9;
            progressOut.printf("\r%-14s [%s%s] %d/%d  errors %d  %.0f tok/s  %.0fs ", label, "#".repeat(filled),
                    ".".repeat(width - filled), d, total, failed.get(), tokens.get() / Math.max(s, 1e-9), s);
            progressOut.flush();
        }

        void done() {
            if (progressOut != null) {
                draw();
                progressOut.println();
            }
        }
    }
}
