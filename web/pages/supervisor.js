// pages/supervisor.js: the supervisor view (a shell for now: the live
// queue and agent tables are placeholders that later work fills).
import { h, replace } from '../dom.js';
import { t } from '../i18n.js';
import { pageHeader } from '../ui.js';

function placeholderTable(id, title, columns) {
  return h('section', { class: 'panel', id, 'aria-labelledby': `${id}-title` },
    h('h2', { id: `${id}-title` }, title),
    h('div', { class: 'table-wrap' },
      h('table', { class: 'list' },
        h('thead', null, h('tr', null, columns.map((c) => h('th', { scope: 'col' }, t(c))))),
        h('tbody', null, h('tr', null,
          h('td', { colspan: String(columns.length), class: 'placeholder' }, t('supervisor.no_live_data')))))));
}

export function supervisorPage(main, env) {
  env.setTitle(t('nav.supervisor'));
  replace(main,
    pageHeader(t('nav.supervisor')),
    placeholderTable('panel-queues', t('supervisor.queues'),
      ['supervisor.col.queue', 'supervisor.col.waiting', 'supervisor.col.longest_wait',
        'supervisor.col.agents_available', 'supervisor.col.service_level']),
    placeholderTable('panel-agents', t('supervisor.agents'),
      ['supervisor.col.agent', 'supervisor.col.state', 'supervisor.col.since', 'supervisor.col.interactions']));
}
