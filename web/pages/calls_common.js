// pages/calls_common.js: what the agent desktop and the supervisor view
// share about voice calls: the live calls (GET /api/v1/calls, refreshed
// when call.* events arrive on the event stream), labels, a ticking
// duration, and the recordings list with an <audio> player and a download
// link (GET /api/v1/recordings, audio at /api/v1/recordings/{id}/audio,
// authenticated by the session cookie). Callers' numbers and names are
// customer text: always inserted as text (dom.js).
import { h, replace } from '../dom.js';
import { t, has } from '../i18n.js';
import { api } from '../api.js';
import { errorMessage, formatTime } from '../ui.js';
import { throttle } from './chat_stream.js';
import { formatDuration } from './chat_view.js';

export const CALL_TOPICS = ['call.*'];

export function callStateLabel(s) {
  return has(`call.state.${s}`) ? t(`call.state.${s}`) : String(s || '');
}

// Who is on the other end: the caller of an inbound call, the number of an
// outbound one.
export function callParty(c) {
  if (c.direction === 'outbound') return t('call.outbound_to', { number: String(c.number || '') });
  return c.caller ? String(c.caller) : t('call.unknown_caller');
}

// A time in ms on the wall clock (the server's started_ms / answered_ms);
// anything else (0, a monotonic value) is unknown.
function wallMs(v) {
  const n = Number(v);
  return Number.isFinite(n) && n > 1e12 ? n : null;
}

// The moment a call's running time counts from: answered, else started,
// else when this page first saw it.
export function callSince(c, seen) {
  return wallMs(c.answered_ms) || wallMs(c.started_ms) || seen || Date.now();
}

// Live calls: {calls (Map call id → call), refresh(), soon(), onEvent(ev), stop()}.
// onChange(calls, error) runs after each refresh.
export function liveCalls({ signal, onChange }) {
  const calls = new Map();
  const seen = new Map();      // call id → when first seen (Date.now())
  let error = null;
  async function refresh() {
    try {
      const r = await api.get('/calls', null, { signal });
      const items = r && Array.isArray(r.items) ? r.items : [];
      calls.clear();
      for (const c of items) {
        calls.set(c.call, c);
        if (!seen.has(c.call)) seen.set(c.call, Date.now());
      }
      for (const id of [...seen.keys()]) if (!calls.has(id)) seen.delete(id);
      error = null;
    } catch (e) {
      if (e && e.name === 'AbortError') return;
      error = e;
    }
    onChange(calls, error);
  }
  const soon = throttle(refresh, 500);
  // Apply what an event says at once (the list follows with the refresh).
  function onEvent(ev) {
    const p = ev.payload || {};
    const c = calls.get(p.call);
    const type = String(ev.type || '');
    if (c) {
      if (type === 'call.answered' || type === 'call.resumed') c.state = 'talking';
      else if (type === 'call.held') c.state = 'held';
      else if (type === 'call.ringing') c.state = 'ringing';
      else if (type === 'call.ended') calls.delete(p.call);
      onChange(calls, error);
    }
    soon();
  }
  const poll = setInterval(refresh, 15000);
  signal.addEventListener('abort', () => clearInterval(poll), { once: true });
  return { calls, seen, refresh, soon, onEvent, since: (c) => callSince(c, seen.get(c.call)) };
}

// A ticking duration: tickers.add(el, sinceMs); tickers.clear() before a redraw.
export function tickers(signal) {
  let list = [];
  const tick = () => {
    const now = Date.now();
    for (const k of list) replace(k.el, formatDuration((now - k.since) / 1000));
  };
  const timer = setInterval(tick, 1000);
  signal.addEventListener('abort', () => clearInterval(timer), { once: true });
  return {
    add(el, since) { list.push({ el, since }); replace(el, formatDuration((Date.now() - since) / 1000)); },
    clear() { list = []; },
  };
}

// The recordings list. opts: {signal, queues (Map), agents (list) or null,
// agent (only this agent's; the server also limits agents to their own),
// limit, title}. Returns {el, refresh()}.
export function recordingsPanel({ signal, queues, agents, agent, limit = 20, title, id }) {
  const body = h('tbody');
  const more = h('button', { type: 'button', class: 'button secondary small', hidden: true }, t('rec.more'));
  const showAgent = Array.isArray(agents);
  const cols = showAgent ? 6 : 5;
  const el = h('section', { class: 'panel recordings', id, 'aria-label': title },
    h('h2', null, title),
    h('div', { class: 'table-wrap' },
      h('table', { class: 'list recordings-list' },
        h('thead', null, h('tr', null,
          h('th', { scope: 'col' }, t('rec.when')),
          h('th', { scope: 'col' }, t('call.caller')),
          h('th', { scope: 'col' }, t('call.queue')),
          showAgent ? h('th', { scope: 'col' }, t('call.agent')) : null,
          h('th', { scope: 'col', class: 'num' }, t('call.duration')),
          h('th', { scope: 'col' }, t('rec.listen')))),
        body)),
    h('div', { class: 'form-actions' }, more));
  let next = null;

  function row(r) {
    const q = queues && r.queue_id ? queues.get(r.queue_id) : null;
    const a = showAgent && r.agent_id ? agents.find((x) => x.id === r.agent_id) : null;
    const url = `/api/v1/recordings/${encodeURIComponent(r.id)}/audio`;
    const player = h('audio', { controls: true, preload: 'none', src: url,
      'aria-label': t('rec.player_named', { call: r.call }) });
    const dl = h('a', { href: url, download: `call-${r.call}.wav`, class: 'button secondary small',
      'aria-label': t('rec.download_named', { call: r.call }) }, t('rec.download'));
    const who = r.direction === 'outbound' ? t('call.outbound_to', { number: String(r.number || '') })
      : r.caller ? String(r.caller) : t('call.unknown_caller');
    return h('tr', { dataset: { recording: String(r.id), call: String(r.call) } },
      h('td', null, formatTime(r.created_at)),
      h('th', { scope: 'row' }, who),
      h('td', null, q ? String(q.name) : r.queue_id ? `#${r.queue_id}` : '—'),
      showAgent ? h('td', null, a ? String(a.name) : r.agent_id ? `#${r.agent_id}` : '—') : null,
      h('td', { class: 'num' }, formatDuration((Number(r.duration_ms) || 0) / 1000)),
      h('td', { class: 'rec-play' }, player, ' ', dl));
  }

  async function load(append) {
    try {
      const params = { limit, agent };
      if (append && next) params.after = next;
      const r = await api.get('/recordings', params, { signal });
      const items = r && Array.isArray(r.items) ? r.items : [];
      next = r ? r.next_after : null;
      more.hidden = next === null || next === undefined;
      if (!append) body.replaceChildren();
      if (!append && !items.length) {
        replace(body, h('tr', null, h('td', { colspan: String(cols), class: 'placeholder' }, t('rec.none'))));
        return;
      }
      body.append(...items.map(row));
    } catch (e) {
      if (e && e.name === 'AbortError') return;
      replace(body, h('tr', null, h('td', { colspan: String(cols), class: 'placeholder' }, errorMessage(e))));
    }
  }
  more.addEventListener('click', () => load(true));
  const refresh = throttle(() => load(false), 1000);
  return { el, refresh, load };
}
