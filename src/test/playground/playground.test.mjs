// End-to-end tests of the playground in the system's headless Chromium (playwright-core, no browser
// download). The page is reached through a reverse proxy on a sub-path (/spindle/), as it would be
// deployed behind one, over HTTP and WebSocket. SPINDLE_URL: the running server (started with
// max-batch-size 1 and max-waiting 1, so a real 429 can be provoked). Screenshots go to SCREENSHOT_DIR.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import fs from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';

const SERVER = new URL(process.env.SPINDLE_URL || 'http://127.0.0.1:8080/');
const SHOTS = process.env.SCREENSHOT_DIR || 'target/playground';
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const PREFIX = '/spindle';
let browser;
let proxy;
let base;

/** Forwards one HTTP request under PREFIX to the server, streaming the body both ways. */
function forward(target, req, res) {
  const up = http.request({ host: target.hostname, port: target.port, method: req.method,
    path: req.url.slice(PREFIX.length), headers: { ...req.headers, host: target.host } }, (r) => {
    res.writeHead(r.statusCode, r.headers);
    r.pipe(res);
  });
  up.on('error', () => { if (!res.headersSent) res.writeHead(502); res.end(); });
  res.on('close', () => up.destroy());
  req.pipe(up);
}

/** A minimal reverse proxy: PREFIX/* → the server's /*, including WebSocket upgrades. */
function startProxy(target, handler = (req, res) => forward(target, req, res)) {
  const server = http.createServer((req, res) => {
    if (!req.url.startsWith(PREFIX + '/')) { res.writeHead(404).end('not under ' + PREFIX); return; }
    handler(req, res);
  });
  server.on('upgrade', (req, socket, head) => {
    const up = net.connect(Number(target.port), target.hostname, () => {
      const lines = [`${req.method} ${req.url.slice(PREFIX.length)} HTTP/1.1`];
      for (let i = 0; i < req.rawHeaders.length; i += 2) {
        const name = req.rawHeaders[i];
        lines.push(`${name}: ${name.toLowerCase() === 'host' ? target.host : req.rawHeaders[i + 1]}`);
      }
      up.write(lines.join('\r\n') + '\r\n\r\n');
      up.write(head);
      up.pipe(socket);
      socket.pipe(up);
    });
    up.on('error', () => socket.destroy());
    socket.on('error', () => up.destroy());
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

async function openPage(url = base) {
  const page = await browser.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(url);
  await page.waitForSelector('#model option[value="demo-gpt2"]', { state: 'attached' });
  page.errors = errors;
  return page;
}

async function setUp(page, { transport, mode = 'completion', maxTokens = '48', temperature = '0' }) {
  await page.selectOption('#model', 'demo-gpt2');
  await page.check(`input[name=mode][value=${mode}]`);
  await page.check(`input[name=transport][value=${transport}]`);
  await page.fill('#max_tokens', maxTokens);
  await page.fill('#temperature', temperature);
}

/** Counts DOM updates of the transcript from now on. */
async function watchTranscript(page) {
  await page.evaluate(() => {
    window.__updates = 0;
    new MutationObserver((ms) => { window.__updates += ms.length; })
      .observe(document.querySelector('#transcript'), { childList: true, characterData: true, subtree: true });
  });
}

before(async () => {
  fs.mkdirSync(SHOTS, { recursive: true });
  proxy = await startProxy(SERVER);
  base = `http://127.0.0.1:${proxy.address().port}${PREFIX}/`;
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
});

after(async () => {
  await browser?.close();
  proxy?.close();
});

for (const [transport, mode] of [['sse', 'chat'], ['ws', 'completion']]) {
  test(`tokens stream in incrementally over ${transport} (${mode}), behind a sub-path proxy`, async () => {
    const page = await openPage();
    await setUp(page, { transport, mode });
    await watchTranscript(page);
    await page.fill('#prompt', 'Once upon a time');
    await page.press('#prompt', 'Enter');
    await page.waitForFunction(() => document.querySelector('#state').dataset.state === 'done', null, { timeout: 30000 });
    const updates = await page.evaluate(() => window.__updates);
    const tokens = Number(await page.textContent('#tokens'));
    assert.ok(updates > 5, `the transcript changed ${updates} times before the end`);
    assert.ok(tokens > 5, `token count shown: ${tokens}`);
    assert.equal(await page.textContent('#finish'), 'length');
    assert.match(await page.textContent('#server-timings'), /TTFT [0-9.]+ ms/);
    assert.match(await page.textContent('#ttft'), /^[0-9]+ ms$/);
    assert.equal((await page.$$('#itl-chart polyline')).length, 1, 'an inter-token latency chart');
    assert.ok((await page.textContent('#transcript .assistant')).length > 0);
    await page.screenshot({ path: path.join(SHOTS, `stream-${transport}.png`), fullPage: true });
    assert.deepEqual(page.errors, []);
    await page.close();
  });

  test(`the next ${transport} turn shows the prompt tokens the prefix cache supplied`, async () => {
    const page = await openPage();
    await setUp(page, { transport, mode: 'chat', maxTokens: '4' });
    const long = 'Tell me about the rivers, the mountains, the old towns and the long roads between them, '
      + 'and about the people who walked those roads in winter and in summer, year after year.';
    for (const message of [long, 'And then?']) {
      await page.fill('#prompt', message);
      await page.press('#prompt', 'Enter');
      await page.waitForFunction(() => document.querySelector('#state').dataset.state === 'done', null, { timeout: 30000 });
    }
    const cached = Number(await page.textContent('#cached'));
    assert.ok(cached >= 16 && cached % 16 === 0, `whole blocks of the first turn reused: ${cached}`);
    assert.deepEqual(page.errors, []);
    await page.close();
  });

  test(`Esc stops a ${transport} stream and the server confirms the cancellation`, async () => {
    const page = await openPage();
    await setUp(page, { transport, maxTokens: '500', temperature: '0.8' });
    await page.fill('#prompt', 'Tell me a long story');
    await page.click('#send');
    await page.waitForFunction(() => Number(document.querySelector('#tokens').textContent) >= 3, null, { timeout: 30000 });
    await page.keyboard.press('Escape');
    await page.waitForFunction(() => document.querySelector('#state').dataset.state === 'cancelled', null, { timeout: 15000 });
    assert.match(await page.textContent('#state'), /confirmed by the server/);
    assert.ok(Number(await page.textContent('#tokens')) < 500, 'stopped before the end');
    await page.screenshot({ path: path.join(SHOTS, `cancelled-${transport}.png`), fullPage: true });
    await page.close();
  });
}

test('the page opens on a chat model, in chat mode, and keeps the conversation', async () => {
  const page = await openPage();
  assert.equal(await page.inputValue('#model'), 'demo-gpt2', 'the first listed model is a text-generation one');
  assert.equal(await page.isVisible('#generate'), true);
  assert.equal(await page.isChecked('input[name=mode][value=chat]'), true);
  await page.fill('#max_tokens', '4');
  await page.fill('#temperature', '0');
  for (const text of ['Hello', 'And then?']) {
    await page.fill('#prompt', text);
    await page.press('#prompt', 'Enter');
    await page.waitForFunction(() => document.querySelector('#state').dataset.state === 'done', null, { timeout: 30000 });
  }
  const turns = await page.$$eval('#transcript > div', (ds) => ds.map((d) => d.className));
  assert.deepEqual(turns, ['user', 'assistant', 'user', 'assistant']);
  assert.equal(await page.evaluate(() => state.conversation.length), 4, 'both turns are sent back as the history');
  await page.close();
});

test('each streamed token is coloured by its probability, with the alternatives on hover', async () => {
  const page = await openPage();
  await setUp(page, { transport: 'sse', mode: 'chat', maxTokens: '8', temperature: '1' });
  await page.fill('#seed', '7');
  await page.fill('#prompt', 'Why is the sky blue?');
  await page.press('#prompt', 'Enter');
  await page.waitForFunction(() => document.querySelector('#state').dataset.state === 'done', null, { timeout: 30000 });
  const spans = await page.$$eval('#transcript .assistant span.tok',
    (ss) => ss.map((s) => ({ p: Number(s.dataset.p), title: s.title, bg: s.style.backgroundColor })));
  assert.ok(spans.length >= 5, `coloured tokens: ${spans.length}`);
  for (const s of spans) {
    assert.ok(s.p > 0 && s.p <= 1, `a probability: ${s.p}`);
    assert.ok(s.bg.startsWith('rgb'), `a background colour: ${s.bg}`);
    const lines = s.title.split('\n');
    assert.match(lines[0], /^p = [0-9.]+ %$/);
    assert.equal(lines.length, 6, `the probability and five alternatives: ${s.title}`);
  }
  await page.hover('#transcript .assistant span.tok');
  await page.screenshot({ path: path.join(SHOTS, 'token-probabilities.png'), fullPage: true });
  // Completion mode over SSE: the legacy top_logprobs maps give the same picture.
  await setUp(page, { transport: 'sse', mode: 'completion', maxTokens: '6', temperature: '0' });
  await page.fill('#prompt', 'Once upon a time');
  await page.press('#prompt', 'Enter');
  await page.waitForFunction(() => document.querySelector('#state').dataset.state === 'done', null, { timeout: 30000 });
  const last = await page.$$eval('#transcript .assistant', (as) => as[as.length - 1].querySelectorAll('span.tok').length);
  assert.ok(last >= 4, `coloured completion tokens: ${last}`);
  assert.deepEqual(page.errors, []);
  await page.close();
});

test('a validation error is shown inline, and the page keeps working', async () => {
  const page = await openPage();
  await setUp(page, { transport: 'sse', temperature: '-1' });
  await page.click('#send');
  await page.waitForSelector('#error:not([hidden])');
  assert.match(await page.textContent('#error'), /temperature/);
  assert.equal(await page.getAttribute('#state', 'data-state'), 'error');
  await page.screenshot({ path: path.join(SHOTS, 'validation-error.png'), fullPage: true });
  await page.fill('#temperature', '0');
  await page.click('#send');
  await page.waitForFunction(() => document.querySelector('#state').dataset.state === 'done', null, { timeout: 30000 });
  assert.equal(await page.isHidden('#error'), true, 'the error clears on the next request');
  await page.close();
});

test('the embeddings tab compares two texts with the bundled encoder', async () => {
  const page = await openPage();
  await page.selectOption('#model', 'all-minilm-l6-v2');
  assert.equal(await page.isVisible('#embeddings'), true);
  assert.equal(await page.isVisible('#generate'), false);
  await page.click('#compare');
  await page.waitForFunction(() => /^[0-9.-]+$/.test(document.querySelector('#cosine').textContent));
  const similar = Number(await page.textContent('#cosine'));
  await page.fill('#text-b', 'Stock markets fell sharply after the announcement.');
  await page.click('#compare');
  await page.waitForFunction((prev) => /^[0-9.-]+$/.test(document.querySelector('#cosine').textContent)
    && document.querySelector('#cosine').textContent !== prev, similar.toFixed(4));
  const unrelated = Number(await page.textContent('#cosine'));
  assert.ok(similar > 0.5 && unrelated < similar, `paraphrase ${similar} vs unrelated ${unrelated}`);
  await page.screenshot({ path: path.join(SHOTS, 'embeddings.png'), fullPage: true });
  await page.close();
});

test('the fill-mask tab lists a masked-language model\'s candidates and explains a missing mask', async () => {
  const page = await openPage();
  await page.selectOption('#model', 'demo-bert-mlm');
  assert.equal(await page.isVisible('#fill-mask'), true);
  assert.equal(await page.isVisible('#generate'), false);
  await page.click('#fill');
  await page.waitForFunction(() => document.querySelectorAll('#fm-results li').length === 5);
  const first = await page.textContent('#fm-results li');
  assert.match(first, /%\): the capital of france is /);
  await page.fill('#fm-text', 'no mask here');
  await page.click('#fill');
  await page.waitForSelector('#fm-error:not([hidden])');
  assert.match(await page.textContent('#fm-error'), /\[MASK\]/);
  assert.equal(await page.$$eval('#fm-results li', (l) => l.length), 0);
  await page.screenshot({ path: path.join(SHOTS, 'fill-mask.png'), fullPage: true });
  await page.close();
});

test('a server that is down behind the proxy is reported, and the page recovers when it is back', async () => {
  // The proxy answers 502 for the model list while the backend is "down", as a real one does.
  let down = true;
  const flaky = await startProxy(SERVER, (req, res) => {
    if (down && req.url.includes('/v1/models')) {
      res.writeHead(502, { 'Content-Type': 'text/plain' }).end('bad gateway');
      return;
    }
    forward(SERVER, req, res);
  });
  const page = await browser.newPage();
  await page.goto(`http://127.0.0.1:${flaky.address().port}${PREFIX}/`);
  await page.waitForSelector('#banner:not([hidden])');
  assert.match(await page.textContent('#banner'), /Cannot reach the server: HTTP 502/);
  down = false;
  await page.waitForSelector('#model option[value="demo-gpt2"]', { state: 'attached', timeout: 10000 });
  assert.equal(await page.isHidden('#banner'), true, 'the banner goes once the server answers');
  await page.close();
  flaky.close();
});

test('an overloaded server\'s 429 is shown with its Retry-After', async () => {
  const page = await openPage();
  await setUp(page, { transport: 'sse' });
  // Fill the batch (one sequence) and the queue (one waiting), each on a connection of its own.
  const requests = [];
  for (let i = 0; i < 2; i++) {
    const req = http.request({ host: SERVER.hostname, port: SERVER.port, path: '/v1/completions', method: 'POST',
      agent: false, headers: { 'Content-Type': 'application/json' } }, (res) => res.resume());
    req.on('error', () => {});
    req.end(JSON.stringify({ model: 'demo-gpt2', prompt: 'Hi', max_tokens: 500, ignore_eos: true, stream: true }));
    requests.push(req);
  }
  try {
    // A queued stream gets its response headers with its first event, so watch the server's gauge.
    for (let k = 0; ; k++) {
      const scrape = await (await fetch(new URL('q/metrics', SERVER), { headers: { Accept: 'text/plain' } })).text();
      const waiting = /spindle_requests_waiting\{model="demo-gpt2",?\} ([0-9.]+)/.exec(scrape);
      if (waiting && Number(waiting[1]) >= 1) break;
      assert.ok(k < 400, 'the two long streams never filled the batch and the queue');
      await new Promise((r) => setTimeout(r, 5));
    }
    await page.click('#send');
    await page.waitForSelector('#error:not([hidden])');
    assert.match(await page.textContent('#error'), /Server busy: .*retry in [0-9]+ s/);
    await page.screenshot({ path: path.join(SHOTS, 'overloaded.png'), fullPage: true });
  } finally {
    requests.forEach((r) => r.destroy());
    await page.close();
  }
});
