package io.spindle.api.rest;

import io.smallrye.mutiny.Multi;
import io.smallrye.mutiny.Uni;
import io.spindle.api.error.ApiDialect;
import io.spindle.generation.Generation;
import io.spindle.generation.GenerationEvent;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;
import java.util.function.Supplier;

/**
 * Several choices in one response (OpenAI's {@code n}, {@code best_of}, prompt arrays): their SSE
 * frames interleaved as they come, then one tail (usage, {@code [DONE]}) once every choice has
 * ended; or one JSON answer built from every choice's events. Cancelling the response cancels all.
 */
final class Choices {
    private Choices() {
    }

    static Multi<String> stream(ApiDialect dialect, List<Multi<String>> choices, Supplier<List<String>> tail) {
        Multi<String> merged = choices.size() == 1 ? choices.getFirst()
                : Multi.createBy().merging().streams(choices);
        return Multi.createBy().concatenating().streams(merged,
                        Multi.createFrom().deferred(() -> Multi.createFrom().iterable(tail.get())))
                .onFailure().recoverWithMulti(t -> Multi.createFrom().items(HttpReply.errorFrame(dialect, t), HttpReply.DONE));
    }

    static Multi<String> reply(ApiDialect dialect, List<Generation> gens, boolean stream, Supplier<Multi<String>> frames,
                               Function<List<List<GenerationEvent>>, HttpReply> whole) {
        if (stream) {
            return HttpReply.toMulti(Uni.createFrom().item(HttpReply.sse(frames.get())));
        }
        List<Uni<List<GenerationEvent>>> all = new ArrayList<>(gens.size());
        for (Generation g : gens) {
            all.add(g.events().collect().asList());
        }
        Uni<List<List<GenerationEvent>>> combined = Uni.combine().all().unis(all)
                .with(lists -> {
                    List<List<GenerationEvent>> out = new ArrayList<>(lists.size());
                    for (Object l : lists) {
                        @SuppressWarnings("unchecked")
                        List<GenerationEvent> events = (List<GenerationEvent>) l;
                        out.add(events);
                    }
                    return out;
                });
        return HttpReply.toMulti(combined.map(whole).onFailure().recoverWithItem(t -> HttpReply.error(dialect, t)));
    }

    /** Cancels generations already started when a later one of the same request is refused. */
    static void cancelAll(List<Generation> started) {
        for (Generation g : started) {
            g.cancel();
        }
    }
}
