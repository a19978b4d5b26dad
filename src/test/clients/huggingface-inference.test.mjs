// Hugging Face's JS client (npm @huggingface/inference), pointed at Spindle with endpointUrl.
//
// The current major (4.x) sends every hf-inference text task to OpenAI's routes: chatCompletion(Stream)
// to <endpointUrl>/v1/chat/completions, and textGeneration(Stream) to <endpointUrl>/v1/completions
// (TGI parameters mapped to OpenAI's, the stream yielded as OpenAI completion chunks). Spindle's TGI
// routes (/generate, /generate_stream) are what the 3.x line posts to: it sends TGI's
// {inputs, parameters} body to endpointUrl as given. 3.15.0, the last 3.x, is installed beside it as
// the npm alias @huggingface/inference-v3.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InferenceClient } from '@huggingface/inference';
import { InferenceClient as InferenceClientV3 } from '@huggingface/inference-v3';
import { BASE, MODEL, MAX_TOKENS, SEED, assertOpenAiUsage, assertDeltas } from './common.mjs';

const hf = new InferenceClient(undefined, { endpointUrl: BASE });
const messages = [
  { role: 'system', content: 'You are terse.' },
  { role: 'user', content: 'Name three rivers.' },
];
const inputs = 'The quick brown fox';

test('4.x chatCompletion and chatCompletionStream (OpenAI route): same greedy text, finish_reason, usage', async () => {
  const params = { model: MODEL, messages, max_tokens: MAX_TOKENS, temperature: 0, seed: SEED };
  const whole = await hf.chatCompletion(params);
  const answer = whole.choices[0].message.content;
  assert.ok(answer.length > 0, 'non-empty answer');
  assert.ok(['stop', 'length'].includes(whole.choices[0].finish_reason));
  assertOpenAiUsage(whole.usage);

  const deltas = [];
  let finish;
  let usage;
  for await (const chunk of hf.chatCompletionStream({ ...params, stream_options: { include_usage: true } })) {
    if (chunk.usage) {
      usage = chunk.usage;
    }
    for (const c of chunk.choices) {
      if (typeof c.delta.content === 'string') {
        deltas.push(c.delta.content);
      }
      finish ??= c.finish_reason ?? undefined;
    }
  }
  assertDeltas(deltas);
  assert.equal(deltas.join(''), answer, 'greedy stream = chatCompletion');
  assert.equal(finish, whole.choices[0].finish_reason);
  assertOpenAiUsage(usage);
  assert.deepEqual({ ...usage, prompt_tokens_details: undefined }, { ...whole.usage, prompt_tokens_details: undefined });
  // The stream repeats the request just answered: its prompt's whole 16-token blocks come from the
  // prefix cache (all but the last token at most), which the client reads in OpenAI's field.
  const cached = usage.prompt_tokens_details.cached_tokens;
  assert.ok(cached > 0 && cached % 16 === 0 && cached < usage.prompt_tokens, `cached_tokens: ${JSON.stringify(usage)}`);
});

test('4.x textGeneration and textGenerationStream (OpenAI completions route): same greedy text', async () => {
  const params = { model: MODEL, inputs, parameters: { max_new_tokens: MAX_TOKENS, temperature: 0 } };
  const whole = await hf.textGeneration(params);
  assert.ok(whole.generated_text.length > 0, 'non-empty text');

  // 4.x yields the server's chunks as they are: OpenAI completion chunks here.
  const deltas = [];
  let finish;
  for await (const chunk of hf.textGenerationStream(params)) {
    assert.equal(chunk.object, 'text_completion', JSON.stringify(chunk));
    for (const c of chunk.choices) {
      deltas.push(c.text);
      finish ??= c.finish_reason ?? undefined;
    }
  }
  assertDeltas(deltas);
  assert.equal(deltas.join(''), whole.generated_text, 'greedy stream = textGeneration');
  assert.ok(['stop', 'length'].includes(finish), `finish_reason: ${finish}`);
});

function assertTgiToken(t) {
  assert.ok(Number.isInteger(t.id) && t.id >= 0, JSON.stringify(t));
  assert.equal(typeof t.text, 'string');
  assert.ok(Number.isFinite(t.logprob) && t.logprob <= 0, `logprob finite and <= 0: ${JSON.stringify(t)}`);
  assert.equal(typeof t.special, 'boolean');
}

