// The official OpenAI Node SDK (npm `openai`) against Spindle's OpenAI-compatible API.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { BASE, MODEL, API_KEY, MAX_TOKENS, SEED, assertOpenAiUsage, assertDeltas } from './common.mjs';

const client = new OpenAI({ baseURL: `${BASE}/v1`, apiKey: API_KEY, maxRetries: 0, timeout: 60_000 });
const messages = [
  { role: 'system', content: 'You are terse.' },
  { role: 'user', content: 'Name three rivers.' },
];
const chatParams = { model: MODEL, messages, max_tokens: MAX_TOKENS, temperature: 0, seed: SEED };
const prompt = 'The quick brown fox';
const completionParams = { model: MODEL, prompt, max_tokens: MAX_TOKENS, temperature: 0, seed: SEED };

test('models.list lists demo-gpt2', async () => {
  const ids = [];
  for await (const m of client.models.list()) {
    ids.push(m.id);
  }
  assert.ok(ids.includes(MODEL), `models: ${ids}`);
});

test('chat: a greedy stream equals the non-streamed answer, with finish_reason and usage', async () => {
  const whole = await client.chat.completions.create(chatParams);
  assert.equal(whole.object, 'chat.completion');
  assert.equal(whole.choices.length, 1);
  const choice = whole.choices[0];
  assert.equal(choice.message.role, 'assistant');
  assert.equal(typeof choice.message.content, 'string');
  assert.ok(choice.message.content.length > 0, 'non-empty answer');
  assert.ok(['stop', 'length'].includes(choice.finish_reason), `finish_reason: ${choice.finish_reason}`);
  assertOpenAiUsage(whole.usage);

  const stream = await client.chat.completions.create({ ...chatParams, stream: true, stream_options: { include_usage: true } });
  const deltas = [];
  let role;
  let finish;
  let usage;
  let id;
  for await (const chunk of stream) {
    assert.equal(chunk.object, 'chat.completion.chunk');
    id ??= chunk.id;
    assert.equal(chunk.id, id, 'every chunk has the same id');
    if (chunk.usage) {
      assert.equal(chunk.choices.length, 0, 'the usage chunk has no choices');
      usage = chunk.usage;
      continue;
    }
    const c = chunk.choices[0];
    role ??= c.delta.role;
    if (typeof c.delta.content === 'string') {
      deltas.push(c.delta.content);
    }
    if (c.finish_reason) {
      assert.equal(finish, undefined, 'one finish_reason');
      finish = c.finish_reason;
    }
  }
  assert.equal(role, 'assistant');
  assertDeltas(deltas);
  assert.equal(deltas.join(''), choice.message.content, 'greedy stream = non-streamed answer');
  assert.equal(finish, choice.finish_reason);
  assertOpenAiUsage(usage);
  assert.deepEqual(usage, whole.usage, 'same usage streamed and not');
});

test('chat: the SDK stream helper assembles the same message', async () => {
  const whole = await client.chat.completions.create(chatParams);
  // max_completion_tokens, the field the SDK documents for chat now, instead of max_tokens
  const { max_tokens, ...rest } = chatParams;
  const runner = client.chat.completions.stream({ ...rest, max_completion_tokens: max_tokens, stream_options: { include_usage: true } });
  const deltas = [];
  runner.on('content', (delta) => deltas.push(delta));
  const final = await runner.finalChatCompletion();
  assertDeltas(deltas);
  assert.equal(final.choices[0].message.content, whole.choices[0].message.content);
  assert.equal(deltas.join(''), whole.choices[0].message.content);
  assert.equal(final.choices[0].finish_reason, whole.choices[0].finish_reason);
  assertOpenAiUsage(final.usage);
  assert.deepEqual(final.usage, whole.usage);
});

