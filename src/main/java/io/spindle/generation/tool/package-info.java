/**
 * Tool calling: the functions a request offers ({@link io.spindle.generation.tool.ToolSpec}), what it
 * asks of them ({@link io.spindle.generation.tool.ToolChoice}), the output format that a forced call
 * is constrained to ({@link io.spindle.generation.tool.ToolCallFormat}) and the incremental reader
 * that turns the constrained text back into calls as it streams
 * ({@link io.spindle.generation.tool.ToolCallParser}).
 */
package io.spindle.generation.tool;
