/** Wire shapes of the OpenAI-, TGI-compatible and WebSocket APIs, as Jackson records. No logic. */
package io.spindle.api.dto;