test('completions: logprobs of the chosen tokens, and a greedy stream equal to the answer', async () => {
  const whole = await client.completions.create({ ...completionParams, logprobs: 0 });
  assert.equal(whole.object, 'text_completion');
  const choice = whole.choices[0];
  assert.ok(choice.text.length > 0, 'non-empty text');
  assert.ok(['stop', 'length'].includes(choice.finish_reason), `finish_reason: ${choice.finish_reason}`);
  assertOpenAiUsage(whole.usage);

  const lp = choice.logprobs;
  assert.ok(lp, 'logprobs are present');
  assert.ok(Array.isArray(lp.tokens) && Array.isArray(lp.token_logprobs));
  assert.equal(lp.tokens.length, whole.usage.completion_tokens, 'one logprob per generated token');
  assert.equal(lp.token_logprobs.length, lp.tokens.length);
  assert.equal(lp.tokens.join(''), choice.text, 'the tokens spell the text');
  for (const x of lp.token_logprobs) {
    assert.ok(Number.isFinite(x) && x <= 0, `a log-probability is finite and <= 0: ${x}`);
  }

  const stream = await client.completions.create({ ...completionParams, stream: true, stream_options: { include_usage: true } });
  const deltas = [];
  let finish;
  let usage;
  for await (const chunk of stream) {
    assert.equal(chunk.object, 'text_completion');
    if (chunk.usage) {
      usage = chunk.usage;
    }
    for (const c of chunk.choices) {
      deltas.push(c.text);
      if (c.finish_reason) {
        finish = c.finish_reason;
      }
    }
  }
  assertDeltas(deltas);
  assert.equal(deltas.join(''), choice.text, 'greedy stream = non-streamed text');
  assert.equal(finish, choice.finish_reason);
  assertOpenAiUsage(usage);
  assert.deepEqual(usage, whole.usage);
});

test('completions: the same seed samples the same text, streamed or not', async () => {
  const params = { model: MODEL, prompt, max_tokens: MAX_TOKENS, temperature: 1, seed: 1234 };
  const a = await client.completions.create(params);
  const b = await client.completions.create(params);
  assert.equal(a.choices[0].text, b.choices[0].text);
  const deltas = [];
  for await (const chunk of await client.completions.create({ ...params, stream: true })) {
    deltas.push(...chunk.choices.map((c) => c.text));
  }
  assertDeltas(deltas);
  assert.equal(deltas.join(''), a.choices[0].text);
});

test('an unknown model is the SDK\'s NotFoundError', async () => {
  await assert.rejects(
    client.chat.completions.create({ ...chatParams, model: 'no-such-model' }),
    (e) => e instanceof OpenAI.NotFoundError && e.status === 404 && e.error?.code === 'model_not_found',
  );
});

// A stop string that starts like the first token but never matches: the server holds that token's
// text back until the next token shows it is not a stop, then releases it. Nothing in the answer
// may change: same text, same tokens, and each token's text_offset is where it starts in the text.
test('completions: logprobs text_offset while a stop string holds text back', async () => {
  const plain = await client.completions.create({ ...completionParams, logprobs: 0 });
  const { tokens } = plain.choices[0].logprobs;
  const stop = [`${tokens[0]}\u2603\u2603`];
  const offsets = (ts) => ts.map((_, i) => ts.slice(0, i).join('').length);
  assert.deepEqual(plain.choices[0].logprobs.text_offset, offsets(tokens), 'offsets without a stop string');

  const held = await client.completions.create({ ...completionParams, logprobs: 0, stop });
  const c = held.choices[0];
  assert.equal(c.text, plain.choices[0].text, 'the stop string never matched: same text');
  assert.deepEqual(c.logprobs.tokens, tokens);
  assert.deepEqual(c.logprobs.text_offset, offsets(tokens),
    `text_offset[i] is where token i starts in ${JSON.stringify(c.text)}: request ${JSON.stringify({ ...completionParams, logprobs: 0, stop })}`);

  const streamed = [];
  for await (const chunk of await client.completions.create({ ...completionParams, logprobs: 0, stop, stream: true })) {
    for (const ch of chunk.choices) {
      streamed.push(...(ch.logprobs?.text_offset ?? []));
    }
  }
  assert.deepEqual(streamed, offsets(tokens), 'the same offsets streamed');
});

