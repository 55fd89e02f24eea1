// pages/agent.js: the agent desktop. Finds the agent record of the logged-in
// user (GET /api/v1/agents, matched on user_id), lets them choose a state
// (PUT /api/v1/agents/{id}/state) and shows the reported one, opens the
// event stream for offers, invitations and the chat.* events of their
// chats, and shows each chat side by side (pages/agent_chat.js). Phone
// calls: the current-call panel and the dial box (pages/agent_call.js,
// driven by call.* events) and the agent's recent recordings.
import { h, replace } from '../dom.js';
import { t, has } from '../i18n.js';
import { api } from '../api.js';
import { pageHeader, notice, errorMessage, noticeArea } from '../ui.js';
import { openStream } from './chat_stream.js';
import { offerPanel, unlockAudio, offerNote } from './agent_offers.js';
import { chatCard, pendingWrapups } from './agent_chat.js';
import { loadCanned, saveCanned, editCanned } from './agent_canned.js';
import { wrapupForm } from './agent_wrapup.js';
import { AWAY_REASONS, stateLabel, reasonLabel } from './agent_states.js';
import { callPanel } from './agent_call.js';
import { recordingsPanel, CALL_TOPICS } from './calls_common.js';

const STATE_POLL_MS = 15000;

export function agentPage(main, env) {
  env.setTitle(t('nav.agent'));
  const status = noticeArea();
  replace(main, pageHeader(t('nav.agent')), status.el, h('p', { class: 'muted' }, t('msg.loading')));
  start(main, env, status).catch((e) => {
    if (e && e.name === 'AbortError') return;
    replace(main, pageHeader(t('nav.agent')), notice('error', errorMessage(e)));
  });
}

