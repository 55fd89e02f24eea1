// pages/supervisor_chat.js: the supervisor's read-only view of one live
// chat (GET /api/v1/chats/{id}, then its chat.* events from the stream)
// with a whisper box: a message only the chat's agents see
// (POST /api/v1/chats/{id}/messages, kind "whisper"). The customer never
// receives whispers.
import { h, replace, uniqueId } from '../dom.js';
import { t, has } from '../i18n.js';
import { api } from '../api.js';
import { errorMessage } from '../ui.js';
import { transcript, normalizeMessage, convState } from './chat_view.js';
import { newClientId } from './chat_stream.js';

// ctx: {me, signal, queues (Map), onClose()}
export function chatViewer(ctx, convId) {
  const ac = new AbortController();
  const signal = ac.signal;
  ctx.signal.addEventListener('abort', () => ac.abort(), { once: true });

  const tr = transcript({ myUserId: ctx.me.id, signal });
  const names = new Map();   // user_id → an agent's name
  const titleId = uniqueId('view-title');
  const title = h('h2', { id: titleId }, t('desk.chat_n', { id: convId }));
  const sub = h('p', { class: 'muted chat-sub' });
  const stateBadge = h('span', { class: 'badge' });
  const typing = h('div', { class: 'typing', 'aria-live': 'polite' });
  const msg = h('div', { class: 'notice-area' });
  const inputId = uniqueId('whisper');
  const input = h('textarea', { id: inputId, rows: '2', class: 'composer-input', placeholder: t('supervisor.whisper_placeholder') });
  const send = h('button', { type: 'submit', class: 'button small' }, t('supervisor.whisper_send'));
  const close = h('button', { type: 'button', class: 'button secondary small' }, t('action.close'));
  const form = h('form', { class: 'composer whisper-mode', novalidate: true },
    h('label', { for: inputId }, t('supervisor.whisper_label')),
    input,
    h('div', { class: 'composer-row' }, h('span', { class: 'spacer' }), send));
  const el = h('section', { class: 'panel chat-viewer', 'aria-labelledby': titleId, dataset: { conversation: String(convId) } },
    h('header', { class: 'chat-head' },
      h('div', { class: 'chat-head-text' }, h('div', { class: 'chat-title-row' }, title, stateBadge), sub),
      h('div', { class: 'chat-actions' }, h('span', { class: 'badge read-only' }, t('supervisor.read_only')), close)),
    msg, tr.el, typing, form);

  function setState(s) {
    stateBadge.className = `badge state-${s}`;
    replace(stateBadge, has(`chat_state.${s}`) ? t(`chat_state.${s}`) : s);
  }

  async function load() {
    try {
      const c = await api.get(`/chats/${convId}`, null, { signal });
      replace(title, c.name || t('chat.customer'));
      const q = ctx.queues.get(c.queue_id);
      const parts = Array.isArray(c.participants) ? c.participants : [];
      for (const p of parts) names.set(p.user_id, p.name);
      const agents = parts.map((p) => p.name).filter(Boolean);
      replace(sub, [q ? q.name : null, agents.length ? t('supervisor.with_agents', { names: agents.join(', ') }) : null]
        .filter(Boolean).join(' · '));
      setState(convState(c));
      for (const m of Array.isArray(c.messages) ? c.messages : []) tr.add(normalizeMessage(m));
    } catch (e) {
      if (e && e.name === 'AbortError') return;
      replace(msg, h('div', { class: 'notice notice-error', role: 'alert' }, errorMessage(e)));
    }
  }

  async function post(clientId, text) {
    try {
      const m = await api.post(`/chats/${convId}/messages`, { client_id: clientId, text, kind: 'whisper' }, { signal });
      if (m) tr.add(normalizeMessage(m));
    } catch (e) {
      if (e && e.name === 'AbortError') return;
      tr.failPending(clientId, errorMessage(e));
    }
  }

  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const text = input.value;
    if (!text.trim()) return;
    const clientId = newClientId();
    tr.addPending(clientId, text, 'whisper', (id, txt) => post(id, txt));
    post(clientId, text);
    input.value = '';
  });
  input.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) {
      ev.preventDefault();
      form.requestSubmit();
    }
  });
  close.addEventListener('click', () => {
    ac.abort();
    el.remove();
    ctx.onClose();
  });

  function onEvent(ev) {
    const p = ev.payload || {};
    switch (ev.type) {
      case 'chat.message':
        tr.add(normalizeMessage(p, ev));
        if (p.from === 'customer') typing.replaceChildren();
        break;
      case 'chat.joined':
        names.set(p.user_id, p.name);
        tr.notice(t('chat.joined', { name: p.name || t('chat.agent') }));
        setState('active');
        break;
      case 'chat.left':
        tr.notice(t('chat.left', { name: names.get(p.user_id) || t('chat.agent') }));
        break;
      case 'chat.ended':
        tr.notice(has(`chat.ended_by.${p.by}`) ? t(`chat.ended_by.${p.by}`) : t('chat.ended'));
        setState('ended');
        form.hidden = true;
        break;
      case 'chat.transferred':
        tr.notice(t('chat.transferred', { to: p.to_queue_id
          ? t('chat.to_queue', { name: (ctx.queues.get(p.to_queue_id) || {}).name || p.to_queue_id })
          : t('chat.to_agent', { name: t('chat.agent') }) }));
        break;
      case 'chat.rated':
        tr.notice(t('chat.rated', { rating: p.rating }));
        break;
      default:
        break;
    }
  }

  function onTyping(f) {
    if (!f.on) { typing.replaceChildren(); return; }
    replace(typing, t('chat.typing', { name: f.name || (f.from === 'customer' ? t('chat.customer') : t('chat.agent')) }));
  }

  load();
  return { id: convId, el, onEvent, onTyping, resync: load, close: () => close.click() };
}