for (const [name, parameters] of [
  ['greedy', { max_new_tokens: MAX_TOKENS, details: true }],
  ['seeded sampling', { max_new_tokens: MAX_TOKENS, details: true, do_sample: true, temperature: 0.9, top_k: 50, seed: SEED }],
]) {
  test(`3.x textGeneration on /generate and textGenerationStream on /generate_stream (TGI), ${name}: same tokens, details`, async () => {
    const hf3 = new InferenceClientV3();
    const whole = await hf3.textGeneration({ endpointUrl: `${BASE}/generate`, inputs, parameters });
    assert.ok(whole.generated_text.length > 0, 'non-empty text');
    const d = whole.details;
    assert.ok(d, 'details were asked for');
    assert.ok(['length', 'eos_token', 'stop_sequence'].includes(d.finish_reason), `finish_reason: ${d.finish_reason}`);
    assert.ok(d.generated_tokens > 0 && d.generated_tokens <= MAX_TOKENS, `generated_tokens: ${d.generated_tokens}`);
    assert.equal(d.tokens.length, d.generated_tokens, 'one token entry per generated token');
    d.tokens.forEach(assertTgiToken);
    assert.equal(d.tokens.map((t) => t.text).join(''), whole.generated_text, 'the tokens spell the text');
    assert.ok(d.input_length > 0, `input_length: ${d.input_length}`);

    const events = [];
    for await (const e of hf3.textGenerationStream({ endpointUrl: `${BASE}/generate_stream`, inputs, parameters })) {
      events.push(e);
    }
    assert.ok(events.length > 0, 'the stream carried tokens');
    events.forEach((e, i) => {
      assert.equal(e.index, i, 'token events are numbered from 0');
      assertTgiToken(e.token);
      if (i < events.length - 1) {
        assert.equal(e.generated_text, null, 'only the last event carries generated_text');
      }
    });
    const last = events.at(-1);
    assertDeltas(events.map((e) => e.token.text));
    assert.equal(events.map((e) => e.token.text).join(''), whole.generated_text, 'streamed tokens = /generate');
    assert.deepEqual(events.map((e) => e.token.id), d.tokens.map((t) => t.id), 'the same token ids');
    assert.equal(last.generated_text, whole.generated_text);
    assert.ok(last.details, 'the last event has details');
    assert.equal(last.details.finish_reason, d.finish_reason);
    assert.equal(last.details.generated_tokens, events.length);
    assert.equal(last.details.input_length, d.input_length);
  });
}

// A stop string that starts like the first token but never matches: the server holds that token's
// text back until the next token shows it is not a stop, then releases it. TGI's details list each
// generated token's text; together they must still spell generated_text, as in the stream.
test('3.x /generate and /generate_stream (TGI) while a stop string holds text back: token texts spell generated_text', async () => {
  const hf3 = new InferenceClientV3();
  const plain = await hf3.textGeneration({ endpointUrl: `${BASE}/generate`, inputs, parameters: { max_new_tokens: MAX_TOKENS, details: true } });
  const parameters = { max_new_tokens: MAX_TOKENS, details: true, stop: [`${plain.details.tokens[0].text}\u2603\u2603`] };

  const events = [];
  for await (const e of hf3.textGenerationStream({ endpointUrl: `${BASE}/generate_stream`, inputs, parameters })) {
    events.push(e);
  }
  assert.equal(events.at(-1).generated_text, plain.generated_text, 'the stop string never matched: same text streamed');
  assert.equal(events.map((e) => e.token.text).join(''), plain.generated_text, 'streamed token texts spell the text');

  const held = await hf3.textGeneration({ endpointUrl: `${BASE}/generate`, inputs, parameters });
  assert.equal(held.generated_text, plain.generated_text, 'the stop string never matched: same text');
  assert.equal(held.details.finish_reason, 'length');
  assert.deepEqual(held.details.tokens.map((t) => t.id), plain.details.tokens.map((t) => t.id));
  assert.equal(held.details.tokens.map((t) => t.text).join(''), held.generated_text,
    `details.tokens texts spell generated_text: POST /generate ${JSON.stringify({ inputs, parameters })} answered ${JSON.stringify(held)}`);
});

// 3.x clients are often pointed at the server's root, as at a TGI server: TGI's POST / answers as
// /generate, or as /generate_stream when the body says stream (textGenerationStream sends it).
test('3.x textGeneration and textGenerationStream on the server root (TGI\'s POST /)', async () => {
  const hf3 = new InferenceClientV3();
  const parameters = { max_new_tokens: MAX_TOKENS, details: true };
  const viaRoot = await hf3.textGeneration({ endpointUrl: `${BASE}/`, inputs, parameters });
  const viaGenerate = await hf3.textGeneration({ endpointUrl: `${BASE}/generate`, inputs, parameters });
  assert.equal(viaRoot.generated_text, viaGenerate.generated_text);
  assert.deepEqual(viaRoot.details.tokens.map((t) => t.id), viaGenerate.details.tokens.map((t) => t.id));
  const events = [];
  for await (const e of hf3.textGenerationStream({ endpointUrl: `${BASE}/`, inputs, parameters })) {
    events.push(e);
  }
  assert.equal(events.length, MAX_TOKENS);
  assert.equal(events.at(-1).generated_text, viaGenerate.generated_text);
});

// 4.x carries TGI parameters into the OpenAI completions body; they must mean what they mean in TGI.
test('4.x textGeneration with TGI parameters: do_sample false is greedy, return_full_text echoes', async () => {
  const greedy = await hf.textGeneration({ model: MODEL, inputs, parameters: { max_new_tokens: MAX_TOKENS, temperature: 0 } });
  const noSample = await hf.textGeneration({ model: MODEL, inputs, parameters: { max_new_tokens: MAX_TOKENS, do_sample: false } });
  assert.equal(noSample.generated_text, greedy.generated_text, 'do_sample: false gives the greedy text');
  const full = await hf.textGeneration({ model: MODEL, inputs,
    parameters: { max_new_tokens: MAX_TOKENS, do_sample: false, return_full_text: true } });
  assert.equal(full.generated_text, inputs + greedy.generated_text, 'return_full_text: the prompt, then the text');
});
