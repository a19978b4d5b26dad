// Spindle playground: plain JS against the public APIs, relative URLs only (works under a sub-path).
'use strict';
const $ = (s) => document.querySelector(s);
const state = { models: [], run: null, conversation: [], generation: 0 };

/** Request headers, with the API key when one was entered. */
function headers(extra = {}) {
  const key = $('#api-key').value.trim();
  return key ? { ...extra, Authorization: `Bearer ${key}` } : extra;
}

function setState(name, text) {
  const el = $('#state');
  el.dataset.state = name;
  el.textContent = text || name;
}

function showError(el, message) {
  el.textContent = message;
  el.hidden = !message;
}

/** A readable message for a failed HTTP response, including Retry-After for 429/503. */
async function describeFailure(response) {
  let message = `HTTP ${response.status}`;
  try {
    const body = await response.json();
    message = (body.error && (body.error.message || body.error)) || message;
  } catch (ignored) { /* not JSON */ }
  const retry = response.headers.get('Retry-After');
  if (response.status === 429 || response.status === 503) {
    message = `${response.status === 429 ? 'Server busy' : 'Server unavailable'}: ${message}`
      + (retry ? ` — retry in ${retry} s` : '');
  }
  return message;
}

async function loadModels() {
  try {
    const r = await fetch('v1/models', { headers: headers() });
    if (r.status === 401) {
      showError($('#banner'), 'This server requires an API key: enter it above.');
      return;
    }
    if (!r.ok) throw new Error(await describeFailure(r));
    state.models = (await r.json()).data;
    const select = $('#model');
    select.innerHTML = '';
    for (const m of state.models) {
      const o = document.createElement('option');
      o.value = m.id;
      const s = m.spindle || {};
      o.textContent = `${m.id} — ${s.family || '?'}${s.random_weights ? ', random demo weights' : ''}`;
      select.appendChild(o);
    }
    showError($('#banner'), '');
    onModelChange();
  } catch (e) {
    showError($('#banner'), `Cannot reach the server: ${e.message}. Retrying…`);
    setTimeout(loadModels, 3000);
  }
}

function currentModel() {
  return state.models.find((m) => m.id === $('#model').value);
}

function onModelChange() {
  const m = currentModel();
  if (!m) return;
  const s = m.spindle || {};
  const tasks = s.tasks || [];
  const embeds = tasks.includes('embeddings');
  const fills = tasks.includes('fill-mask');
  $('#embeddings').hidden = !embeds;
  $('#fill-mask').hidden = !fills;
  $('#generate').hidden = embeds || fills;
  $('#gen-settings').hidden = embeds || fills;
  $('#model-info').innerHTML = '';
  const info = document.createTextNode(`family ${s.family || '?'} · tasks ${tasks.join(', ')} · context ${m.max_model_len} `);
  $('#model-info').appendChild(info);
  if (s.random_weights) {
    const b = document.createElement('span');
    b.className = 'badge';
    b.textContent = 'random weights: output is not language';
    $('#model-info').appendChild(b);
  }
  if (!embeds && !fills) {
    const chat = tasks.includes('chat');
    document.querySelector('input[name=mode][value=chat]').disabled = !chat;
    if (!chat) document.querySelector('input[name=mode][value=completion]').checked = true;
  }
}

function mode() { return document.querySelector('input[name=mode]:checked').value; }
function transport() { return document.querySelector('input[name=transport]:checked').value; }

/** Sampling fields as the APIs name them; empty inputs are left out (server defaults). */
function samplingFields() {
  const out = {};
  const num = (id, key, int) => {
    const v = $('#' + id).value.trim();
    if (v !== '') out[key] = int ? parseInt(v, 10) : parseFloat(v);
  };
  num('temperature', 'temperature');
  num('top_k', 'top_k', true);
  num('top_p', 'top_p');
  num('max_tokens', 'max_tokens', true);
  num('seed', 'seed', true);
  const stop = $('#stop').value.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
  if (stop.length) out.stop = stop;
  return out;
}

function showProbs() { return $('#show-probs').checked; }

/**
 * Appends a streamed piece of text; with probabilities on, as a span coloured from red (unlikely)
 * to green (likely) whose title lists the probability and the most likely alternatives.
 */
