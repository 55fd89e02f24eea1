// pages/wfm_common.js: what the workforce pages share: the tab bar, form
// fields, a queue picker and the SVG charts (built node by node with
// createElementNS; text only ever as text nodes). Times on the charts are
// UTC, as the server counts its 15-minute intervals from UTC midnight.
import { h } from '../dom.js';
import { t } from '../i18n.js';
import { api } from '../api.js';

export const SVG = 'http://www.w3.org/2000/svg';
export const IV_MS = 900000;
export const DAY_IV = 96;

// s('line', {x1: …}, children…): an SVG element.
export function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v !== undefined && v !== null) el.setAttribute(k, String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

const TABS = [
  ['#/wfm', 'wfm.tab.calculator'],
  ['#/wfm/forecast', 'wfm.tab.forecast'],
  ['#/wfm/staffing', 'wfm.tab.staffing'],
  ['#/wfm/schedule', 'wfm.tab.schedule'],
  ['#/wfm/adherence', 'wfm.tab.adherence'],
  ['#/wfm/simulate', 'wfm.tab.simulate'],
];

// The workforce pages' own navigation; `active` is one of the hrefs.
export function wfmTabs(active) {
  return h('nav', { class: 'wfm-tabs', 'aria-label': t('wfm.tabs') },
    h('ul', null, TABS.map(([href, key]) => h('li', null,
      h('a', { href, class: href === active ? 'active' : null, 'aria-current': href === active ? 'page' : null }, t(key))))));
}

export function field(id, label, input, hint) {
  return h('div', { class: 'field' }, h('label', { for: id }, label), input,
    hint ? h('p', { class: 'hint' }, hint) : null);
}

export function numberInput(id, value, attrs = {}) {
  return h('input', { id, name: id, type: 'number', value: String(value), class: 'narrow', step: 'any', ...attrs });
}

export function select(id, options, value) {
  return h('select', { id, name: id, class: 'narrow' },
    options.map(([v, label]) => h('option', { value: v, selected: v === value }, label)));
}

// A <select> of the queues (filled asynchronously; empty on failure).
export function queueSelect(id, signal) {
  const sel = h('select', { id, name: id }, h('option', { value: '' }, t('wfm.loading')));
  api.all('queues', { signal }).then((qs) => {
    sel.replaceChildren(...qs.map((q) => h('option', { value: String(q.id) }, q.name)));
    if (!qs.length) sel.append(h('option', { value: '' }, t('wfm.no_queues')));
    sel.dispatchEvent(new Event('wfm-loaded'));
  }).catch(() => sel.replaceChildren(h('option', { value: '' }, t('wfm.no_queues'))));
  return sel;
}

// Today's date (UTC) as YYYY-MM-DD.
export function todayUtc() {
  return new Date().toISOString().slice(0, 10);
}

export function pct(x, digits = 1) {
  return x === null || x === undefined ? '—' : `${(x * 100).toFixed(digits)} %`;
}

export function fixed(x, digits = 1) {
  return x === null || x === undefined || !Number.isFinite(x) ? '—' : x.toFixed(digits);
}

// A definition list of [label, value] pairs (figures next to a chart).
export function figures(id, rows) {
  return h('dl', { class: 'wfm-figures', id },
    rows.map(([k, v]) => [h('dt', null, k), h('dd', null, v)]));
}

// A legend: [[class, label], …] with a swatch drawn in the series' style.
export function legend(items) {
  return h('ul', { class: 'wfm-legend' }, items.map(([cls, label]) => h('li', null,
    s('svg', { width: 22, height: 10, class: 'swatch', 'aria-hidden': 'true' },
      s('line', { x1: 1, x2: 21, y1: 5, y2: 5, class: cls })),
    ' ', label)));
}

function pad(n) { return String(n).padStart(2, '0'); }

// "HH:MM" (UTC) or "MM-DD" of a time in ms.
export function hhmm(ms) {
  const d = new Date(ms);
  return `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}`;
}
export function mmdd(ms) {
  const d = new Date(ms);
  return `${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`;
}

// A tick step of 1, 2 or 5 x 10^k giving at most 5 steps up to v.
function niceStep(v) {
  const raw = (v > 0 ? v : 1) / 5;
  const p = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 5, 10]) if (m * p >= raw) return m * p;
  return 10 * p;
}

