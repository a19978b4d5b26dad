package io.spindle.generation;

/** How a client receives a generation; a metrics label. */
public enum Transport {
    /** One JSON response at the end. */
    HTTP,
    /** Server-Sent Events. */
    SSE,
    /** Spindle's WebSocket protocol. */
    WS
}