function appendToken(out, text, info) {
  if (!info || !Number.isFinite(info.logprob)) {
    out.appendChild(document.createTextNode(text));
    return;
  }
  const p = Math.exp(info.logprob);
  const span = document.createElement('span');
  span.className = 'tok';
  span.textContent = text;
  span.dataset.p = String(p);
  span.style.backgroundColor = `hsl(${Math.round(120 * p)}, 70%, 82%)`;
  const pct = (lp) => `${(Math.exp(lp) * 100).toFixed(1)} %`;
  const lines = [`p = ${pct(info.logprob)}`];
  for (const alt of info.top || []) lines.push(`${JSON.stringify(alt.token)}  ${pct(alt.logprob)}`);
  span.title = lines.join('\n');
  out.appendChild(span);
}

/** The probability information of one streamed chunk, in whichever API's shape it came. */
function tokenInfo(chat, choice) {
  const lp = choice && choice.logprobs;
  if (!lp) return null;
  if (chat) {
    const c = lp.content && lp.content[0];
    return c ? { logprob: c.logprob, top: (c.top_logprobs || []).map((t) => ({ token: t.token, logprob: t.logprob })) } : null;
  }
  if (!lp.token_logprobs || lp.token_logprobs[0] == null) return null;
  const top = lp.top_logprobs && lp.top_logprobs[0];
  return {
    logprob: lp.token_logprobs[0],
    top: top ? Object.entries(top).map(([token, logprob]) => ({ token, logprob })).sort((a, b) => b.logprob - a.logprob) : [],
  };
}

function appendTurn(role, text) {
  const div = document.createElement('div');
  div.className = role;
  div.textContent = (role === 'user' ? 'You: ' : '') + text;
  $('#transcript').appendChild(div);
  return div;
}

/** Per-response figures: TTFT, tokens/s, count, finish reason, server timings, ITL chart. */
class Figures {
  constructor() { this.start = performance.now(); this.times = []; this.finish = null; this.timings = null; }
  token() { this.times.push(performance.now()); this.render(); }
  render() {
    const n = this.times.length;
    $('#tokens').textContent = String(n);
    $('#ttft').textContent = n ? `${(this.times[0] - this.start).toFixed(0)} ms` : '–';
    const span = n > 1 ? (this.times[n - 1] - this.times[0]) / 1000 : 0;
    $('#tps').textContent = span > 0 ? ((n - 1) / span).toFixed(1) : '–';
    $('#finish').textContent = this.finish || '–';
    const t = this.timings;
    $('#server-timings').textContent = t
      ? `queue ${t.queue_ms} ms · TTFT ${t.time_to_first_token_ms} ms · total ${t.total_ms} ms · ${t.decode_tokens_per_second.toFixed(1)} tok/s`
      : '–';
    // The prompt tokens the prefix cache supplied (earlier turns of this chat, a shared system prompt).
    $('#cached').textContent = t && t.cached_prompt_tokens !== undefined ? String(t.cached_prompt_tokens) : '–';
  }
  chart() {
    const svg = $('#itl-chart');
    const gaps = this.times.slice(1).map((t, i) => t - this.times[i]);
    svg.innerHTML = '';
    if (!gaps.length) return;
    const w = 480; const h = 90; const max = Math.max(...gaps, 1);
    const pts = gaps.map((g, i) => `${(i / Math.max(gaps.length - 1, 1)) * (w - 10) + 5},${h - 5 - (g / max) * (h - 20)}`);
    svg.innerHTML = `<polyline fill="none" stroke="#0b57d0" stroke-width="1.5" points="${pts.join(' ')}"/>`
      + `<text x="5" y="12" font-size="11">max ${max.toFixed(1)} ms</text>`;
  }
}

function beginRun() {
  showError($('#error'), '');
  $('#send').disabled = true;
  $('#stop').disabled = false;
  setState('streaming');
  const run = { id: `g${++state.generation}`, figures: new Figures(), stopped: false, cancel: null, text: '' };
  state.run = run;
  return run;
}

