// LangChain.js: ChatOpenAI and the completions `OpenAI` LLM from @langchain/openai, pointed at Spindle.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ChatOpenAI, ChatOpenAICompletions, OpenAI } from '@langchain/openai';
import { HumanMessage, SystemMessage } from '@langchain/core/messages';
import { BASE, MODEL, API_KEY, MAX_TOKENS, SEED, assertDeltas } from './common.mjs';

const configuration = { baseURL: `${BASE}/v1` };
const messages = [new SystemMessage('You are terse.'), new HumanMessage('Name three rivers.')];
const prompt = 'The quick brown fox';

function assertUsageMetadata(u) {
  assert.ok(u, 'usage_metadata is present');
  assert.ok(u.input_tokens > 0, `input_tokens > 0: ${JSON.stringify(u)}`);
  assert.ok(u.output_tokens > 0 && u.output_tokens <= MAX_TOKENS, `0 < output_tokens <= ${MAX_TOKENS}: ${JSON.stringify(u)}`);
  assert.equal(u.total_tokens, u.input_tokens + u.output_tokens);
}

test('ChatOpenAI: invoke, then a greedy stream with the same text, finish_reason and usage', async () => {
  const chat = new ChatOpenAI({ model: MODEL, apiKey: API_KEY, configuration, temperature: 0, maxTokens: MAX_TOKENS, maxRetries: 0 });
  const whole = await chat.invoke(messages, { seed: SEED });
  assert.equal(typeof whole.content, 'string');
  assert.ok(whole.content.length > 0, 'non-empty answer');
  assert.ok(['stop', 'length'].includes(whole.response_metadata.finish_reason), JSON.stringify(whole.response_metadata));
  assertUsageMetadata(whole.usage_metadata);

  const deltas = [];
  let joined;
  for await (const chunk of await chat.stream(messages, { seed: SEED })) {
    if (typeof chunk.content === 'string' && !chunk.usage_metadata) {
      deltas.push(chunk.content);
    }
    joined = joined ? joined.concat(chunk) : chunk;
  }
  assertDeltas(deltas);
  assert.equal(joined.content, whole.content, 'greedy stream = invoke');
  assert.equal(deltas.join(''), whole.content);
  assert.equal(joined.response_metadata.finish_reason, whole.response_metadata.finish_reason);
  assertUsageMetadata(joined.usage_metadata);
  assert.deepEqual(
    [joined.usage_metadata.input_tokens, joined.usage_metadata.output_tokens],
    [whole.usage_metadata.input_tokens, whole.usage_metadata.output_tokens],
    'the same usage streamed and not',
  );
});

// With streaming: true, invoke() also estimates token counts for llmOutput, with tiktoken ranks that
// js-tiktoken downloads from tiktoken.pages.dev (falling back to length / 4 when it cannot). The tests
// make no outbound connection, so this subclass gives that fallback directly; the usage asserted
// below is still the server's, from the stream's usage chunk. (ChatOpenAICompletions is the class
// ChatOpenAI delegates Chat Completions calls to; the override has to sit there.)
class OfflineChatOpenAI extends ChatOpenAICompletions {
  async getNumTokens(content) {
    return Math.ceil((typeof content === 'string' ? content : JSON.stringify(content)).length / 4);
  }
}

test('ChatOpenAICompletions with streaming: true: invoke streams and reports each token to callbacks', async () => {
  const chat = new ChatOpenAI({ model: MODEL, apiKey: API_KEY, configuration, temperature: 0, maxTokens: MAX_TOKENS, maxRetries: 0 });
  const plain = await chat.invoke(messages);
  const streaming = new OfflineChatOpenAI({ model: MODEL, apiKey: API_KEY, configuration, temperature: 0, maxTokens: MAX_TOKENS, maxRetries: 0, streaming: true });
  const tokens = [];
  const answer = await streaming.invoke(messages, { callbacks: [{ handleLLMNewToken: (t) => tokens.push(t) }] });
  assertDeltas(tokens);
  assert.equal(answer.content, plain.content);
  assert.equal(tokens.join(''), plain.content);
  assertUsageMetadata(answer.usage_metadata);
  assert.deepEqual(
    [answer.usage_metadata.input_tokens, answer.usage_metadata.output_tokens],
    [plain.usage_metadata.input_tokens, plain.usage_metadata.output_tokens],
    'the server\'s usage, not an estimate',
  );
});

