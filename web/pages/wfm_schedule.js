// pages/wfm_schedule.js: build a shift schedule (POST /api/v1/wfm/schedule)
// from a fixed requirement or a queue's staffed forecast, shift templates
// and the agents who may work; show coverage against the requirement and
// the schedule as a grid of agents by days, each cell a 24-hour time line
// with the shift and its breaks; publish it so that adherence is measured
// against it; list and reopen saved schedules.
import { h, replace } from '../dom.js';
import { t } from '../i18n.js';
import { api } from '../api.js';
import { pageHeader, notice, errorMessage } from '../ui.js';
import { wfmTabs, field, numberInput, select, queueSelect, timeChart, legend, figures, fixed, pct, s, todayUtc, mmdd, DAY_IV } from './wfm_common.js';

// The schedule as a picture: one row per agent, one column per day.
function scheduleGrid(doc, names) {
  const days = doc.days;
  const rows = doc.agents.map((a) => a.agent_id);
  if (doc.shifts.some((x) => x.agent_id === null)) rows.push(null);
  const LW = 130, W = 760, RH = 22, T = 22;
  const cw = (W - LW) / days;
  const H = T + rows.length * RH + 6;
  const day0 = Date.parse(`${doc.start_date}T00:00:00Z`);
  const X = (iv) => LW + (iv / DAY_IV) * cw; // iv counted from the first day
  const svg = s('svg', { viewBox: `0 0 ${W} ${H}`, class: 'chart wfm-grid', id: 'wfm-schedule-grid', role: 'img', 'aria-label': t('wfm.sch.grid') });
  svg.append(s('title', {}, t('wfm.sch.grid')));
  for (let d = 0; d < days; d++) {
    svg.append(s('text', { x: LW + d * cw + cw / 2, y: 14, 'text-anchor': 'middle', class: 'tick' }, mmdd(day0 + d * 86400000)),
      s('line', { x1: LW + d * cw, x2: LW + d * cw, y1: T - 4, y2: H, class: 'grid' }));
    if (days <= 2) {
      for (const hh of [6, 12, 18]) {
        svg.append(s('line', { x1: LW + d * cw + (hh / 24) * cw, x2: LW + d * cw + (hh / 24) * cw, y1: T, y2: H, class: 'grid faint' }));
      }
    }
  }
  rows.forEach((id, r) => {
    const y = T + r * RH;
    svg.append(s('text', { x: LW - 6, y: y + RH / 2 + 4, 'text-anchor': 'end', class: 'tick' },
      id === null ? t('wfm.sch.unassigned') : (names.get(id) || `#${id}`)),
    s('line', { x1: LW, x2: W, y1: y + RH, y2: y + RH, class: 'grid faint' }));
    for (const sh of doc.shifts.filter((x) => x.agent_id === id)) {
      svg.append(s('rect', { x: X(sh.start_interval), y: y + 4, width: Math.max(1, X(sh.start_interval + sh.length) - X(sh.start_interval)), height: RH - 8, rx: 2, class: id === null ? 'shift unassigned' : 'shift' },
        s('title', {}, `${sh.template}: ${sh.start.slice(11, 16)}–${sh.end.slice(11, 16)} UTC`)));
      for (const b of sh.breaks) {
        svg.append(s('rect', { x: X(b.start_interval), y: y + 4, width: Math.max(1, X(b.start_interval + b.length) - X(b.start_interval)), height: RH - 8, class: 'break' }));
      }
    }
  });
  return svg;
}

function renderSchedule(out, doc, names, onPublish) {
  const cover = timeChart({
    n: doc.required.length, startMs: Date.parse(`${doc.start_date}T00:00:00Z`), id: 'wfm-coverage-chart',
    label: t('wfm.sch.coverage'),
    series: [{ values: doc.required, cls: 'required', step: true }, { values: doc.coverage, cls: 'coverage', step: true }],
  });
  const status = doc.status === 'published' ? t('wfm.sch.published') : doc.status === 'draft' ? t('wfm.sch.draft') : t('wfm.sch.unsaved');
  const publish = doc.status === 'draft'
    ? h('button', { type: 'button', class: 'button', id: 'wfm-publish', onclick: () => onPublish(doc.id) }, t('wfm.sch.publish'))
    : null;
  replace(out,
    h('section', { class: 'panel' },
      h('h2', null, `${doc.name} · ${status}`),
      figures('wfm-schedule-figures', [
        [t('wfm.sch.method'), t(`wfm.sch.method.${doc.method}`)],
        [t('wfm.sch.gap'), doc.gap === null ? '—' : pct(doc.gap)],
        [t('wfm.sch.paid_hours'), fixed(doc.paid_hours, 1)],
        [t('wfm.sch.short'), t('wfm.sch.short_text', { intervals: doc.short_intervals, under: fixed(doc.under, 0), over: fixed(doc.over, 0) })],
        [t('wfm.sch.shifts'), t('wfm.sch.shifts_text', { shifts: doc.shifts.length, unassigned: doc.unassigned })],
      ]),
      publish ? h('div', { class: 'form-actions' }, publish) : null),
    h('section', { class: 'panel' }, h('h2', null, t('wfm.sch.grid')), scheduleGrid(doc, names),
      legend([['shift', t('wfm.sch.shift')], ['break', t('wfm.sch.break')]])),
    h('section', { class: 'panel' }, h('h2', null, t('wfm.sch.coverage')), cover,
      legend([['required', t('wfm.sch.required')], ['coverage', t('wfm.sch.covered')]])));
}

