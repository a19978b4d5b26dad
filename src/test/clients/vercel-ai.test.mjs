// The Vercel AI SDK (`ai`) with its OpenAI-compatible provider (@ai-sdk/openai-compatible), pointed
// at Spindle: streamText and generateText with a chat model and with a completion model.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { streamText, generateText } from 'ai';
import { createOpenAICompatible } from '@ai-sdk/openai-compatible';
import { BASE, MODEL, API_KEY, MAX_TOKENS, SEED, assertDeltas } from './common.mjs';

const spindle = createOpenAICompatible({ name: 'spindle', baseURL: `${BASE}/v1`, apiKey: API_KEY, includeUsage: true });
const settings = { maxOutputTokens: MAX_TOKENS, temperature: 0, seed: SEED, maxRetries: 0 };

function assertUsage(u) {
  assert.ok(u, 'usage is present');
  assert.ok(u.inputTokens > 0, `inputTokens > 0: ${JSON.stringify(u)}`);
  assert.ok(u.outputTokens > 0 && u.outputTokens <= MAX_TOKENS, `0 < outputTokens <= ${MAX_TOKENS}: ${JSON.stringify(u)}`);
  assert.equal(u.totalTokens, u.inputTokens + u.outputTokens);
}

/** Runs streamText and reads its full stream: text deltas, errors, the finish part. */
async function stream(model, input) {
  const errors = [];
  const result = streamText({ model, ...input, ...settings, onError: ({ error }) => errors.push(error) });
  const deltas = [];
  let finish;
  for await (const part of result.fullStream) {
    if (part.type === 'text-delta') {
      deltas.push(part.text);
    } else if (part.type === 'error') {
      errors.push(part.error);
    } else if (part.type === 'finish') {
      finish = part;
    }
  }
  assert.deepEqual(errors, [], 'no error in the stream');
  assert.ok(finish, 'a finish part');
  return { deltas, finish, text: await result.text, usage: await result.usage, finishReason: await result.finishReason };
}

async function streamEqualsGenerate(model, input) {
  const whole = await generateText({ model, ...input, ...settings });
  assert.ok(whole.text.length > 0, 'non-empty text');
  assert.ok(['stop', 'length'].includes(whole.finishReason), `finishReason: ${whole.finishReason}`);
  assertUsage(whole.usage);

  const s = await stream(model, input);
  assertDeltas(s.deltas);
  assert.equal(s.deltas.join(''), whole.text, 'greedy stream = generateText');
  assert.equal(s.text, whole.text);
  assert.equal(s.finishReason, whole.finishReason);
  assert.equal(s.finish.finishReason, whole.finishReason);
  assertUsage(s.usage);
  assertUsage(s.finish.totalUsage);
  assert.deepEqual([s.usage.inputTokens, s.usage.outputTokens], [whole.usage.inputTokens, whole.usage.outputTokens],
    'the same usage streamed and not');
}

test('chat model: streamText equals generateText, with finish reason and usage', async () => {
  await streamEqualsGenerate(spindle.chatModel(MODEL), {
    system: 'You are terse.',
    messages: [{ role: 'user', content: 'Name three rivers.' }],
  });
});

test('completion model: streamText equals generateText, with finish reason and usage', async () => {
  await streamEqualsGenerate(spindle.completionModel(MODEL), { prompt: 'The quick brown fox' });
});
