// pages/adherence.js: real-time schedule adherence for the supervisor view.
//
// Interface:
//   import { adherencePanel } from './adherence.js';
//   const el = adherencePanel(api);   // api: the object web/api.js exports
//   someSlot.append(el);
//
//   adherencePanel(api) returns a <section class="panel adherence-panel">
//   that shows, for every agent on today's published schedule (UTC day),
//   what the schedule says now, the agent's state now, whether that is in
//   adherence, the percentage so far today, and a picture of the day
//   (scheduled work and breaks above the actual states, one lane each).
//   It loads GET /api/v1/wfm/adherence at once and again every 30 s while
//   it is in the document; it stops by itself once it has been removed
//   (checked at each tick), or at once with el.stop(). el.refresh()
//   reloads now. Styles: web/wfm.css. Needs the supervisor or admin role.
//
// Also exported for the adherence page: adherenceTimeline(data, id).
import { h, replace } from '../dom.js';
import { t } from '../i18n.js';

const SVG = 'http://www.w3.org/2000/svg';
const REFRESH_MS = 30000;

function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, String(v));
  for (const c of children) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return el;
}

// Runs of equal values: [[value, from, to), …] (nulls skipped).
function runs(values) {
  const out = [];
  let start = 0;
  for (let i = 1; i <= values.length; i++) {
    if (i === values.length || values[i] !== values[start]) {
      if (values[start] !== null && values[start] !== undefined) out.push([values[start], start, i]);
      start = i;
    }
  }
  return out;
}

// The day of every agent: a scheduled lane and an actual lane per agent,
// the hours across, "now" marked. A picture, not a table.
export function adherenceTimeline(d, id = 'adherence-timeline') {
  const LW = 150, W = 760, LANE = 9, GAP = 10, T = 20;
  const RH = LANE * 2 + 3 + GAP;
  const H = T + Math.max(1, d.agents.length) * RH + 4;
  const X = (iv) => LW + (iv / 96) * (W - LW - 22);
  const svg = s('svg', { viewBox: `0 0 ${W} ${H}`, class: 'chart adherence-timeline', id, role: 'img', 'aria-label': t('adh.timeline', { date: d.date }) });
  svg.append(s('title', {}, t('adh.timeline', { date: d.date })));
  for (let hh = 0; hh <= 24; hh += 3) {
    svg.append(s('line', { x1: X(hh * 4), x2: X(hh * 4), y1: T - 4, y2: H, class: 'grid' }),
      s('text', { x: X(hh * 4), y: 12, 'text-anchor': 'middle', class: 'tick' }, `${String(hh).padStart(2, '0')}:00`));
  }
  d.agents.forEach((a, r) => {
    const y = T + r * RH;
    svg.append(s('text', { x: LW - 8, y: y + LANE + 4, 'text-anchor': 'end', class: 'tick' },
      a.percent === null ? a.name : `${a.name} ${a.percent.toFixed(0)} %`));
    for (const [v, i, j] of runs(a.scheduled)) {
      if (v !== 'off') svg.append(s('rect', { x: X(i), y, width: X(j) - X(i), height: LANE, class: `sched-${v}` }));
    }
    for (const [v, i, j] of runs(a.actual)) {
      svg.append(s('rect', { x: X(i), y: y + LANE + 3, width: X(j) - X(i), height: LANE, class: `state-${v}` }));
    }
    // intervals mostly out of adherence: a red tick under the lanes
    a.adherence.forEach((f, i) => {
      if (f !== null && f < 0.5) svg.append(s('rect', { x: X(i), y: y + 2 * LANE + 4, width: X(i + 1) - X(i), height: 2, class: 'out' }));
    });
  });
  const now = Date.parse(d.now), day0 = Date.parse(`${d.date}T00:00:00Z`);
  if (now >= day0 && now < day0 + 86400000) {
    const x = X((now - day0) / 900000);
    svg.append(s('line', { x1: x, x2: x, y1: T - 4, y2: H, class: 'now' }));
  }
  return svg;
}

export function adherenceLegend() {
  const item = (cls, label) => h('li', null,
    s('svg', { width: 14, height: 10, class: 'swatch', 'aria-hidden': 'true' }, s('rect', { x: 0, y: 0, width: 14, height: 10, class: cls })),
    ' ', label);
  return h('ul', { class: 'wfm-legend' },
    item('sched-work', t('adh.sched.work')), item('sched-break', t('adh.sched.break')),
    item('state-available', t('adh.state.available')), item('state-busy', t('adh.state.busy')),
    item('state-wrapup', t('adh.state.wrapup')), item('state-away', t('adh.state.away')),
    item('state-offline', t('adh.state.offline')), item('out', t('adh.out')));
}

function currentRow(a) {
  const cur = a.current;
  const inAdh = cur.in_adherence;
  return h('li', { class: ['adh-agent', inAdh === false ? 'adh-out' : inAdh ? 'adh-in' : null], dataset: { agent: String(a.agent_id) } },
    h('span', { class: 'adh-name' }, a.name),
    h('span', { class: 'adh-now' }, t('adh.now_text', {
      scheduled: cur.scheduled ? t(`adh.sched.${cur.scheduled}`) : '—',
      state: t(`adh.state.${cur.state}`),
    })),
    h('span', { class: 'adh-badge' }, inAdh === null ? '—' : inAdh ? t('adh.in') : t('adh.out')),
    h('span', { class: 'adh-pct' }, a.percent === null ? '—' : `${a.percent.toFixed(1)} %`));
}

export function adherencePanel(api) {
  const body = h('div', { class: 'adh-body' }, h('p', { class: 'muted' }, t('adh.loading')));
  const updated = h('span', { class: 'muted adh-updated' });
  const el = h('section', { class: 'panel adherence-panel', id: 'adherence-panel', 'aria-labelledby': 'adherence-panel-title' },
    h('h2', { id: 'adherence-panel-title' }, t('adh.title'), ' ', updated),
    body);
  let timer = null;
  let seen = false;

  async function refresh() {
    try {
      const d = await api.get('/wfm/adherence');
      if (!d.agents.length) {
        replace(body, h('p', { class: 'muted' }, t('adh.none')));
      } else {
        replace(body,
          h('p', { class: 'adh-summary' }, t('adh.summary', { percent: d.percent === null ? '—' : d.percent.toFixed(1) })),
          h('ul', { class: 'adh-list' }, d.agents.map(currentRow)),
          adherenceTimeline(d, 'adherence-panel-timeline'),
          adherenceLegend());
      }
      replace(updated, t('adh.updated', { time: new Date().toLocaleTimeString(document.documentElement.lang || undefined) }));
    } catch (e) {
      replace(body, h('p', { class: 'notice notice-error', role: 'alert' }, e && e.detail ? e.detail : t('adh.error')));
    }
  }

  let ticks = 0;
  function tick() {
    ticks += 1;
    if (el.isConnected) seen = true;
    else if (seen || ticks > 2) { el.stop(); return; } // removed, or never placed
    refresh();
  }

  el.stop = () => { if (timer) clearInterval(timer); timer = null; };
  el.refresh = refresh;
  refresh();
  timer = setInterval(tick, REFRESH_MS);
  return el;
}