// A time-series chart over n intervals from startMs.
//   series: [{values, offset = 0, cls, step = false}] (null: no value)
//   bands:  [{lo, hi, offset = 0, cls}] (confidence intervals)
//   nowMs:  a vertical marker; yMax: fixed top (else from the data)
//   yFmt:   tick label; label: the picture's accessible name
export function timeChart({ n, startMs, stepMs = IV_MS, series = [], bands = [], nowMs, yMax, yFmt = (v) => String(v), label, id, cls = '' }) {
  const W = 760, H = 260, L = 52, R = 14, T = 12, B = 38;
  let top = yMax;
  let step;
  if (top === undefined) {
    let m = 0;
    for (const sr of series) for (const v of sr.values) if (v !== null && v > m) m = v;
    for (const b of bands) for (const v of b.hi) if (v !== null && v > m) m = v;
    step = niceStep(m);
    // counts (agents, contacts) get whole-number ticks
    const whole = series.every((sr) => sr.values.every((v) => v === null || v === undefined || Number.isInteger(v)));
    if (whole) step = Math.max(1, step);
    top = Math.max(1, Math.ceil((m || 1) / step)) * step;
  } else {
    step = top / 4;
  }
  const X = (i) => L + (i / Math.max(1, n)) * (W - L - R);
  const Y = (v) => T + (1 - Math.min(v, top) / top) * (H - T - B);
  const svg = s('svg', { viewBox: `0 0 ${W} ${H}`, class: `chart wfm-chart ${cls}`.trim(), role: 'img', 'aria-label': label, id });
  svg.append(s('title', {}, label));
  const digits = step >= 1 ? 0 : Math.ceil(-Math.log10(step));
  for (let k = 0; k * step <= top + 1e-9; k++) {
    const v = Number((k * step).toFixed(digits));
    svg.append(s('line', { x1: L, x2: W - R, y1: Y(v), y2: Y(v), class: 'grid' }),
      s('text', { x: L - 6, y: Y(v) + 4, 'text-anchor': 'end', class: 'tick' }, yFmt(v)));
  }
  // x ticks: every half hour up to every week, at most ~10
  const spanMs = n * stepMs;
  const choices = [0.5, 1, 3, 6, 12, 24, 48, 168].map((hh) => hh * 3600000);
  const tickMs = choices.find((c) => spanMs / c <= 10) || choices[choices.length - 1];
  const first = Math.ceil(startMs / tickMs) * tickMs;
  for (let tm = first; tm < startMs + spanMs; tm += tickMs) {
    const i = (tm - startMs) / stepMs;
    const day = tm % 86400000 === 0;
    svg.append(s('line', { x1: X(i), x2: X(i), y1: H - B, y2: H - B + 4, class: 'grid' }),
      s('text', { x: X(i), y: H - B + 16, 'text-anchor': 'middle', class: 'tick' },
        tickMs >= 86400000 || (day && spanMs > 86400000) ? mmdd(tm) : hhmm(tm)));
  }
  for (const b of bands) {
    const off = b.offset || 0;
    let seg = [];
    const flush = () => {
      if (seg.length > 1) {
        const up = seg.map(([i, lo, hi]) => `${X(i + 0.5).toFixed(1)},${Y(hi).toFixed(1)}`);
        const down = seg.slice().reverse().map(([i, lo]) => `${X(i + 0.5).toFixed(1)},${Y(lo).toFixed(1)}`);
        svg.append(s('polygon', { points: up.concat(down).join(' '), class: b.cls }));
      }
      seg = [];
    };
    b.lo.forEach((lo, k) => {
      const hi = b.hi[k];
      if (lo === null || hi === null) flush();
      else seg.push([off + k, lo, hi]);
    });
    flush();
  }
  for (const sr of series) {
    const off = sr.offset || 0;
    let pts = [];
    const flush = () => {
      if (pts.length > 1 || (pts.length === 1 && sr.step)) svg.append(s('polyline', { points: pts.join(' '), class: sr.cls }));
      else if (pts.length === 1) {
        const [x, y] = pts[0].split(',');
        svg.append(s('circle', { cx: x, cy: y, r: 2.5, class: `${sr.cls} dot` }));
      }
      pts = [];
    };
    sr.values.forEach((v, k) => {
      if (v === null || v === undefined) { flush(); return; }
      const i = off + k;
      if (sr.step) pts.push(`${X(i).toFixed(1)},${Y(v).toFixed(1)}`, `${X(i + 1).toFixed(1)},${Y(v).toFixed(1)}`);
      else pts.push(`${X(i + 0.5).toFixed(1)},${Y(v).toFixed(1)}`);
    });
    flush();
  }
  if (nowMs !== undefined && nowMs >= startMs && nowMs <= startMs + spanMs) {
    const i = (nowMs - startMs) / stepMs;
    svg.append(s('line', { x1: X(i), x2: X(i), y1: T, y2: H - B, class: 'now' }),
      s('text', { x: X(i) + 4, y: T + 10, class: 'tick now-label' }, t('wfm.now')));
  }
  return svg;
}
