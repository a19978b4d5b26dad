package io.spindle.api;

import io.quarkus.test.junit.QuarkusTest;
import io.restassured.RestAssured;
import io.spindle.app.ModelBootstrap;
import io.spindle.testing.Server;
import jakarta.inject.Inject;
import org.junit.jupiter.api.Test;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A chat stream's first chunk (role {@code assistant}) goes out with the first token, not on arrival:
 * a request queued behind a full batch gets keep-alive comments and no data until a slot frees and
 * its first token exists (vLLM's {@code bench serve --backend openai-chat} times the first chunk).
 */
@QuarkusTest
class ChatStreamTimingTest {
    @Inject
    ModelBootstrap bootstrap;

    @Test
    void aQueuedChatStreamSendsNoChunkBeforeItsFirstToken() throws Exception {
        Server.awaitReady();
        List<Socket> held = new ArrayList<>();
        try (Socket chat = openChat(held)) {
            chat.setSoTimeout(10_000);
            BufferedReader in = new BufferedReader(new InputStreamReader(chat.getInputStream(), StandardCharsets.UTF_8));
            // While it waits in the queue: headers, then keep-alives, and no data.
            List<String> lines = new ArrayList<>();
            int keepAlives = 0;
            while (keepAlives < 2) {
                String line = in.readLine();
                lines.add(line);
                assertFalse(line.startsWith("data:"), "a data event before the first token: " + lines);
                keepAlives += line.startsWith(": keep-alive") ? 1 : 0;
            }
            for (Socket s : held) {
                s.close();
            }
            held.clear();
            List<String> data = new ArrayList<>();
            for (String line = in.readLine(); line != null && !line.equals("data: [DONE]"); line = in.readLine()) {
                if (line.startsWith("data: ")) {
                    data.add(line);
                }
            }
            assertTrue(data.size() >= 2, "role chunk and tokens: " + data);
            assertTrue(data.get(0).contains("\"role\":\"assistant\""), data.get(0));
            assertTrue(data.get(1).contains("\"content\""), "the first token follows the role chunk: " + data.get(1));
        } finally {
            for (Socket s : held) {
                s.close();
            }
        }
        Server.awaitIdle(bootstrap, Server.MODEL);
    }

    /** Fills demo-gpt2's batch (8 in the test profile) with long streams, then sends a chat stream that must wait. */
    private Socket openChat(List<Socket> held) throws Exception {
        for (int i = 0; i < 8; i++) {
            held.add(Server.rawPost(RestAssured.port, "/v1/completions", "{\"model\":\"demo-gpt2\",\"prompt\":\"Hello\","
                    + "\"max_tokens\":480,\"ignore_eos\":true,\"stream\":true}"));
        }
        Server.eventually("8 running", 10_000, () -> bootstrap.engineStats().get(Server.MODEL).numRunning() == 8);
        Socket chat = Server.rawPost(RestAssured.port, "/v1/chat/completions", "{\"model\":\"demo-gpt2\","
                + "\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}],\"max_tokens\":3,\"stream\":true}");
        Server.eventually("the chat request waits", 10_000,
                () -> bootstrap.engineStats().get(Server.MODEL).numWaiting() == 1);
        assertEquals(8, bootstrap.engineStats().get(Server.MODEL).numRunning());
        return chat;
    }
}
