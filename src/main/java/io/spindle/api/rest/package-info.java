/**
 * HTTP resources: OpenAI-compatible ({@code /v1/...}) and TGI-compatible ({@code /generate...}),
 * JSON and SSE. Maps DTOs to {@code generation} requests and events back to the wire. Never reaches
 * into the engine's scheduler or runner, nor into {@code runtime}.
 */
package io.spindle.api.rest;
