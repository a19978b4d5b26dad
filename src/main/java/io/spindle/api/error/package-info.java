/** Error rendering for every transport: status codes, OpenAI/TGI bodies, WebSocket error frames. */
package io.spindle.api.error;
