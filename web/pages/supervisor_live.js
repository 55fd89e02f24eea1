// pages/supervisor_live.js: the supervisor's live tables from
// GET /api/v1/live: per queue (waiting now, longest wait, offered /
// answered / abandoned today, service level today against the target) and
// per agent (state and time in it, ticking; active chats; change state).
import { h, replace, uniqueId } from '../dom.js';
import { t } from '../i18n.js';
import { api } from '../api.js';
import { errorMessage } from '../ui.js';
import { formatDuration } from './chat_view.js';
import { AWAY_REASONS, stateLabel, reasonLabel } from './agent_states.js';

function num(v) {
  return v === null || v === undefined ? '—' : String(v);
}

// `since` as epoch ms (ISO string, or a number in ms or s).
function sinceMs(v) {
  if (v === null || v === undefined || v === '') return null;
  if (typeof v === 'number') return v > 1e12 ? v : v * 1000;
  const d = Date.parse(v);
  return Number.isNaN(d) ? null : d;
}

function th(key, cls) {
  return h('th', { scope: 'col', class: cls }, t(key));
}

// ctx: {signal, notify(kind, text), onOpenChat(convId), chatsFor(agentId) → [{id, name}]}
export function liveTables(ctx) {
  const queueBody = h('tbody');
  const agentBody = h('tbody');
  const queuesEl = h('section', { class: 'panel', id: 'live-queues', 'aria-labelledby': 'live-queues-title' },
    h('h2', { id: 'live-queues-title' }, t('supervisor.queues')),
    h('div', { class: 'table-wrap' },
      h('table', { class: 'list live' },
        h('thead', null, h('tr', null,
          th('supervisor.col.queue'), th('supervisor.col.waiting', 'num'), th('supervisor.col.longest_wait', 'num'),
          th('supervisor.col.offered', 'num'), th('supervisor.col.answered', 'num'),
          th('supervisor.col.abandoned', 'num'), th('supervisor.col.service_level', 'num'))),
        queueBody)));
  const agentsEl = h('section', { class: 'panel', id: 'live-agents', 'aria-labelledby': 'live-agents-title' },
    h('h2', { id: 'live-agents-title' }, t('supervisor.agents')),
    h('div', { class: 'table-wrap' },
      h('table', { class: 'list live' },
        h('thead', null, h('tr', null,
          th('supervisor.col.agent'), th('supervisor.col.state'), th('supervisor.col.time_in_state', 'num'),
          th('supervisor.col.active_chats'), th('supervisor.col.change_state', 'actions'))),
        agentBody)));

  let data = { queues: [], agents: [] };
  let fetchedAt = 0;
  const tickers = [];   // {el, base, since?}

  function tick() {
    const now = Date.now();
    for (const k of tickers) {
      if (k.since !== undefined) replace(k.el, formatDuration((now - k.since) / 1000));
      else replace(k.el, formatDuration(k.base + (now - fetchedAt) / 1000));
    }
  }

  function renderQueues() {
    const rows = [...data.queues].sort((a, b) => String(a.name).localeCompare(String(b.name)));
    if (!rows.length) {
      replace(queueBody, h('tr', null, h('td', { colspan: '7', class: 'placeholder' }, t('supervisor.no_queues'))));
      return;
    }
    replace(queueBody, rows.map((q) => {
      const wait = h('td', { class: 'num longest-wait' });
      if (q.waiting > 0 && q.longest_wait_seconds !== null && q.longest_wait_seconds !== undefined) {
        tickers.push({ el: wait, base: Number(q.longest_wait_seconds) || 0 });
      } else replace(wait, '—');
      const target = q.target || {};
      const sl = q.service_level_today;
      const slText = sl === null || sl === undefined ? '—' : `${Math.round(sl * 1000) / 10} %`;
      const good = sl === null || sl === undefined || target.percent === undefined ? null : sl * 100 >= target.percent;
      return h('tr', { dataset: { queue: String(q.id) } },
        h('th', { scope: 'row' }, String(q.name ?? q.id)),
        h('td', { class: 'num waiting' }, num(q.waiting)),
        wait,
        h('td', { class: 'num offered' }, num(q.offered_today)),
        h('td', { class: 'num answered' }, num(q.answered_today)),
        h('td', { class: 'num abandoned' }, num(q.abandoned_today)),
        h('td', { class: ['num', 'sl', good === true && 'sl-ok', good === false && 'sl-bad'] },
          h('span', { class: 'sl-value' }, slText),
          target.percent !== undefined ? h('span', { class: 'sl-target muted' },
            t('supervisor.sl_target', { percent: target.percent, seconds: target.seconds })) : null));
    }));
  }

  async function setState(a, state, reason, buttons) {
    for (const b of buttons) b.disabled = true;
    try {
      const body = { state };
      if (state === 'away' && reason) body.reason = reason;
      await api.put(`/agents/${a.agent_id}/state`, body, { signal: ctx.signal });
      ctx.notify('success', t('supervisor.state_set', { name: a.name, state: stateLabel(state) }));
      ctx.refresh();
    } catch (e) {
      if (e && e.name === 'AbortError') return;
      ctx.notify('error', errorMessage(e));
    } finally {
      for (const b of buttons) b.disabled = false;
    }
  }

  function renderAgents() {
    const rows = [...data.agents].sort((a, b) => String(a.name).localeCompare(String(b.name)));
    if (!rows.length) {
      replace(agentBody, h('tr', null, h('td', { colspan: '5', class: 'placeholder' }, t('supervisor.no_agents'))));
      return;
    }
    replace(agentBody, rows.map((a) => {
      const since = sinceMs(a.since);
      const time = h('td', { class: 'num time-in-state' });
      if (since !== null) tickers.push({ el: time, since });
      else replace(time, '—');
      const used = a.used && typeof a.used === 'object' ? a.used.chat : undefined;
      const cap = a.capacity && typeof a.capacity === 'object' ? a.capacity.chat : undefined;
      const convs = ctx.chatsFor(a.agent_id);
      const selId = uniqueId('st');
      const sel = h('select', { id: selId, class: 'narrow' },
        ['available', 'offline'].map((s) => h('option', { value: s }, stateLabel(s))),
        AWAY_REASONS.map((r) => h('option', { value: `away:${r}` }, `${stateLabel('away')}: ${reasonLabel(r)}`)));
      const set = h('button', { type: 'button', class: 'button secondary small' }, t('supervisor.set_state'));
      const logout = h('button', { type: 'button', class: 'button danger small' }, t('supervisor.log_out'));
      set.setAttribute('aria-label', t('supervisor.set_state_for', { name: a.name }));
      logout.setAttribute('aria-label', t('supervisor.log_out_named', { name: a.name }));
      set.addEventListener('click', () => {
        const [s, r] = sel.value.split(':');
        setState(a, s, r, [set, logout]);
      });
      logout.addEventListener('click', () => setState(a, 'offline', null, [set, logout]));
      return h('tr', { dataset: { agent: String(a.agent_id), state: String(a.state) } },
        h('th', { scope: 'row' }, String(a.name ?? a.agent_id)),
        h('td', { class: 'agent-state' },
          h('span', { class: `badge state-${a.state}` }, stateLabel(a.state)),
          a.reason ? h('span', { class: 'muted state-reason' }, ' ', reasonLabel(a.reason)) : null),
        time,
        h('td', { class: 'active-chats' },
          used !== undefined ? h('span', { class: 'chat-count' },
            cap !== undefined ? t('supervisor.chats_of', { used, capacity: cap }) : String(used)) : null,
          convs.length ? h('ul', { class: 'agent-chats' }, convs.map((c) => {
            const b = h('button', { type: 'button', class: 'linkish' }, c.name || t('desk.chat_n', { id: c.id }));
            b.addEventListener('click', () => ctx.onOpenChat(c.id));
            return h('li', null, b);
          })) : null),
        h('td', { class: 'actions' },
          h('label', { for: selId, class: 'sr-only' }, t('supervisor.new_state_for', { name: a.name })),
          sel, ' ', set, ' ', logout));
    }));
  }

  // Re-rendering must not take a half-made choice or the focus away from
  // the supervisor: both are carried over by agent id.
  function rowsState() {
    const keep = new Map();
    for (const tr of agentBody.querySelectorAll('tr[data-agent]')) {
      const sel = tr.querySelector('select');
      const focused = tr.contains(document.activeElement)
        ? [...tr.querySelectorAll('select, button')].indexOf(document.activeElement) : -1;
      keep.set(tr.dataset.agent, { value: sel ? sel.value : null, focused });
    }
    return keep;
  }
  function restore(keep) {
    for (const tr of agentBody.querySelectorAll('tr[data-agent]')) {
      const k = keep.get(tr.dataset.agent);
      if (!k) continue;
      const sel = tr.querySelector('select');
      if (sel && k.value) sel.value = k.value;
      if (k.focused >= 0) {
        const el = tr.querySelectorAll('select, button')[k.focused];
        if (el) el.focus();
      }
    }
  }

  function draw() {
    const keep = rowsState();
    tickers.length = 0;
    renderQueues();
    renderAgents();
    restore(keep);
    tick();
  }

  function render(d) {
    data = { queues: Array.isArray(d && d.queues) ? d.queues : [], agents: Array.isArray(d && d.agents) ? d.agents : [] };
    fetchedAt = Date.now();
    draw();
  }

  const timer = setInterval(tick, 1000);
  ctx.signal.addEventListener('abort', () => clearInterval(timer), { once: true });

  return { queuesEl, agentsEl, render, redraw: draw };
}
