// pages/agent_customer.js: beside each chat, who the customer is
// (GET /api/v1/customers/{id}) and what they contacted us about before, on
// every channel (GET /api/v1/customers/{id}/interactions). All of it is
// customer-supplied text, shown as text.
import { h, replace } from '../dom.js';
import { t, has } from '../i18n.js';
import { api } from '../api.js';
import { errorMessage, formatTime } from '../ui.js';

const MAX_INTERACTIONS = 20;

function dl(rows) {
  const items = rows.filter(([, v]) => v !== null && v !== undefined && v !== '');
  if (!items.length) return null;
  return h('dl', { class: 'facts' }, items.map(([k, v]) => [h('dt', null, k), h('dd', null, v)]));
}

function channelName(c) {
  return has(`channel.${c}`) ? t(`channel.${c}`) : String(c || '');
}

function langName(code) {
  return code && has(`lang.${code}`) ? t(`lang.${code}`) : code;
}

function stateName(s) {
  return has(`task_state.${s}`) ? t(`task_state.${s}`) : String(s || '');
}

// conv: the Conversation (name, email, language, customer_id, created_at);
// queues: Map id → queue; currentId: this conversation (left out of the history).
export function customerPanel(conv, { queues, signal, currentId }) {
  const profile = h('div', { class: 'cust-profile' },
    h('p', { class: 'muted' }, t('msg.loading')));
  const history = h('div', { class: 'cust-history' });
  const el = h('aside', { class: 'chat-side', 'aria-label': t('desk.customer') },
    h('h4', null, t('desk.customer')), profile,
    h('h4', null, t('desk.history')), history);

  function chatFacts() {
    return dl([
      [t('field.name'), conv.name],
      [t('desk.email'), conv.email],
      [t('field.language'), langName(conv.language)],
      [t('desk.started'), conv.created_at ? formatTime(conv.created_at) : null],
    ]);
  }

  async function load() {
    if (!conv.customer_id) {
      replace(profile, chatFacts(), h('p', { class: 'muted' }, t('desk.no_customer')));
      replace(history, h('p', { class: 'muted' }, t('desk.no_history')));
      return;
    }
    try {
      const c = await api.get(`/customers/${conv.customer_id}`, null, { signal });
      // The chat identity is a random visitor id: no use to the agent.
      const ids = (Array.isArray(c.identities) ? c.identities : []).filter((i) => i && i.type !== 'chat');
      const emailKnown = ids.some((i) => i.type === 'email' && i.value === conv.email);
      replace(profile,
        dl([
          [t('field.name'), c.name],
          [t('field.company'), c.company],
          [t('field.language'), langName(c.language)],
          ...ids.map((i) => [has(`identity.${i.type}`) ? t(`identity.${i.type}`) : String(i.type), String(i.value ?? '')]),
          [t('desk.email'), emailKnown ? null : conv.email],
        ]),
        c.notes ? h('p', { class: 'cust-notes' }, c.notes) : null);
    } catch (e) {
      if (e && e.name === 'AbortError') return;
      replace(profile, chatFacts(), h('p', { class: 'att-error' }, errorMessage(e)));
    }
    try {
      const r = await api.get(`/customers/${conv.customer_id}/interactions`, null, { signal });
      const items = (r && Array.isArray(r.items) ? r.items : []).filter((x) => x.id !== currentId);
      if (!items.length) {
        replace(history, h('p', { class: 'muted' }, t('desk.no_history')));
        return;
      }
      replace(history, h('ol', { class: 'interactions' }, items.slice(0, MAX_INTERACTIONS).map((x) => {
        const q = queues.get(x.queue_id);
        return h('li', { class: 'interaction' },
          h('div', { class: 'int-head' },
            h('span', { class: 'int-channel' }, channelName(x.channel)),
            h('time', { datetime: x.created_at || '' }, formatTime(x.created_at))),
          h('div', { class: 'int-meta muted' },
            [q ? q.name : null, stateName(x.state), x.disposition || null].filter(Boolean).join(' · ')),
          x.summary ? h('div', { class: 'int-summary' }, String(x.summary)) : null);
      })));
    } catch (e) {
      if (e && e.name === 'AbortError') return;
      replace(history, h('p', { class: 'att-error' }, errorMessage(e)));
    }
  }

  load();
  return { el, reload: load };
}
