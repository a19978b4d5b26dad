/** The {@code /v1/ws} WebSocket protocol: JSON text frames, several tagged generations per socket. */
package io.spindle.api.ws;
