// pages/supervisor_calls.js: the supervisor's "Calls" panel: every live
// call (GET /api/v1/calls, refreshed as call.* events arrive) with its
// state, the caller, queue, agent and a running duration; and the
// recordings with a player and a download link (pages/calls_common.js).
import { h, replace } from '../dom.js';
import { t } from '../i18n.js';
import { liveCalls, tickers, callStateLabel, callParty, recordingsPanel } from './calls_common.js';
import { errorMessage } from '../ui.js';

// ctx: {signal, queues (Map), agents (list, filled later)}
export function callsPanels(ctx) {
  const { signal } = ctx;
  const body = h('tbody');
  const timers = tickers(signal);
  const callsEl = h('section', { class: 'panel', id: 'live-calls', 'aria-labelledby': 'live-calls-title' },
    h('h2', { id: 'live-calls-title' }, t('call.calls')),
    h('div', { class: 'table-wrap' },
      h('table', { class: 'list live calls-list' },
        h('thead', null, h('tr', null,
          h('th', { scope: 'col' }, t('call.caller')),
          h('th', { scope: 'col' }, t('call.state')),
          h('th', { scope: 'col' }, t('call.queue')),
          h('th', { scope: 'col' }, t('call.agent')),
          h('th', { scope: 'col', class: 'num' }, t('call.duration')))),
        body)));

  const live = liveCalls({
    signal,
    onChange(calls, error) {
      timers.clear();
      const rows = [...calls.values()].sort((a, b) => live.since(a) - live.since(b));
      if (!rows.length) {
        const text = error ? (error.status === 503 ? t('call.unavailable') : errorMessage(error)) : t('call.no_calls');
        replace(body, h('tr', null, h('td', { colspan: '5', class: 'placeholder' }, text)));
        return;
      }
      replace(body, rows.map((c) => {
        const q = c.queue ? ctx.queues.get(c.queue) : null;
        const a = c.agent ? ctx.agents.find((x) => x.id === c.agent) : null;
        const dur = h('td', { class: 'num call-timer' });
        timers.add(dur, live.since(c));
        return h('tr', { dataset: { call: String(c.call), state: String(c.state) } },
          h('th', { scope: 'row' }, callParty(c)),
          h('td', null, h('span', { class: `badge call-state call-${c.state}` }, callStateLabel(c.state))),
          h('td', null, q ? String(q.name) : c.queue ? `#${c.queue}` : '—'),
          h('td', null, a ? String(a.name) : c.agent ? `#${c.agent}` : '—'),
          dur);
      }));
    },
  });

  const recordings = recordingsPanel({ signal, queues: ctx.queues, agents: ctx.agents, limit: 25,
    title: t('rec.title'), id: 'recordings' });

  function onEvent(ev) {
    live.onEvent(ev);
    if (ev.type === 'call.recorded') recordings.refresh();
  }

  function refresh() {
    live.refresh();
    recordings.load(false);
  }

  return { callsEl, recordingsEl: recordings.el, onEvent, refresh };
}