function endRun(run, outcome, message) {
  if (state.run !== run) return;
  state.run = null;
  $('#send').disabled = false;
  $('#stop').disabled = true;
  run.figures.render();
  run.figures.chart();
  setState(outcome, message);
  if (outcome === 'done' && mode() === 'chat') state.conversation.push({ role: 'assistant', content: run.text });
}

async function send() {
  if (state.run) return;
  const m = currentModel();
  const text = $('#prompt').value;
  if (!m || !text.trim()) return;
  const chat = mode() === 'chat';
  const body = { model: m.id, ...samplingFields() };
  if (chat) {
    state.conversation.push({ role: 'user', content: text });
    body.messages = state.conversation.slice();
  } else {
    body.prompt = text;
  }
  if (showProbs()) {
    // Chat: logprobs + top_logprobs; completions: logprobs N; the WebSocket gives the chosen token's only.
    if (transport() === 'ws') body.logprobs = true;
    else if (chat) { body.logprobs = true; body.top_logprobs = 5; } else body.logprobs = 5;
  }
  appendTurn('user', text);
  const out = appendTurn('assistant', '');
  const run = beginRun();
  const onToken = (t, info) => { run.text += t; appendToken(out, t, info); run.figures.token(); };
  try {
    if (transport() === 'ws') await streamWs(run, body, onToken);
    else await streamSse(run, chat, body, onToken);
  } catch (e) {
    if (chat && !run.text) state.conversation.pop();
    out.remove();
    showError($('#error'), e.message);
    endRun(run, 'error', 'error');
  }
}

async function streamSse(run, chat, body, onToken) {
  const ctrl = new AbortController();
  run.cancel = () => { ctrl.abort(); confirmSseCancel(run); };
  const r = await fetch(chat ? 'v1/chat/completions' : 'v1/completions', {
    method: 'POST', headers: headers({ 'Content-Type': 'application/json', Accept: 'text/event-stream' }),
    body: JSON.stringify({ ...body, stream: true }), signal: ctrl.signal,
  }).catch((e) => { if (run.stopped) return null; throw e; });
  if (!r) return;
  if (!r.ok) throw new Error(await describeFailure(r));
  const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += value;
      let i;
      while ((i = buf.indexOf('\n\n')) >= 0) {
        const event = buf.slice(0, i);
        buf = buf.slice(i + 2);
        for (const line of event.split('\n')) {
          if (!line.startsWith('data: ')) continue;
          const data = line.slice(6);
          if (data === '[DONE]') { endRun(run, 'done', `done (${run.figures.finish})`); return; }
          const j = JSON.parse(data);
          if (j.error) { showError($('#error'), j.error.message); endRun(run, 'error', 'error'); return; }
          const c = j.choices && j.choices[0];
          if (c) {
            const t = chat ? (c.delta && c.delta.content) : c.text;
            if (t) onToken(t, tokenInfo(chat, c));
            if (c.finish_reason) run.figures.finish = c.finish_reason;
          }
          if (j.timings) run.figures.timings = j.timings;
        }
      }
    }
  } catch (e) {
    if (!run.stopped) throw e;
    return;
  }
  if (state.run === run) endRun(run, 'error', 'stream ended without [DONE]');
}

/**
 * SSE has no cancel message: the client closes the connection and the server stops the sequence.
 * The confirmation is the server's own count of cancelled requests going up.
 */
async function confirmSseCancel(run) {
  setState('cancelling', 'stopping…');
  const before = run.cancelledBefore;
  for (let k = 0; k < 50; k++) {
    try {
      if ((await cancelledCount()) > before) { endRun(run, 'cancelled', 'cancelled — confirmed by the server'); return; }
    } catch (ignored) { /* metrics unreachable */ }
    await new Promise((res) => setTimeout(res, 100));
  }
  endRun(run, 'cancelled', 'cancelled (connection closed; no confirmation from the server)');
}

