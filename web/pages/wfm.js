// pages/wfm.js: the staffing calculator, the first of the workforce pages
// (the others: pages/wfm_pages.js). Sends a load (calls per interval,
// handle time, patience, service-level goal) to POST /api/v1/wfm/erlang and
// shows the figures and a chart of service level against the number of
// agents. The chart is SVG built node by node (no markup strings).
import { h, replace } from '../dom.js';
import { t } from '../i18n.js';
import { api } from '../api.js';
import { pageHeader, notice, errorMessage } from '../ui.js';
import { wfmTabs } from './wfm_common.js';

const SVG = 'http://www.w3.org/2000/svg';
function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, String(v));
  for (const c of children) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return el;
}

const pct = (x) => (x === null || x === undefined ? '—' : `${(x * 100).toFixed(1)} %`);
const secs = (x) => (x === null || x === undefined ? '∞' : `${x.toFixed(1)} s`);

// Service level (0–100 %) against agents, with the target as a dashed line
// and the answer marked.
function chart(curve, target, answer) {
  const W = 640, H = 260, L = 48, R = 12, T = 12, B = 36;
  const xs = curve.map((p) => p.agents);
  const x0 = Math.min(...xs), x1 = Math.max(...xs);
  const X = (n) => L + ((n - x0) / Math.max(1, x1 - x0)) * (W - L - R);
  const Y = (v) => T + (1 - v) * (H - T - B);
  const svg = s('svg', { viewBox: `0 0 ${W} ${H}`, class: 'chart', role: 'img', 'aria-label': t('wfm.chart_label') });
  svg.append(s('title', {}, t('wfm.chart_label')));
  for (const v of [0, 0.25, 0.5, 0.75, 1]) {
    svg.append(s('line', { x1: L, x2: W - R, y1: Y(v), y2: Y(v), class: 'grid' }),
      s('text', { x: L - 6, y: Y(v) + 4, 'text-anchor': 'end', class: 'tick' }, `${v * 100}%`));
  }
  const stepX = Math.max(1, Math.round((x1 - x0) / 8));
  for (let n = x0; n <= x1; n += stepX) {
    svg.append(s('text', { x: X(n), y: H - B + 16, 'text-anchor': 'middle', class: 'tick' }, n));
  }
  svg.append(s('text', { x: (L + W - R) / 2, y: H - 4, 'text-anchor': 'middle', class: 'axis' }, t('wfm.agents_axis')));
  if (target > 0) svg.append(s('line', { x1: L, x2: W - R, y1: Y(target), y2: Y(target), class: 'target' }));
  const pts = curve.filter((p) => p.service_level !== null).map((p) => `${X(p.agents).toFixed(1)},${Y(p.service_level).toFixed(1)}`);
  svg.append(s('polyline', { points: pts.join(' '), class: 'curve' }));
  const a = curve.find((p) => p.agents === answer.agents);
  if (a && a.service_level !== null) {
    svg.append(s('line', { x1: X(a.agents), x2: X(a.agents), y1: T, y2: H - B, class: 'answer' }),
      s('circle', { cx: X(a.agents), cy: Y(a.service_level), r: 5, class: 'answer-dot' }));
  }
  return svg;
}

function numberField(id, label, value, attrs = {}) {
  return h('div', { class: 'field' },
    h('label', { for: id }, label),
    h('input', { id, name: id, type: 'number', value: String(value), class: 'narrow', step: 'any', ...attrs }));
}

export function wfmPage(main, env) {
  env.setTitle(t('nav.wfm'));
  const out = h('div', { class: 'wfm-out', 'aria-live': 'polite' });
  const model = h('select', { id: 'wfm-model', name: 'model', class: 'narrow' },
    h('option', { value: 'c' }, t('wfm.model_c')),
    h('option', { value: 'a' }, t('wfm.model_a')),
    h('option', { value: 'b' }, t('wfm.model_b')));
  const patience = numberField('wfm-patience', t('wfm.patience'), 120, { min: 1 });
  const form = h('form', { class: 'edit-form', novalidate: true },
    h('div', { class: 'group-grid' },
      h('div', { class: 'field' }, h('label', { for: 'wfm-model' }, t('wfm.model')), model),
      numberField('wfm-calls', t('wfm.calls'), 360, { min: 0 }),
      numberField('wfm-interval', t('wfm.interval'), 30, { min: 1 }),
      numberField('wfm-aht', t('wfm.aht'), 240, { min: 1 }),
      patience,
      numberField('wfm-sl-seconds', t('wfm.sl_seconds'), 20, { min: 0 }),
      numberField('wfm-target', t('wfm.target'), 80, { min: 1, max: 99.99 }),
      numberField('wfm-shrinkage', t('wfm.shrinkage'), 30, { min: 0, max: 95 }),
      numberField('wfm-agents', t('wfm.agents_optional'), '', { min: 0 })),
    h('div', { class: 'form-actions' }, h('button', { type: 'submit', class: 'button' }, t('wfm.calculate'))));
  const syncPatience = () => { patience.hidden = model.value !== 'a'; };
  model.addEventListener('change', syncPatience);
  syncPatience();

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const v = (id) => form.querySelector(`#${id}`).value;
    const body = {
      model: model.value,
      calls: Number(v('wfm-calls')),
      period_seconds: Number(v('wfm-interval')) * 60,
      aht_seconds: Number(v('wfm-aht')),
      sl_seconds: Number(v('wfm-sl-seconds')),
      shrinkage: Number(v('wfm-shrinkage')) / 100,
    };
    if (model.value === 'a') body.patience_seconds = Number(v('wfm-patience'));
    const target = Number(v('wfm-target')) / 100;
    if (v('wfm-agents') !== '') body.agents = Number(v('wfm-agents'));
    else body.target_sl = target;
    try {
      const ans = await api.post('/wfm/erlang', body);
      const r = ans.result;
      const rows = [
        [t('wfm.out.agents'), String(r.agents)],
        [t('wfm.out.scheduled'), ans.scheduled_agents === undefined ? '—' : String(ans.scheduled_agents)],
        [t('wfm.out.traffic'), r.traffic_erlangs.toFixed(2)],
        [t('wfm.out.service_level'), pct(r.service_level)],
        [t('wfm.out.mean_wait'), secs(r.mean_wait_seconds)],
        [t('wfm.out.p_wait'), pct(r.p_wait)],
        [t('wfm.out.occupancy'), pct(r.occupancy)],
      ];
      if (r.p_abandon !== undefined) rows.push([t('wfm.out.abandon'), pct(r.p_abandon)]);
      if (r.p_block !== undefined) rows.push([t('wfm.out.block'), pct(r.p_block)]);
      replace(out,
        h('section', { class: 'panel' },
          h('h2', null, t('wfm.results')),
          h('table', { class: 'list figures', id: 'wfm-figures' },
            h('tbody', null, rows.map(([k, x]) => h('tr', null, h('th', { scope: 'row' }, k), h('td', null, x)))))),
        h('section', { class: 'panel' }, h('h2', null, t('wfm.chart_label')), chart(ans.curve, body.agents ? 0 : target, r)));
    } catch (e) {
      replace(out, notice('error', errorMessage(e)));
    }
  });
  replace(main, pageHeader(t('nav.wfm')), wfmTabs('#/wfm'), h('p', { class: 'hint' }, t('wfm.intro')), form, out);
}
