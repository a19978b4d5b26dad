package io.spindle.testing;

import io.spindle.engine.request.TokenEvent;
import io.spindle.engine.request.TokenListener;

import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

/** Collects a sequence's events and lets a test wait for its end. */
public final class RecordingListener implements TokenListener {
    public final List<TokenEvent> events = new CopyOnWriteArrayList<>();
    public final CompletableFuture<TokenEvent> end = new CompletableFuture<>();
    public final CompletableFuture<Void> firstToken = new CompletableFuture<>();

    @Override
    public void onEvent(TokenEvent event) {
        events.add(event);
        if (event instanceof TokenEvent.Token) {
            firstToken.complete(null);
        } else if (event.isEnd()) {
            end.complete(event);
        }
    }

    public TokenEvent awaitEnd() throws Exception {
        return end.get(30, TimeUnit.SECONDS);
    }

    public int[] tokens() {
        return events.stream().filter(e -> e instanceof TokenEvent.Token).mapToInt(e -> ((TokenEvent.Token) e).tokenId()).toArray();
    }
}
