// pages/wfm_adherence.js: schedule adherence. Today's real-time panel
// (pages/adherence.js, the same one the supervisor view shows) and any
// day's picture from GET /api/v1/wfm/adherence?date=YYYY-MM-DD: per agent
// the published schedule above the states the agent was actually in.
import { h, replace } from '../dom.js';
import { t } from '../i18n.js';
import { api } from '../api.js';
import { pageHeader, notice, errorMessage } from '../ui.js';
import { wfmTabs, field, todayUtc, figures } from './wfm_common.js';
import { adherencePanel, adherenceTimeline, adherenceLegend } from './adherence.js';

export function adherencePage(main, env) {
  env.setTitle(t('wfm.tab.adherence'));
  const out = h('div', { class: 'wfm-out', 'aria-live': 'polite' });
  const date = h('input', { id: 'adh-date', type: 'date', value: todayUtc(), class: 'narrow' });
  const form = h('form', { class: 'edit-form wfm-form', novalidate: true },
    h('div', { class: 'group-grid' }, field('adh-date', t('adh.date'), date)),
    h('div', { class: 'form-actions' }, h('button', { type: 'submit', class: 'button' }, t('adh.show'))));
  async function show() {
    try {
      const d = await api.get('/wfm/adherence', { date: date.value }, { signal: env.signal });
      if (!d.agents.length) {
        replace(out, h('section', { class: 'panel' }, h('p', { class: 'muted' }, t('adh.none_day'))));
        return;
      }
      replace(out, h('section', { class: 'panel' },
        h('h2', null, t('adh.timeline', { date: d.date })),
        figures('adh-day-figures', [
          [t('adh.percent_all'), d.percent === null ? '—' : `${d.percent.toFixed(1)} %`],
          [t('adh.schedules'), d.schedules.map((id) => `#${id}`).join(', ')],
        ]),
        adherenceTimeline(d, 'adherence-day-timeline'),
        adherenceLegend()));
    } catch (e) {
      if (e && e.name === 'AbortError') return;
      replace(out, notice('error', errorMessage(e)));
    }
  }
  form.addEventListener('submit', (ev) => { ev.preventDefault(); show(); });
  const panel = adherencePanel(api);
  env.signal.addEventListener('abort', () => panel.stop());
  replace(main, pageHeader(t('wfm.tab.adherence')), wfmTabs('#/wfm/adherence'),
    h('p', { class: 'hint' }, t('adh.intro')), panel, form, out);
  show();
}