export function schedulePage(main, env) {
  env.setTitle(t('wfm.tab.schedule'));
  const { signal } = env;
  const out = h('div', { class: 'wfm-out', 'aria-live': 'polite' });
  const savedList = h('div', { class: 'wfm-saved' });
  const names = new Map();
  const agentBox = h('div', { class: 'wfm-agent-list', id: 'sc-agents' }, t('wfm.loading'));
  const queue = queueSelect('sc-queue', signal);
  const source = select('sc-source', [['fixed', t('wfm.sch.source_fixed')], ['queue', t('wfm.sch.source_queue')]], 'fixed');
  const fixedPart = h('div', { class: 'group-grid' },
    field('sc-need', t('wfm.sch.need'), numberInput('sc-need', 2, { min: 0, step: 1 })),
    field('sc-from', t('wfm.sch.from'), h('input', { id: 'sc-from', type: 'time', value: '08:00', step: 900, class: 'narrow' })),
    field('sc-to', t('wfm.sch.to'), h('input', { id: 'sc-to', type: 'time', value: '17:00', step: 900, class: 'narrow' })));
  const queuePart = h('div', { class: 'group-grid' },
    field('sc-queue', t('wfm.queue'), queue),
    field('sc-shrinkage', t('wfm.shrinkage'), numberInput('sc-shrinkage', 0, { min: 0, max: 95 })));
  const sync = () => { fixedPart.hidden = source.value !== 'fixed'; queuePart.hidden = source.value !== 'queue'; };
  source.addEventListener('change', sync);
  sync();

  const timeInput = (id, value) => h('input', { id, type: 'time', value, step: 900, class: 'narrow' });
  const form = h('form', { class: 'edit-form wfm-form', novalidate: true },
    h('div', { class: 'group-grid' },
      field('sc-start', t('wfm.sch.start'), h('input', { id: 'sc-start', type: 'date', value: todayUtc(), class: 'narrow' })),
      field('sc-days', t('wfm.sch.days'), numberInput('sc-days', 1, { min: 1, max: 7, step: 1 })),
      field('sc-source', t('wfm.sch.source'), source),
      field('sc-limit', t('wfm.sch.time_limit'), numberInput('sc-limit', 5, { min: 1, max: 30, step: 1 }))),
    fixedPart, queuePart,
    h('fieldset', null, h('legend', null, t('wfm.sch.template')),
      h('div', { class: 'group-grid' },
        field('sc-t-earliest', t('wfm.sch.earliest'), timeInput('sc-t-earliest', '07:00')),
        field('sc-t-latest', t('wfm.sch.latest'), timeInput('sc-t-latest', '11:00')),
        field('sc-t-step', t('wfm.sch.step'), numberInput('sc-t-step', 30, { min: 15, step: 15 })),
        field('sc-t-length', t('wfm.sch.length'), numberInput('sc-t-length', 480, { min: 15, step: 15 })),
        field('sc-t-break', t('wfm.sch.break_length'), numberInput('sc-t-break', 30, { min: 0, step: 15 })),
        field('sc-t-break-from', t('wfm.sch.break_from'), numberInput('sc-t-break-from', 180, { min: 0, step: 15 })),
        field('sc-t-break-to', t('wfm.sch.break_to'), numberInput('sc-t-break-to', 300, { min: 0, step: 15 })))),
    h('fieldset', null, h('legend', null, t('wfm.sch.agents')), agentBox),
    h('div', { class: 'form-actions' }, h('button', { type: 'submit', class: 'button' }, t('wfm.sch.build'))));

  api.all('agents', { signal }).then((agents) => {
    for (const a of agents) names.set(a.id, a.name);
    if (!agents.length) { replace(agentBox, h('p', { class: 'hint' }, t('wfm.sch.no_agents'))); return; }
    replace(agentBox, agents.map((a) => h('div', { class: 'wfm-agent' },
      h('input', { type: 'checkbox', id: `sc-ag-${a.id}`, checked: true, dataset: { agent: String(a.id) } }),
      h('label', { for: `sc-ag-${a.id}` }, a.name),
      h('label', { for: `sc-max-${a.id}`, class: 'sr-only' }, t('wfm.sch.max_hours_for', { name: a.name })),
      numberInput(`sc-max-${a.id}`, 40, { min: 0, step: 1, title: t('wfm.sch.max_hours') }),
      h('span', { class: 'hint' }, t('wfm.sch.max_hours')))));
    loadSaved();
  }).catch((e) => { if (!(e && e.name === 'AbortError')) replace(agentBox, notice('error', errorMessage(e))); });

  async function publish(id) {
    try {
      const doc = await api.post(`/wfm/schedules/${id}/publish`, {});
      renderSchedule(out, doc, names, publish);
      loadSaved();
    } catch (e) {
      replace(out, notice('error', errorMessage(e)));
    }
  }

  async function loadSaved() {
    try {
      const list = await api.get('/wfm/schedules', { limit: 20 }, { signal });
      if (!list.items.length) { replace(savedList); return; }
      replace(savedList, h('section', { class: 'panel' }, h('h2', null, t('wfm.sch.saved')),
        h('ul', { class: 'wfm-saved-list' }, list.items.map((it) => h('li', null,
          h('button', {
            type: 'button', class: 'button secondary small',
            onclick: async () => {
              try { renderSchedule(out, await api.get(`/wfm/schedules/${it.id}`, null, { signal }), names, publish); } catch (e) { replace(out, notice('error', errorMessage(e))); }
            },
          }, t('wfm.sch.show')),
          ' ', `${it.name} · ${it.start_date} · ${t(it.status === 'published' ? 'wfm.sch.published' : 'wfm.sch.draft')}`)))));
    } catch (e) {
      if (!(e && e.name === 'AbortError')) replace(savedList, notice('error', errorMessage(e)));
    }
  }

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const v = (id) => form.querySelector(`#${id}`).value;
    const mins = (hhmm) => { const [a, b] = hhmm.split(':').map(Number); return a * 60 + b; };
    const days = Number(v('sc-days'));
    const body = {
      start_date: v('sc-start'), days, time_limit_seconds: Number(v('sc-limit')), save: true,
      templates: [{
        name: t('wfm.sch.template_name'), start_earliest: v('sc-t-earliest'), start_latest: v('sc-t-latest'),
        start_step_minutes: Number(v('sc-t-step')), length_minutes: Number(v('sc-t-length')),
        breaks: Number(v('sc-t-break')) > 0 ? [{ length_minutes: Number(v('sc-t-break')), earliest_minutes: Number(v('sc-t-break-from')), latest_minutes: Number(v('sc-t-break-to')) }] : [],
      }],
      agents: [...agentBox.querySelectorAll('input[type=checkbox]:checked')].map((c) => ({
        agent_id: Number(c.dataset.agent), max_hours: Number(form.querySelector(`#sc-max-${c.dataset.agent}`).value),
      })),
    };
    if (source.value === 'queue') {
      body.queue_id = Number(queue.value);
      body.staffing = { shrinkage: Number(v('sc-shrinkage')) / 100 };
    } else {
      const from = Math.floor(mins(v('sc-from')) / 15), to = Math.ceil(mins(v('sc-to') || '24:00') / 15);
      body.required = [];
      for (let d = 0; d < days; d++) for (let i = 0; i < DAY_IV; i++) body.required.push(i >= from && i < to ? Number(v('sc-need')) : 0);
    }
    replace(out, h('p', { class: 'muted' }, t('wfm.sch.building')));
    try {
      const doc = await api.post('/wfm/schedule', body);
      renderSchedule(out, doc, names, publish);
      loadSaved();
    } catch (e) {
      replace(out, notice('error', errorMessage(e)));
    }
  });
  replace(main, pageHeader(t('wfm.tab.schedule')), wfmTabs('#/wfm/schedule'),
    h('p', { class: 'hint' }, t('wfm.sch.intro')), form, out, savedList);
}

