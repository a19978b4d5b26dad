// Shared by the client tests: where the server is, which model, and the checks every client makes.
import assert from 'node:assert/strict';

const url = process.env.SPINDLE_URL;
if (!url) {
  throw new Error('SPINDLE_URL is not set (e.g. http://127.0.0.1:8080); NodeClientsIT sets it');
}
/** The server's root, without a trailing slash, e.g. http://127.0.0.1:8080 */
export const BASE = url.replace(/\/+$/, '');
/** The tiny GPT-2 with random weights and a chat template that every Spindle serves. */
export const MODEL = 'demo-gpt2';
/** Spindle has no keys by default; clients that insist on one get this. */
export const API_KEY = 'sk-spindle-tests';
export const MAX_TOKENS = 8;
export const SEED = 42;

/** OpenAI-style usage: positive counts whose sum is the total; completion within max_tokens. */
export function assertOpenAiUsage(usage, maxTokens = MAX_TOKENS) {
  assert.ok(usage, 'usage is present');
  assert.ok(Number.isInteger(usage.prompt_tokens) && usage.prompt_tokens > 0, `prompt_tokens > 0: ${JSON.stringify(usage)}`);
  assert.ok(Number.isInteger(usage.completion_tokens) && usage.completion_tokens > 0, `completion_tokens > 0: ${JSON.stringify(usage)}`);
  assert.ok(usage.completion_tokens <= maxTokens, `completion_tokens <= ${maxTokens}: ${JSON.stringify(usage)}`);
  assert.equal(usage.total_tokens, usage.prompt_tokens + usage.completion_tokens, 'total = prompt + completion');
}

/** The deltas of a stream: none of them undefined, at least one non-empty. */
export function assertDeltas(deltas) {
  assert.ok(deltas.length > 0, 'the stream carried text deltas');
  for (const d of deltas) {
    assert.equal(typeof d, 'string', `a delta is a string: ${JSON.stringify(d)}`);
  }
  assert.ok(deltas.some((d) => d.length > 0), `some delta is non-empty: ${JSON.stringify(deltas)}`);
}