function streamWs(run, body, onToken) {
  return new Promise((resolve, reject) => {
    const url = new URL('v1/ws', location.href);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    // Browsers cannot set headers on a WebSocket: the key goes as the documented query parameter.
    if ($('#api-key').value.trim()) url.searchParams.set('api_key', $('#api-key').value.trim());
    const ws = new WebSocket(url);
    run.cancel = () => { setState('cancelling', 'stopping…'); ws.send(JSON.stringify({ type: 'cancel', id: run.id })); };
    ws.onopen = () => ws.send(JSON.stringify({ type: 'generate', id: run.id, ...body }));
    ws.onerror = () => reject(new Error('WebSocket connection failed'));
    ws.onmessage = (ev) => {
      const f = JSON.parse(ev.data);
      if (f.id !== run.id) return;
      if (f.type === 'token') onToken(f.text, Number.isFinite(f.logprob) ? { logprob: f.logprob, top: [] } : null);
      else if (f.type === 'done') {
        run.figures.finish = f.finish_reason;
        run.figures.timings = f.timings;
        if (f.finish_reason === 'cancelled') endRun(run, 'cancelled', 'cancelled — confirmed by the server');
        else endRun(run, 'done', `done (${f.finish_reason})`);
        ws.close();
        resolve();
      } else if (f.type === 'error') {
        ws.close();
        reject(new Error(f.error.message));
      }
    };
  });
}

async function stop() {
  const run = state.run;
  if (!run || run.stopped) return;
  run.stopped = true;
  $('#stop').disabled = true;
  if (transport() === 'sse') {
    try { run.cancelledBefore = await cancelledCount(); } catch (ignored) { run.cancelledBefore = 0; }
  }
  if (run.cancel) run.cancel();
}

async function cancelledCount() {
  const model = currentModel().id;
  const text = await (await fetch('q/metrics', { headers: { Accept: 'text/plain' } })).text();
  let n = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith('spindle_requests_total{') && line.includes(`model="${model}"`)
        && line.includes('outcome="cancelled"')) n += parseFloat(line.split(' ').pop());
  }
  return n;
}

async function compare() {
  showError($('#emb-error'), '');
  $('#cosine').textContent = '…';
  try {
    const r = await fetch('v1/embeddings', {
      method: 'POST', headers: headers({ 'Content-Type': 'application/json' }),
      body: JSON.stringify({ model: currentModel().id, input: [$('#text-a').value, $('#text-b').value] }),
    });
    if (!r.ok) throw new Error(await describeFailure(r));
    const [a, b] = (await r.json()).data.map((d) => d.embedding);
    let dot = 0; let na = 0; let nb = 0;
    for (let i = 0; i < a.length; i++) { dot += a[i] * b[i]; na += a[i] * a[i]; nb += b[i] * b[i]; }
    $('#cosine').textContent = (dot / Math.sqrt(na * nb)).toFixed(4);
  } catch (e) {
    $('#cosine').textContent = '–';
    showError($('#emb-error'), e.message);
  }
}

async function fillMask() {
  showError($('#fm-error'), '');
  const list = $('#fm-results');
  list.innerHTML = '';
  try {
    const r = await fetch('v1/fill-mask', {
      method: 'POST', headers: headers({ 'Content-Type': 'application/json' }),
      body: JSON.stringify({ model: currentModel().id, inputs: $('#fm-text').value, parameters: { top_k: 5 } }),
    });
    if (!r.ok) throw new Error(await describeFailure(r));
    let candidates = await r.json();
    // Several masks give one list per mask; show the first mask's.
    if (Array.isArray(candidates[0])) candidates = candidates[0];
    for (const c of candidates) {
      const li = document.createElement('li');
      li.textContent = `${c.token_str} (${(c.score * 100).toFixed(2)} %): ${c.sequence}`;
      list.appendChild(li);
    }
  } catch (e) {
    showError($('#fm-error'), e.message);
  }
}

$('#model').addEventListener('change', onModelChange);
$('#fill').addEventListener('click', fillMask);
$('#api-key').addEventListener('change', loadModels);
$('#send').addEventListener('click', send);
$('#stop').addEventListener('click', stop);
$('#clear').addEventListener('click', () => { state.conversation = []; $('#transcript').innerHTML = ''; });
$('#compare').addEventListener('click', compare);
$('#prompt').addEventListener('keydown', (e) => {
  if (e.key === 'Enter' && !e.shiftKey) { e.preventDefault(); send(); }
});
document.addEventListener('keydown', (e) => { if (e.key === 'Escape') stop(); });
loadModels();