test('n choices, chat logprobs with top_logprobs, and the prompt counted once', async () => {
  const many = await client.chat.completions.create({ ...chatParams, n: 3, temperature: 0.9, logprobs: true, top_logprobs: 3 });
  assert.deepEqual(many.choices.map((c) => c.index), [0, 1, 2]);
  let generated = 0;
  for (const c of many.choices) {
    for (const t of c.logprobs.content) {
      assert.ok(Number.isFinite(t.logprob) && t.logprob <= 0, `logprob ${t.logprob}`);
      assert.equal(t.top_logprobs.length, 3);
      assert.ok(t.top_logprobs[0].logprob >= t.logprob, 'the first alternative is the most likely');
      generated++;
    }
  }
  assert.equal(many.usage.completion_tokens, generated);
  const one = await client.chat.completions.create({ ...chatParams, max_tokens: 1 });
  assert.equal(many.usage.prompt_tokens, one.usage.prompt_tokens, 'the prompt counts once for three choices');

  const stream = await client.completions.create({ ...completionParams, n: 2, temperature: 0.9, stream: true });
  const texts = ['', ''];
  for await (const chunk of stream) {
    for (const c of chunk.choices) {
      texts[c.index] += c.text;
    }
  }
  assert.ok(texts.every((t) => t.length > 0), `both choices streamed: ${JSON.stringify(texts)}`);
});

test('chat: response_format json_schema (strict) gives JSON the SDK parses and the schema accepts', async () => {
  const schema = {
    type: 'object',
    properties: {
      city: { type: 'string', maxLength: 16 },
      size: { type: 'string', enum: ['small', 'large'] },
      visited: { type: 'boolean' },
    },
    required: ['city', 'size', 'visited'],
    additionalProperties: false,
  };
  const params = {
    model: MODEL, messages, max_tokens: 80, temperature: 0.8, seed: SEED,
    response_format: { type: 'json_schema', json_schema: { name: 'place', strict: true, schema } },
  };
  const check = (text) => {
    const o = JSON.parse(text);
    assert.deepEqual(Object.keys(o), ['city', 'size', 'visited']);
    assert.ok(typeof o.city === 'string' && o.city.length <= 16, text);
    assert.ok(['small', 'large'].includes(o.size), text);
    assert.equal(typeof o.visited, 'boolean');
  };
  const whole = await client.chat.completions.create(params);
  assert.equal(whole.choices[0].finish_reason, 'stop');
  check(whole.choices[0].message.content);
  // The SDK's parse helper reads the same answer into an object.
  const parsed = await client.chat.completions.parse(params);
  assert.deepEqual(parsed.choices[0].message.parsed, JSON.parse(whole.choices[0].message.content));
  const stream = await client.chat.completions.create({ ...params, stream: true });
  let text = '';
  for await (const chunk of stream) {
    text += chunk.choices[0]?.delta?.content ?? '';
  }
  assert.equal(text, whole.choices[0].message.content, 'the same seed streams the same JSON');
});

test('an unsupported schema keyword is a 400 BadRequestError that names it', async () => {
  await assert.rejects(client.chat.completions.create({
    model: MODEL, messages, max_tokens: 8,
    response_format: { type: 'json_schema', json_schema: { name: 'x', schema: { oneOf: [{ type: 'string' }] } } },
  }), (e) => e instanceof OpenAI.BadRequestError && /oneOf/.test(e.message));
});

const weather = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'Current weather in a city',
    strict: true,
    parameters: {
      type: 'object',
      properties: {
        city: { type: 'string', maxLength: 16 },
        unit: { type: 'string', enum: ['celsius', 'fahrenheit'] },
      },
      required: ['city', 'unit'],
      additionalProperties: false,
    },
  },
};
const clock = { type: 'function', function: { name: 'now', description: 'The time', strict: true, parameters: { type: 'object', properties: {}, additionalProperties: false } } };
const toolMessages = [{ role: 'user', content: 'Weather in Paris?' }];

function assertWeatherArguments(text) {
  const a = JSON.parse(text);
  assert.deepEqual(Object.keys(a), ['city', 'unit'], text);
  assert.ok(typeof a.city === 'string' && a.city.length <= 16, text);
  assert.ok(['celsius', 'fahrenheit'].includes(a.unit), text);
}