test('OpenAI (completions LLM): generate with usage, and a stream with the same text', async () => {
  const llm = new OpenAI({ model: MODEL, apiKey: API_KEY, configuration, temperature: 0, maxTokens: MAX_TOKENS, maxRetries: 0, modelKwargs: { seed: SEED } });
  const result = await llm.generate([prompt]);
  const gen = result.generations[0][0];
  assert.ok(gen.text.length > 0, 'non-empty text');
  assert.ok(['stop', 'length'].includes(gen.generationInfo.finishReason), JSON.stringify(gen.generationInfo));
  const usage = result.llmOutput.tokenUsage;
  assert.ok(usage.promptTokens > 0 && usage.completionTokens > 0 && usage.completionTokens <= MAX_TOKENS, JSON.stringify(usage));
  assert.equal(usage.totalTokens, usage.promptTokens + usage.completionTokens);

  assert.equal(await llm.invoke(prompt), gen.text, 'invoke = generate');

  const deltas = [];
  for await (const piece of await llm.stream(prompt)) {
    deltas.push(piece);
  }
  assertDeltas(deltas);
  assert.equal(deltas.join(''), gen.text, 'greedy stream = generate');
});

test('OpenAI (completions LLM) with streaming: true: tokens to callbacks, finish reason kept', async () => {
  const plain = new OpenAI({ model: MODEL, apiKey: API_KEY, configuration, temperature: 0, maxTokens: MAX_TOKENS, maxRetries: 0 });
  const expected = (await plain.generate([prompt])).generations[0][0];
  const llm = new OpenAI({ model: MODEL, apiKey: API_KEY, configuration, temperature: 0, maxTokens: MAX_TOKENS, maxRetries: 0, streaming: true });
  const tokens = [];
  const result = await llm.generate([prompt], { callbacks: [{ handleLLMNewToken: (t) => tokens.push(t) }] });
  const gen = result.generations[0][0];
  assertDeltas(tokens);
  assert.equal(tokens.join(''), expected.text);
  assert.equal(gen.text, expected.text);
  assert.equal(gen.generationInfo.finishReason, expected.generationInfo.finishReason);
});

test('ChatOpenAI tool calling: bindTools with a forced tool gives tool_calls, streamed as tool_call_chunks', async () => {
  const weather = {
    type: 'function',
    function: {
      name: 'get_weather',
      description: 'Current weather in a city',
      parameters: {
        type: 'object',
        properties: { city: { type: 'string', maxLength: 16 }, unit: { type: 'string', enum: ['celsius', 'fahrenheit'] } },
        required: ['city', 'unit'],
        additionalProperties: false,
      },
    },
  };
  const chat = new ChatOpenAI({ model: MODEL, apiKey: API_KEY, configuration, temperature: 0.9, maxTokens: 80, maxRetries: 0 });
  const withTools = chat.bindTools([weather], { tool_choice: 'get_weather' });
  const ask = [new HumanMessage('Weather in Paris?')];
  const whole = await withTools.invoke(ask, { seed: SEED });
  assert.equal(whole.tool_calls.length, 1, JSON.stringify(whole));
  const call = whole.tool_calls[0];
  assert.equal(call.name, 'get_weather');
  assert.match(call.id, /^call_/);
  assert.deepEqual(Object.keys(call.args), ['city', 'unit']);
  assert.ok(['celsius', 'fahrenheit'].includes(call.args.unit), JSON.stringify(call.args));
  assert.equal(whole.response_metadata.finish_reason, 'tool_calls');

  let joined;
  let chunks = 0;
  for await (const chunk of await withTools.stream(ask, { seed: SEED })) {
    chunks += chunk.tool_call_chunks?.length ? 1 : 0;
    joined = joined ? joined.concat(chunk) : chunk;
  }
  assert.ok(chunks > 1, 'the call arrives in several chunks');
  assert.equal(joined.tool_calls.length, 1);
  assert.equal(joined.tool_calls[0].name, 'get_weather');
  assert.deepEqual(joined.tool_calls[0].args, call.args, 'the same seed streams the same call');
});
