// pages/agent.js: the agent desktop (a shell for now: state, inbox and
// customer panels are placeholders that later work fills).
import { h, replace } from '../dom.js';
import { t } from '../i18n.js';
import { pageHeader } from '../ui.js';

function panel(id, title, ...body) {
  return h('section', { class: 'panel', id, 'aria-labelledby': `${id}-title` },
    h('h2', { id: `${id}-title` }, title), body);
}

export function agentPage(main, env) {
  env.setTitle(t('nav.agent'));
  const stateId = 'agent-state';
  replace(main,
    pageHeader(t('nav.agent')),
    h('div', { class: 'desk' },
      panel('panel-state', t('agent.state'),
        h('div', { class: 'field' },
          h('label', { for: stateId }, t('agent.state_label')),
          h('select', { id: stateId, disabled: true },
            ['available', 'away', 'offline'].map((s) => h('option', { value: s }, t(`agent.state.${s}`))))),
        h('p', { class: 'placeholder' }, t('agent.state_placeholder'))),
      panel('panel-inbox', t('agent.inbox'), h('p', { class: 'placeholder' }, t('agent.inbox_placeholder'))),
      panel('panel-customer', t('agent.customer'), h('p', { class: 'placeholder' }, t('agent.customer_placeholder')))));
}
