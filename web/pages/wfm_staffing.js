// pages/wfm_staffing.js: agents needed per 15-minute interval of a queue's
// forecast (GET /api/v1/wfm/staffing): Erlang A with the patience the
// queue's abandonments give, or Erlang C, and staff to schedule after
// shrinkage, drawn as a step curve.
import { h, replace } from '../dom.js';
import { t } from '../i18n.js';
import { api } from '../api.js';
import { pageHeader, notice, errorMessage } from '../ui.js';
import { wfmTabs, field, numberInput, select, queueSelect, timeChart, legend, figures, fixed, pct } from './wfm_common.js';

function render(out, d) {
  const n = d.agents.length;
  const chart = timeChart({
    n, startMs: Date.parse(d.start), id: 'wfm-staffing-chart', label: t('wfm.st.chart'),
    series: [
      { values: d.scheduled, cls: 'scheduled', step: true },
      { values: d.agents, cls: 'agents', step: true },
    ],
  });
  const calls = timeChart({
    n, startMs: Date.parse(d.start), id: 'wfm-calls-chart', label: t('wfm.st.calls_chart'), cls: 'small',
    series: [{ values: d.calls, cls: 'forecast' }],
  });
  replace(out,
    h('section', { class: 'panel' },
      h('h2', null, t('wfm.st.chart')),
      chart,
      legend([['agents', t('wfm.st.agents')], ['scheduled', t('wfm.st.scheduled')]]),
      figures('wfm-staffing-figures', [
        [t('wfm.st.model'), d.model === 'a' ? t('wfm.st.model_a', { patience: fixed(d.patience_seconds, 0) }) : t('wfm.st.model_c')],
        [t('wfm.st.goal'), t('wfm.st.goal_text', { percent: pct(d.target_sl, 0), seconds: d.sl_seconds })],
        [t('wfm.st.peak'), t('wfm.st.peak_text', { agents: d.peak_agents, scheduled: d.peak_scheduled })],
        [t('wfm.st.hours'), t('wfm.st.hours_text', { agents: fixed(d.agent_hours, 1), scheduled: fixed(d.scheduled_hours, 1) })],
        [t('wfm.fc.method'), t(`wfm.method.${d.forecast_method}`)],
      ])),
    h('section', { class: 'panel' }, h('h2', null, t('wfm.st.calls_chart')), calls));
}

export function staffingPage(main, env) {
  env.setTitle(t('wfm.tab.staffing'));
  const out = h('div', { class: 'wfm-out', 'aria-live': 'polite' });
  const queue = queueSelect('st-queue', env.signal);
  const form = h('form', { class: 'edit-form wfm-form', novalidate: true },
    h('div', { class: 'group-grid' },
      field('st-queue', t('wfm.queue'), queue),
      field('st-model', t('wfm.model'), select('st-model', [['', t('wfm.st.model_auto')], ['a', t('wfm.model_a')], ['c', t('wfm.model_c')]], '')),
      field('st-target', t('wfm.target'), numberInput('st-target', 80, { min: 1, max: 99.99 })),
      field('st-sl', t('wfm.sl_seconds'), numberInput('st-sl', 20, { min: 0 })),
      field('st-shrinkage', t('wfm.shrinkage'), numberInput('st-shrinkage', 30, { min: 0, max: 95 })),
      field('st-aht', t('wfm.st.default_aht'), numberInput('st-aht', 300, { min: 1 })),
      field('st-horizon', t('wfm.fc.horizon'), numberInput('st-horizon', 1, { min: 1, max: 28, step: 1 })),
      field('st-days', t('wfm.fc.days'), numberInput('st-days', 28, { min: 7, max: 91, step: 1 }))),
    h('div', { class: 'form-actions' }, h('button', { type: 'submit', class: 'button' }, t('wfm.calculate'))));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const v = (id) => form.querySelector(`#${id}`).value;
    try {
      const d = await api.get('/wfm/staffing', {
        queue: queue.value, model: v('st-model'), target_sl: Number(v('st-target')) / 100, sl_seconds: v('st-sl'),
        shrinkage: Number(v('st-shrinkage')) / 100, aht_seconds: v('st-aht'), horizon_days: v('st-horizon'), days: v('st-days'),
      }, { signal: env.signal });
      render(out, d);
    } catch (e) {
      if (e && e.name === 'AbortError') return;
      replace(out, notice('error', errorMessage(e)));
    }
  });
  replace(main, pageHeader(t('wfm.tab.staffing')), wfmTabs('#/wfm/staffing'),
    h('p', { class: 'hint' }, t('wfm.st.intro')), form, out);
}
