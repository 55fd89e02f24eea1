// pages/wfm_simulate.js: the what-if simulator. A one-queue scenario
// (contacts and agents per interval, handle time, patience) goes to
// POST /api/v1/wfm/simulate, which runs the real routing engine through
// the day in replications; the answer is drawn as service level and mean
// wait per interval, each with its confidence interval as a band.
import { h, replace } from '../dom.js';
import { t } from '../i18n.js';
import { api } from '../api.js';
import { pageHeader, notice, errorMessage } from '../ui.js';
import { wfmTabs, field, numberInput, timeChart, legend, figures, pct, fixed } from './wfm_common.js';

// "10, 12, 15" or "10" (every interval) -> numbers; null when malformed.
function list(text, n) {
  const parts = text.split(/[\s,;]+/).filter(Boolean).map(Number);
  if (!parts.length || parts.some((x) => !Number.isFinite(x) || x < 0)) return null;
  if (parts.length === 1) return Array(n).fill(parts[0]);
  return parts.length === n ? parts : null;
}

function render(out, r, sc) {
  const q = r.queues[0];
  const iv = q.intervals;
  const mean = (k) => iv.map((x) => (x[k] ? x[k].mean : null));
  const lo = (k) => iv.map((x) => (x[k] && x[k].mean !== null && x[k].half_width !== null ? Math.max(0, x[k].mean - x[k].half_width) : null));
  const hi = (k) => iv.map((x) => (x[k] && x[k].mean !== null && x[k].half_width !== null ? x[k].mean + x[k].half_width : null));
  const startMs = Date.UTC(2000, 0, 1, 8); // a notional day from 08:00
  const stepMs = sc.interval_seconds * 1000;
  const slChart = timeChart({
    n: iv.length, startMs, stepMs, yMax: 1, yFmt: (v) => `${Math.round(v * 100)}%`, id: 'wfm-sim-sl-chart',
    label: t('wfm.sim.sl_chart'),
    bands: [{ lo: lo('service_level').map((v) => (v === null ? null : Math.min(1, v))), hi: hi('service_level').map((v) => (v === null ? null : Math.min(1, v))), cls: 'band' }],
    series: [{ values: mean('service_level'), cls: 'simulated' }],
  });
  const waitChart = timeChart({
    n: iv.length, startMs, stepMs, yFmt: (v) => `${v} s`, id: 'wfm-sim-wait-chart',
    label: t('wfm.sim.wait_chart'),
    bands: [{ lo: lo('mean_wait_seconds'), hi: hi('mean_wait_seconds'), cls: 'band' }],
    series: [{ values: mean('mean_wait_seconds'), cls: 'simulated' }],
  });
  const day = q.day;
  const pm = (st, f) => (st && st.mean !== null ? `${f(st.mean)}${st.half_width !== null ? ` ± ${f(st.half_width)}` : ''}` : '—');
  replace(out,
    h('section', { class: 'panel' },
      h('h2', null, t('wfm.sim.results')),
      figures('wfm-sim-figures', [
        [t('wfm.sim.day_sl'), pm(day.service_level, (x) => pct(x))],
        [t('wfm.sim.day_wait'), pm(day.mean_wait_seconds, (x) => `${fixed(x, 1)} s`)],
        [t('wfm.sim.day_abandon'), pm(day.p_abandon, (x) => pct(x))],
        [t('wfm.sim.occupancy'), pm(r.occupancy_day, (x) => pct(x))],
        [t('wfm.sim.confidence'), t('wfm.sim.confidence_text', { percent: Math.round(r.confidence * 100), replications: r.replications })],
      ])),
    h('section', { class: 'panel' }, h('h2', null, t('wfm.sim.sl_chart')), slChart,
      legend([['simulated', t('wfm.sim.mean')], ['band', t('wfm.sim.ci')]])),
    h('section', { class: 'panel' }, h('h2', null, t('wfm.sim.wait_chart')), waitChart,
      legend([['simulated', t('wfm.sim.mean')], ['band', t('wfm.sim.ci')]])));
}

export function simulatePage(main, env) {
  env.setTitle(t('wfm.tab.simulate'));
  const out = h('div', { class: 'wfm-out', 'aria-live': 'polite' });
  const text = (id, value) => h('input', { id, name: id, type: 'text', value, class: 'wfm-list' });
  const form = h('form', { class: 'edit-form wfm-form', novalidate: true },
    h('div', { class: 'group-grid' },
      field('sim-intervals', t('wfm.sim.intervals'), numberInput('sim-intervals', 8, { min: 1, max: 96, step: 1 })),
      field('sim-minutes', t('wfm.interval'), numberInput('sim-minutes', 15, { min: 1, max: 240, step: 1 })),
      field('sim-aht', t('wfm.aht'), numberInput('sim-aht', 240, { min: 1 })),
      field('sim-patience', t('wfm.sim.patience'), numberInput('sim-patience', 120, { min: 0 })),
      field('sim-sl', t('wfm.sl_seconds'), numberInput('sim-sl', 20, { min: 0 })),
      field('sim-reps', t('wfm.sim.replications'), numberInput('sim-reps', 10, { min: 2, max: 200, step: 1 }))),
    field('sim-calls', t('wfm.sim.calls'), text('sim-calls', '30, 40, 55, 60, 60, 50, 40, 30'), t('wfm.sim.list_hint')),
    field('sim-agents', t('wfm.sim.agents'), text('sim-agents', '10, 12, 15, 16, 16, 14, 12, 10'), t('wfm.sim.list_hint')),
    h('div', { class: 'form-actions' }, h('button', { type: 'submit', class: 'button' }, t('wfm.sim.run'))));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const v = (id) => form.querySelector(`#${id}`).value;
    const n = Number(v('sim-intervals'));
    const calls = list(v('sim-calls'), n), agents = list(v('sim-agents'), n);
    if (!calls || !agents) {
      replace(out, notice('error', t('wfm.sim.bad_list', { n })));
      return;
    }
    const queue = { id: 1, name: 'queue', calls, aht_seconds: Number(v('sim-aht')), sl_seconds: Number(v('sim-sl')) };
    if (Number(v('sim-patience')) > 0) queue.patience_seconds = Number(v('sim-patience'));
    const sc = {
      interval_seconds: Number(v('sim-minutes')) * 60, intervals: n, replications: Number(v('sim-reps')),
      warmup_seconds: Number(v('sim-minutes')) * 60, queues: [queue],
      agents: [{ name: 'agents', count: agents.map((x) => Math.round(x)), queues: [1] }],
    };
    replace(out, h('p', { class: 'muted' }, t('wfm.sim.running')));
    try {
      render(out, await api.post('/wfm/simulate', sc), sc);
    } catch (e) {
      replace(out, notice('error', errorMessage(e)));
    }
  });
  replace(main, pageHeader(t('wfm.tab.simulate')), wfmTabs('#/wfm/simulate'),
    h('p', { class: 'hint' }, t('wfm.sim.intro')), form, out);
}
