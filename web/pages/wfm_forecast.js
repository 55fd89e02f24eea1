// pages/wfm_forecast.js: a queue's forecast from the event log
// (GET /api/v1/wfm/forecast): contacts per 15-minute interval, actual
// against forecast, today's re-forecast, and handle times; the method the
// backtest chose with every method's WAPE and MASE.
import { h, replace } from '../dom.js';
import { t } from '../i18n.js';
import { api } from '../api.js';
import { pageHeader, notice, errorMessage } from '../ui.js';
import { wfmTabs, field, numberInput, queueSelect, timeChart, legend, figures, fixed, pct, DAY_IV, IV_MS } from './wfm_common.js';

const SHOW_DAYS = 7; // days of history drawn before today

function methodName(m) {
  return t(`wfm.method.${m}`);
}

function render(out, d) {
  const day0 = Date.parse(d.today.start);
  const nh = d.history.arrivals.length;
  const back = Math.min(nh, SHOW_DAYS * DAY_IV);
  const startMs = day0 - back * IV_MS;
  const n = back + d.forecast.arrivals.length;
  const arrChart = timeChart({
    n, startMs, nowMs: Date.parse(d.now), id: 'wfm-forecast-chart', label: t('wfm.fc.chart_arrivals'),
    series: [
      { values: d.history.arrivals.slice(nh - back), cls: 'actual' },
      { values: d.today.arrivals, offset: back, cls: 'actual' },
      { values: d.forecast.arrivals, offset: back, cls: 'forecast' },
      { values: d.today.reforecast.map((v, i) => (i < d.today.elapsed_intervals ? null : v)), offset: back, cls: 'reforecast' },
    ],
  });
  const ahtChart = timeChart({
    n, startMs, nowMs: Date.parse(d.now), id: 'wfm-aht-chart', label: t('wfm.fc.chart_aht'),
    yFmt: (v) => `${v} s`,
    series: [
      { values: d.history.handle_seconds.slice(nh - back), cls: 'actual' },
      { values: d.today.handle_seconds, offset: back, cls: 'actual' },
      { values: d.forecast.handle_seconds, offset: back, cls: 'forecast' },
    ],
  });
  const scores = (list) => list.map((m) => `${methodName(m.method)}: ${m.status === 'ok'
    ? t('wfm.fc.score', { wape: m.wape === null ? '—' : pct(m.wape), mase: fixed(m.mase, 2) })
    : t('wfm.fc.not_enough')}`).join(' · ');
  const c = d.contacts;
  replace(out,
    h('section', { class: 'panel' },
      h('h2', null, t('wfm.fc.chart_arrivals')),
      arrChart,
      legend([['actual', t('wfm.fc.actual')], ['forecast', t('wfm.fc.forecast')], ['reforecast', t('wfm.fc.reforecast')]]),
      figures('wfm-forecast-figures', [
        [t('wfm.fc.method'), methodName(d.forecast.method)],
        [t('wfm.fc.backtest'), scores(d.backtest.arrivals)],
        [t('wfm.fc.scale'), fixed(d.today.scale, 2)],
        [t('wfm.fc.contacts'), t('wfm.fc.contacts_text', { arrivals: c.arrivals, handled: c.handled, abandoned: c.abandoned })],
        [t('wfm.fc.patience'), c.patience_seconds === null ? t('wfm.fc.no_abandons') : `${fixed(c.patience_seconds, 0)} s`],
      ])),
    h('section', { class: 'panel' },
      h('h2', null, t('wfm.fc.chart_aht')),
      ahtChart,
      legend([['actual', t('wfm.fc.actual')], ['forecast', t('wfm.fc.forecast')]]),
      figures('wfm-aht-figures', [
        [t('wfm.fc.method'), methodName(d.forecast.handle_method)],
        [t('wfm.fc.mean_aht'), c.mean_handle_seconds === null ? '—' : `${fixed(c.mean_handle_seconds, 0)} s`],
      ])));
}

export function forecastPage(main, env) {
  env.setTitle(t('wfm.tab.forecast'));
  const out = h('div', { class: 'wfm-out', 'aria-live': 'polite' });
  const queue = queueSelect('fc-queue', env.signal);
  const form = h('form', { class: 'edit-form wfm-form', novalidate: true },
    h('div', { class: 'group-grid' },
      field('fc-queue', t('wfm.queue'), queue),
      field('fc-days', t('wfm.fc.days'), numberInput('fc-days', 28, { min: 7, max: 91, step: 1 })),
      field('fc-horizon', t('wfm.fc.horizon'), numberInput('fc-horizon', 7, { min: 1, max: 28, step: 1 }))),
    h('div', { class: 'form-actions' }, h('button', { type: 'submit', class: 'button' }, t('wfm.fc.show'))));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    try {
      const d = await api.get('/wfm/forecast', {
        queue: queue.value, days: form.querySelector('#fc-days').value, horizon_days: form.querySelector('#fc-horizon').value,
      }, { signal: env.signal });
      render(out, d);
    } catch (e) {
      if (e && e.name === 'AbortError') return;
      replace(out, notice('error', errorMessage(e)));
    }
  });
  replace(main, pageHeader(t('wfm.tab.forecast')), wfmTabs('#/wfm/forecast'),
    h('p', { class: 'hint' }, t('wfm.fc.intro')), form, out);
}