test('tools: a named tool_choice gives a call; the SDK stream helper and parse() read the same call', async () => {
  const params = {
    model: MODEL, messages: toolMessages, max_tokens: 80, temperature: 0.9, seed: SEED, tools: [weather, clock],
    tool_choice: { type: 'function', function: { name: 'get_weather' } },
  };
  const whole = await client.chat.completions.create(params);
  const choice = whole.choices[0];
  assert.equal(choice.finish_reason, 'tool_calls');
  assert.equal(choice.message.content, null);
  assert.equal(choice.message.tool_calls.length, 1);
  const call = choice.message.tool_calls[0];
  assert.match(call.id, /^call_/);
  assert.equal(call.type, 'function');
  assert.equal(call.function.name, 'get_weather');
  assertWeatherArguments(call.function.arguments);

  // The SDK's streaming helper assembles tool_call deltas (index, id, name, argument fragments).
  const runner = client.chat.completions.stream(params);
  const argumentDeltas = [];
  runner.on('tool_calls.function.arguments.delta', (e) => argumentDeltas.push(e.arguments_delta));
  const streamed = await runner.finalChatCompletion();
  assert.equal(streamed.choices[0].finish_reason, 'tool_calls');
  const s = streamed.choices[0].message.tool_calls;
  assert.equal(s.length, 1);
  assert.equal(s[0].function.name, 'get_weather');
  assert.equal(s[0].function.arguments, call.function.arguments, 'the same seed streams the same arguments');
  assert.ok(argumentDeltas.length > 1, `arguments arrive in fragments: ${argumentDeltas.length}`);

  // parse() reads strict function arguments into objects.
  const parsed = await client.chat.completions.parse(params);
  assert.deepEqual(parsed.choices[0].message.tool_calls[0].function.parsed_arguments, JSON.parse(call.function.arguments));
});

test('tools: required with parallel calls streams each call by index; parallel_tool_calls false gives one', async () => {
  let parallel = 0;
  for (let seed = 1; seed <= 4; seed++) {
    const stream = await client.chat.completions.create({
      model: MODEL, messages: toolMessages, max_tokens: 250, temperature: 1, seed, tools: [weather, clock],
      tool_choice: 'required', stream: true,
    });
    const calls = [];
    let finish;
    for await (const chunk of stream) {
      const c = chunk.choices[0];
      for (const d of c?.delta?.tool_calls ?? []) {
        if (d.id) {
          assert.equal(calls[d.index], undefined, 'one first delta per call');
          calls[d.index] = { id: d.id, name: d.function.name, arguments: d.function.arguments ?? '' };
        } else {
          calls[d.index].arguments += d.function.arguments;
        }
      }
      finish = c?.finish_reason ?? finish;
    }
    assert.ok(calls.length >= 1);
    parallel += calls.length > 1 ? 1 : 0;
    if (finish === 'tool_calls') {
      for (const call of calls) {
        if (call.name === 'get_weather') {
          assertWeatherArguments(call.arguments);
        } else {
          assert.equal(call.name, 'now');
          assert.deepEqual(JSON.parse(call.arguments), {});
        }
      }
    } else {
      assert.equal(finish, 'length');
    }
    const one = await client.chat.completions.create({
      model: MODEL, messages: toolMessages, max_tokens: 120, temperature: 1, seed, tools: [weather, clock],
      tool_choice: 'required', parallel_tool_calls: false,
    });
    assert.equal(one.choices[0].message.tool_calls.length, 1);
  }
  assert.ok(parallel > 0, 'some answers call several tools');
});

test('tools: an assistant tool call and its result go back into the conversation', async () => {
  const first = await client.chat.completions.create({
    model: MODEL, messages: toolMessages, max_tokens: 80, temperature: 0.9, seed: SEED, tools: [weather],
    tool_choice: 'required', parallel_tool_calls: false,
  });
  const call = first.choices[0].message.tool_calls[0];
  const next = await client.chat.completions.create({
    model: MODEL, max_tokens: MAX_TOKENS, temperature: 0, tools: [weather], tool_choice: 'none',
    messages: [...toolMessages, first.choices[0].message, { role: 'tool', tool_call_id: call.id, content: '11 C, rain' }],
  });
  assert.equal(typeof next.choices[0].message.content, 'string');
  assert.ok(next.usage.prompt_tokens > first.usage.prompt_tokens, 'the call and its result are in the prompt');
});