async function start(main, env, status) {
  const { signal, user: me } = env;
  const [agents, queueList] = await Promise.all([
    api.all('agents', { signal }),
    api.all('queues', { signal }),
  ]);
  if (signal.aborted) return;
  const myAgent = agents.find((a) => a.user_id === me.id);
  if (!myAgent) {
    replace(main, pageHeader(t('nav.agent')), notice('info', t('desk.no_agent')));
    return;
  }
  const queues = new Map(queueList.map((q) => [q.id, q]));
  let canned = loadCanned(me.id);
  const chats = new Map();          // conversation id → card
  const tasks = new Map();          // task id → card of a non-chat task

  // ---- state -----------------------------------------------------------------
  const reported = h('span', { class: 'badge state-badge', id: 'my-state', role: 'status' }, '…');
  const reasonText = h('span', { class: 'muted state-reason' });
  const usedText = h('span', { class: 'muted state-used' });
  const reasonSel = h('select', { id: 'away-reason', class: 'narrow' },
    AWAY_REASONS.map((r) => h('option', { value: r }, reasonLabel(r))));
  const btn = (s, cls) => h('button', { type: 'button', class: ['button', 'small', cls], dataset: { state: s } },
    t(`agent.set.${s}`));
  const btnAvailable = btn('available');
  const btnAway = btn('away', 'secondary');
  const btnOffline = btn('offline', 'secondary');
  const conn = h('span', { class: 'conn', role: 'status' }, t('desk.connecting'));
  const cannedBtn = h('button', { type: 'button', class: 'button secondary small' }, t('canned.edit'));

  const stateBar = h('section', { class: 'desk-bar', 'aria-label': t('agent.state') },
    h('div', { class: 'desk-state' },
      h('span', { class: 'desk-label' }, t('desk.my_state')), reported, reasonText, usedText),
    h('div', { class: 'desk-controls' },
      btnAvailable,
      h('span', { class: 'away-group' },
        h('label', { for: 'away-reason', class: 'sr-only' }, t('desk.away_reason')),
        reasonSel, btnAway),
      btnOffline),
    h('div', { class: 'desk-meta' }, h('span', { class: 'muted' }, myAgent.name), conn, cannedBtn));

  function showState(s) {
    if (!s) return;
    reported.className = `badge state-badge state-${s.state}`;
    reported.dataset.state = s.state;
    replace(reported, stateLabel(s.state));
    replace(reasonText, s.state === 'away' || (s.requested === 'away' && s.reason) ? reasonLabel(s.reason) : '');
    const used = s.used && typeof s.used === 'object' ? s.used.chat : undefined;
    const cap = myAgent.capacity && myAgent.capacity.chat;
    replace(usedText, used !== undefined && cap !== undefined ? t('desk.chats_used', { used, capacity: cap }) : '');
    for (const b of [btnAvailable, btnAway, btnOffline]) {
      b.setAttribute('aria-pressed', String(b.dataset.state === (s.requested || s.state)));
    }
  }

  let stateReq = 0;
  async function refreshState() {
    const n = ++stateReq;
    try {
      const s = await api.get(`/agents/${myAgent.id}/state`, null, { signal });
      if (n === stateReq) showState(s);
    } catch (e) {
      if (e && e.name === 'AbortError') return;
      if (e.status !== 503) status.show('error', errorMessage(e));
    }
  }

  async function setState(state) {
    unlockAudio();
    const body = { state };
    if (state === 'away') body.reason = reasonSel.value;
    for (const b of [btnAvailable, btnAway, btnOffline]) b.disabled = true;
    try {
      stateReq++;
      const s = await api.put(`/agents/${myAgent.id}/state`, body, { signal });
      status.clear();
      showState(s);
    } catch (e) {
      if (e && e.name === 'AbortError') return;
      status.show('error', errorMessage(e));
    } finally {
      for (const b of [btnAvailable, btnAway, btnOffline]) b.disabled = false;
    }
  }
  btnAvailable.addEventListener('click', () => setState('available'));
  btnAway.addEventListener('click', () => setState('away'));
  btnOffline.addEventListener('click', () => setState('offline'));

  cannedBtn.addEventListener('click', async () => {
    const list = await editCanned(canned);
    if (list) {
      canned = list;
      if (!saveCanned(me.id, list)) status.show('error', t('canned.not_saved'));
    }
  });

  // ---- chats -------------------------------------------------------------------
  const chatArea = h('div', { class: 'chat-grid', 'aria-live': 'off' });
  const empty = h('p', { class: 'empty chat-empty' }, t('desk.no_chats'));

  function syncEmpty() {
    empty.hidden = chats.size + tasks.size > 0;
  }

  const ctx = {
    me,
    myAgent,
    queues,
    agents,
    signal,
    stream: null,
    canned: () => canned,
    onClose(card) {
      chats.delete(card.id);
      syncEmpty();
      refreshState();
    },
  };

  function openChat(convId, opts = {}) {
    if (!convId) return null;
    let card = chats.get(convId);
    if (card) {
      card.adopt(opts);
      return card;
    }
    card = chatCard(ctx, convId, opts);
    chats.set(convId, card);
    chatArea.append(card.el);
    syncEmpty();
    return card;
  }

  // A task of another channel (voice, email, …): complete it, then wrap up
  // (a phone call's task is completed when the call ends: wrap-up at once).
  function openTask(task, opts = {}) {
    if (tasks.has(task.id)) return;
    const slot = h('div');
    const complete = h('button', { type: 'button', class: 'button small' }, t('desk.complete'));
    const q = queues.get(task.queue_id);
    const card = h('article', { class: 'chat-card task-card', dataset: { task: String(task.id) } },
      h('header', { class: 'chat-head' },
        h('h3', { class: 'chat-title' }, t('desk.task_title', { id: task.id, channel: has(`channel.${task.channel}`) ? t(`channel.${task.channel}`) : task.channel })),
        h('div', { class: 'chat-actions' }, complete)),
      h('p', { class: 'muted' }, q ? q.name : ''),
      slot);
    const done = () => {
      card.remove();
      tasks.delete(task.id);
      syncEmpty();
      refreshState();
    };
    complete.addEventListener('click', async () => {
      complete.disabled = true;
      try {
        await api.post(`/tasks/${task.id}/complete`, {}, { signal });
        complete.hidden = true;
        replace(slot, wrapupForm({ taskId: task.id, queue: q, signal, onDone: done }));
      } catch (e) {
        complete.disabled = false;
        if (e && e.name !== 'AbortError') replace(slot, notice('error', errorMessage(e)));
      }
    });
    tasks.set(task.id, { el: card });
    chatArea.append(card);
    syncEmpty();
    if (opts.wrapup) {
      complete.hidden = true;
      replace(slot, wrapupForm({ taskId: task.id, queue: q, signal, onDone: done }));
    }
  }

  // A call of ours ended: its task is in wrap-up (or done without a
  // disposition): ask for the disposition like for any task.
  async function callEnded(taskId) {
    if (tasks.has(taskId)) return;
    for (let i = 0; i < 5; i++) {
      try {
        const task = await api.get(`/tasks/${taskId}`, null, { signal });
        if (task.state === 'wrapup' || (task.state === 'done' && !task.disposition && task.agent_id === myAgent.id)) {
          openTask(task, { wrapup: true });
          return;
        }
        if (['done', 'abandoned', 'cancelled', 'timed_out', 'overflowed'].includes(task.state)) return;
      } catch (e) {
        if (e && e.name === 'AbortError') return;
        if (e.status === 403 || e.status === 404) return;
      }
      await new Promise((r) => setTimeout(r, 400));
    }
  }

  const offers = offerPanel({
    queues,
    agents,
    signal,
    onAccepted(task) {
      refreshState();
      const attrs = task.attributes && typeof task.attributes === 'object' ? task.attributes : {};
      if (task.channel === 'chat' || attrs.conversation_id) {
        const card = openChat(Number(attrs.conversation_id) || task.id,
          { taskId: task.id, queueId: task.queue_id, note: offerNote(attrs) });
        if (card) setTimeout(() => card.focus(), 0);
      } else {
        openTask(task);
      }
    },
    onJoin(convId) {
      openChat(convId, { invited: true });
    },
  });

  const calls = callPanel({
    myAgent,
    queues,
    signal,
    onEnded(taskId) {
      offers.dropTask(taskId);
      refreshState();
      callEnded(taskId);
    },
  });
  const recordings = recordingsPanel({ signal, queues, agents: null, agent: myAgent.id, limit: 10,
    title: t('rec.mine'), id: 'my-recordings' });

  replace(main,
    pageHeader(t('nav.agent')),
    status.el,
    h('div', { class: 'desktop' }, stateBar, offers.el, calls.el, h('section', { class: 'chats', 'aria-label': t('desk.chats') },
      h('h2', { class: 'sr-only' }, t('desk.chats')), empty, chatArea), recordings.el));

  // The first gesture anywhere on the desktop unlocks the ringing sound.
  main.addEventListener('pointerdown', unlockAudio, { once: true, capture: true });
  main.addEventListener('keydown', unlockAudio, { once: true, capture: true });

  // ---- the event stream -----------------------------------------------------------------
  function onFrame(f) {
    switch (f.type) {
      case 'offer':
        offers.onOffer(f);
        break;
      case 'offer_withdrawn':
        offers.onWithdrawn(f);
        refreshState();
        break;
      case 'chat_invite':
        offers.onInvite(f);
        break;
      case 'chat_typing': {
        const c = chats.get(f.conversation);
        if (c) c.onTyping(f);
        break;
      }
      case 'chat_read': {
        const c = chats.get(f.conversation);
        if (c) c.onRead(f);
        break;
      }
      case 'error':
        if (f.client_id) {
          for (const c of chats.values()) if (c.hasPending(f.client_id)) c.failPending(f.client_id, f.detail);
        }
        break;
      case 'event': {
        const ev = f.event || {};
        const type = String(ev.type || '');
        if (type.startsWith('chat.')) {
          let c = chats.get(ev.interaction);
          const p = ev.payload || {};
          if (!c && type === 'chat.joined' && p.user_id === me.id) c = openChat(ev.interaction, { joinedTask: p.task_id });
          else if (c) c.onEvent(ev);
          if (type === 'chat.ended' || type === 'chat.left' || type === 'chat.joined') refreshState();
        } else if (type.startsWith('agent.') && ev.agent === myAgent.id) {
          refreshState();
        } else if (type.startsWith('task.') && ev.agent === myAgent.id) {
          if (type === 'task.accepted' && ev.interaction) offers.dropTask(ev.interaction);
          refreshState();
        } else if (type.startsWith('call.')) {
          if ((type === 'call.answered' || type === 'call.ended') && ev.interaction) offers.dropTask(ev.interaction);
          calls.onEvent(ev);
          if (type === 'call.recorded' && ev.agent === myAgent.id) recordings.refresh();
        }
        break;
      }
      default:
        break;
    }
  }

  ctx.stream = openStream({
    // task.accepted: a phone answered a voice offer (its card goes away)
    topics: ['agent.state_changed', 'task.accepted', ...CALL_TOPICS],
    signal,
    onFrame,
    onStatus(s, info) {
      if (s === 'open') {
        replace(conn, t('desk.connected'));
        conn.className = 'conn ok';
        refreshState();
        calls.refresh();
        if (info.reconnected) for (const c of chats.values()) c.resync();
      } else {
        replace(conn, t('desk.reconnecting'));
        conn.className = 'conn bad';
      }
    },
  });

  document.addEventListener('visibilitychange', () => {
    for (const c of chats.values()) c.maybeRead();
  }, { signal });

  const poll = setInterval(refreshState, STATE_POLL_MS);
  signal.addEventListener('abort', () => clearInterval(poll), { once: true });

  // The chats this agent is in already (after a reload), and wrap-ups not
  // finished before it.
  recordings.load(false);
  await refreshState();
  for (const w of pendingWrapups()) {
    try {
      const task = await api.get(`/tasks/${w.taskId}`, null, { signal });
      if (task && (task.state === 'wrapup' || (task.state === 'done' && !task.disposition))) openChat(w.conv, { taskId: w.taskId, queueId: w.queueId, resumeWrapup: true });
    } catch (e) {
      if (e && e.name === 'AbortError') return;
    }
  }
  try {
    const open = await api.get('/chats', { state: 'open', limit: 50 }, { signal });
    for (const c of (open && open.items) || []) {
      const mine = Array.isArray(c.participants) && c.participants.some((p) => p.user_id === me.id);
      if (mine) openChat(c.id, { queueId: c.queue_id });
    }
  } catch (e) {
    if (e && e.name === 'AbortError') return;
    if (e.status !== 404) status.show('error', errorMessage(e));
  }
}
