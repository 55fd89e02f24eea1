// pages/supervisor.js: the supervisor's live view. Figures per queue and
// per agent from GET /api/v1/live, re-fetched at most once a second while
// task.*, agent.* and chat.* events arrive on the event stream (and every
// 15 s regardless); the open chats (GET /api/v1/chats?state=open), any of
// which opens read-only with a whisper box (pages/supervisor_chat.js);
// agents' states can be changed (e.g. log out an agent who left). Live
// phone calls and the recordings (pages/supervisor_calls.js, call.* events).
import { h, replace } from '../dom.js';
import { t, has } from '../i18n.js';
import { api } from '../api.js';
import { pageHeader, noticeArea, errorMessage, formatTime } from '../ui.js';
import { openStream, throttle } from './chat_stream.js';
import { liveTables } from './supervisor_live.js';
import { convState } from './chat_view.js';
import { chatViewer } from './supervisor_chat.js';
import { adherencePanel } from './adherence.js';
import { callsPanels } from './supervisor_calls.js';

const POLL_MS = 15000;
const CHAT_LIST_EVENTS = new Set(['chat.started', 'chat.joined', 'chat.left', 'chat.ended', 'chat.transferred']);

export function supervisorPage(main, env) {
  env.setTitle(t('nav.supervisor'));
  const { signal } = env;
  const status = noticeArea();
  const conn = h('span', { class: 'conn', role: 'status' }, t('desk.connecting'));
  const updated = h('span', { class: 'muted live-updated' });
  const queues = new Map();
  const agentList = [];
  let openChats = [];
  let viewer = null;

  const live = liveTables({
    signal,
    notify: (kind, text) => status.show(kind, text),
    onOpenChat: (id) => openViewer(id),
    chatsFor: (agentId) => openChats.filter((c) => Array.isArray(c.participants)
      && c.participants.some((p) => p.agent_id === agentId)),
    refresh: () => refreshLive(),
  });

  const chatBody = h('tbody');
  const chatsEl = h('section', { class: 'panel', id: 'live-chats', 'aria-labelledby': 'live-chats-title' },
    h('h2', { id: 'live-chats-title' }, t('supervisor.open_chats')),
    h('div', { class: 'table-wrap' },
      h('table', { class: 'list live' },
        h('thead', null, h('tr', null,
          h('th', { scope: 'col' }, t('supervisor.col.customer')),
          h('th', { scope: 'col' }, t('supervisor.col.queue')),
          h('th', { scope: 'col' }, t('supervisor.col.chat_state')),
          h('th', { scope: 'col' }, t('supervisor.col.agents')),
          h('th', { scope: 'col' }, t('supervisor.col.started')),
          h('th', { scope: 'col', class: 'actions' }, h('span', { class: 'sr-only' }, t('field.actions'))))),
        chatBody)));
  const viewerSlot = h('div', { class: 'viewer-slot' });

  const calls = callsPanels({ signal, queues, agents: agentList });

  // Real-time schedule adherence (web/pages/adherence.js).
  const adherenceSlot = h('div', { class: 'adherence-slot', id: 'adherence-slot' });

  replace(main,
    pageHeader(t('nav.supervisor'), h('span', { class: 'live-status' }, conn, ' ', updated)),
    status.el,
    h('div', { class: 'supervisor' },
      live.queuesEl,
      live.agentsEl,
      calls.callsEl,
      h('div', { class: 'sup-chats' }, chatsEl, viewerSlot),
      calls.recordingsEl,
      adherenceSlot));

  // ---- figures ---------------------------------------------------------------
  let liveErrorShown = false;
  async function refreshLive() {
    try {
      const d = await api.get('/live', null, { signal });
      live.render(d);
      replace(updated, t('supervisor.updated', { time: new Date().toLocaleTimeString(document.documentElement.lang || undefined) }));
      if (liveErrorShown) { status.clear(); liveErrorShown = false; }
    } catch (e) {
      if (e && e.name === 'AbortError') return;
      liveErrorShown = true;
      status.show('error', t('supervisor.live_failed', { error: errorMessage(e) }));
    }
  }
  const liveSoon = throttle(refreshLive, 1000);

  function renderChats() {
    if (!openChats.length) {
      replace(chatBody, h('tr', null, h('td', { colspan: '6', class: 'placeholder' }, t('supervisor.no_chats'))));
      return;
    }
    replace(chatBody, openChats.map((c) => {
      const q = queues.get(c.queue_id);
      const view = h('button', { type: 'button', class: 'button secondary small' }, t('supervisor.view'));
      view.setAttribute('aria-label', t('supervisor.view_named', { name: c.name || c.id }));
      view.addEventListener('click', () => openViewer(c.id));
      const agents = (Array.isArray(c.participants) ? c.participants : []).map((p) => p.name).filter(Boolean);
      return h('tr', { dataset: { conversation: String(c.id) } },
        h('th', { scope: 'row' }, c.name || t('chat.customer')),
        h('td', null, q ? q.name : String(c.queue_id ?? '')),
        h('td', null, has(`chat_state.${convState(c)}`) ? t(`chat_state.${convState(c)}`) : String(c.state)),
        h('td', null, agents.join(', ')),
        h('td', null, formatTime(c.created_at)),
        h('td', { class: 'actions' }, view));
    }));
  }

  async function refreshChats() {
    try {
      const r = await api.get('/chats', { state: 'open', limit: 200 }, { signal });
      openChats = (r && Array.isArray(r.items) ? r.items : []).filter((c) => c.state !== 'ended');
      renderChats();
      live.redraw();
    } catch (e) {
      if (e && e.name === 'AbortError') return;
      replace(chatBody, h('tr', null, h('td', { colspan: '6', class: 'placeholder' }, errorMessage(e))));
    }
  }
  const chatsSoon = throttle(refreshChats, 1000);

  function openViewer(id) {
    if (viewer && viewer.id === id) {
      viewer.el.scrollIntoView({ block: 'nearest' });
      return;
    }
    if (viewer) viewer.close();
    viewer = chatViewer({ me: env.user, signal, queues, onClose: () => { viewer = null; } }, id);
    viewerSlot.append(viewer.el);
    viewer.el.scrollIntoView({ block: 'nearest' });
  }

  // ---- the stream ----------------------------------------------------------------
  openStream({
    topics: ['task.*', 'agent.*', 'chat.*', 'call.*'],
    signal,
    onFrame(f) {
      if (f.type === 'event' && f.event) {
        const ev = f.event;
        const type = String(ev.type || '');
        if (type.startsWith('task.') || type.startsWith('agent.') || type.startsWith('chat.')) liveSoon();
        if (CHAT_LIST_EVENTS.has(type)) chatsSoon();
        if (type.startsWith('call.')) calls.onEvent(ev);
        if (viewer && type.startsWith('chat.') && ev.interaction === viewer.id) viewer.onEvent(ev);
      } else if (f.type === 'chat_typing' && viewer && f.conversation === viewer.id) {
        viewer.onTyping(f);
      }
    },
    onStatus(s, info) {
      if (s === 'open') {
        replace(conn, t('supervisor.live'));
        conn.className = 'conn ok';
        if (info.reconnected) {
          refreshLive();
          refreshChats();
          calls.refresh();
          if (viewer) viewer.resync();
        }
      } else {
        replace(conn, t('desk.reconnecting'));
        conn.className = 'conn bad';
      }
    },
  });

  const poll = setInterval(() => { refreshLive(); refreshChats(); }, POLL_MS);
  signal.addEventListener('abort', () => clearInterval(poll), { once: true });

  (async () => {
    try {
      for (const q of await api.all('queues', { signal })) queues.set(q.id, q);
      agentList.push(...await api.all('agents', { signal }));
    } catch (e) {
      if (e && e.name === 'AbortError') return;
    }
    await Promise.all([refreshLive(), refreshChats()]);
    calls.refresh();
  })();
  const adherence = adherencePanel(api);
  adherenceSlot.append(adherence);
  signal.addEventListener('abort', () => adherence.stop(), { once: true });
}
