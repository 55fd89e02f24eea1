// pages/agent_chat.js: one chat on the agent desktop. The transcript
// (GET /api/v1/chats/{id}, then chat.* events from the stream), a composer
// (messages and internal notes, canned replies by "/shortcut",
// attachments), typing indicators and read receipts both ways, transfer,
// invite, end → wrap-up, and beside it the customer's profile and history.
//
// Sending: each message gets a client_id and is shown as pending until the
// stored copy with that client_id comes back (the POST's answer or the
// chat.message event, whichever is first). A send that fails for a
// transient reason (network, 503, 429) is retried with the same client_id,
// also after the stream reconnects; the server stores it once.
import { h, replace, uniqueId } from '../dom.js';
import { t, has } from '../i18n.js';
import { api } from '../api.js';
import { errorMessage, confirmDialog } from '../ui.js';
import { transcript, normalizeMessage, convState } from './chat_view.js';
import { newClientId } from './chat_stream.js';
import { matchCanned } from './agent_canned.js';
import { customerPanel } from './agent_customer.js';
import { wrapupForm } from './agent_wrapup.js';

const MAX_TEXT_BYTES = 16384;
const MAX_ATTACHMENT = 10 * 1024 * 1024;
const TYPING_REPEAT_MS = 3000;   // re-send "typing on" while typing goes on
const TYPING_IDLE_MS = 4000;     // "typing off" after this long without a key
const TYPING_SHOW_MS = 8000;     // hide the other side's indicator without news
const ACCEPT_FILES = 'image/png,image/jpeg,image/gif,image/webp,application/pdf';

const utf8len = (s) => new TextEncoder().encode(s).length;

// Wrap-ups not finished yet, kept for this tab (sessionStorage) so that a
// reload brings them back: [{conv, taskId, queueId}].
const WRAP_KEY = 'hotline.wrapups';
export function pendingWrapups() {
  try {
    const v = JSON.parse(sessionStorage.getItem(WRAP_KEY) || '[]');
    return Array.isArray(v) ? v : [];
  } catch {
    return [];
  }
}
function saveWrapup(conv, entry) {
  try {
    const list = pendingWrapups().filter((x) => x.conv !== conv);
    if (entry) list.push(entry);
    sessionStorage.setItem(WRAP_KEY, JSON.stringify(list));
  } catch { /* storage disabled */ }
}

// ctx: {me, myAgent, queues (Map), agents (list), stream, signal, canned(),
//       onClose(card), notify(kind, text)}
// opts: {taskId, queueId, invited, note (a transfer note to show),
//        resumeWrapup (reopened after a reload to finish its wrap-up),
//        joinedTask (the task_id of this agent's chat.joined: theirs or not)}
export function chatCard(ctx, convId, opts = {}) {
  const { me, stream } = ctx;
  const ac = new AbortController();
  const signal = ac.signal;
  ctx.signal.addEventListener('abort', () => ac.abort(), { once: true });

  let conv = null;
  let taskId = opts.taskId || null;
  let queueId = opts.queueId || null;
  let ended = false;
  let wrapping = false;
  let sentRead = 0;
  let typingOn = false;
  let typingSentAt = 0;
  let typingIdle = null;
  let theirTypingTimer = null;
  let retryTimer = null;
  let readTimer = null;
  let loaded = false;
  let checkedConvTask = false;
  let noteToShow = opts.note || null;
  const participants = new Map();   // user_id → {agent_id, name}

  const tr = transcript({ myUserId: me.id, signal });
  const titleId = uniqueId('chat-title');
  const title = h('h3', { id: titleId, class: 'chat-title' }, t('desk.chat_n', { id: convId }));
  const sub = h('div', { class: 'chat-sub muted' });
  const stateBadge = h('span', { class: 'badge' }, t('msg.loading'));
  const typing = h('div', { class: 'typing', 'aria-live': 'polite' });
  const toolSlot = h('div', { class: 'chat-tools' });
  const endSlot = h('div', { class: 'chat-end' });
  const sideSlot = h('div', { class: 'chat-side-slot' });
  const cardNotice = h('div', { class: 'notice-area' });

  const btnTransfer = h('button', { type: 'button', class: 'button secondary small' }, t('desk.transfer'));
  const btnInvite = h('button', { type: 'button', class: 'button secondary small' }, t('desk.invite'));
  const btnLeave = h('button', { type: 'button', class: 'button secondary small', hidden: !opts.invited },
    t('desk.leave'));
  const btnEnd = h('button', { type: 'button', class: 'button danger small' }, t('desk.end'));
  const actions = h('div', { class: 'chat-actions' }, btnTransfer, btnInvite, btnLeave, btnEnd);

  // ---- composer ------------------------------------------------------------
  const inputId = uniqueId('composer');
  const noteId = uniqueId('note');
  const fileId = uniqueId('file');
  const input = h('textarea', { id: inputId, rows: '2', class: 'composer-input',
    placeholder: t('desk.composer_placeholder'), 'aria-describedby': `${inputId}-hint` });
  const noteToggle = h('input', { id: noteId, type: 'checkbox', class: 'note-toggle' });
  const fileInput = h('input', { id: fileId, type: 'file', accept: ACCEPT_FILES, class: 'sr-only' });
  const attachLabel = h('label', { for: fileId, class: 'button secondary small attach' }, t('desk.attach'));
  const sendBtn = h('button', { type: 'submit', class: 'button small' }, t('desk.send'));
  const suggest = h('ul', { class: 'canned-suggest', role: 'listbox', hidden: true,
    'aria-label': t('canned.suggestions') });
  const composerMsg = h('div', { class: 'composer-msg', 'aria-live': 'polite' });
  const composer = h('form', { class: 'composer', novalidate: true },
    h('label', { for: inputId, class: 'sr-only' }, t('desk.message')),
    suggest,
    input,
    h('p', { id: `${inputId}-hint`, class: 'hint' }, t('desk.composer_hint')),
    composerMsg,
    h('div', { class: 'composer-row' },
      h('label', { class: 'choice note-choice', for: noteId }, noteToggle, t('desk.note_toggle')),
      attachLabel, fileInput,
      h('span', { class: 'spacer' }),
      sendBtn));

  const main = h('div', { class: 'chat-main' }, tr.el, typing, composer, toolSlot, endSlot);
  const el = h('article', { class: 'chat-card', 'aria-labelledby': titleId, dataset: { conversation: String(convId) } },
    h('header', { class: 'chat-head' },
      h('div', { class: 'chat-head-text' }, h('div', { class: 'chat-title-row' }, title, stateBadge), sub),
      actions),
    cardNotice,
    h('div', { class: 'chat-body' }, main, sideSlot));

  function show(kind, text) {
    replace(cardNotice, h('div', { class: ['notice', `notice-${kind}`], role: kind === 'error' ? 'alert' : 'status' }, text));
  }

  function setState(s) {
    stateBadge.className = `badge state-${s}`;
    replace(stateBadge, has(`chat_state.${s}`) ? t(`chat_state.${s}`) : s);
  }

  function queueName(id) {
    const q = ctx.queues.get(id);
    return q ? q.name : (id ? t('desk.queue_n', { id }) : '');
  }

  function agentName(agentId, userId) {
    for (const p of participants.values()) {
      if ((agentId && p.agent_id === agentId) || (userId && p.user_id === userId)) return p.name;
    }
    const a = ctx.agents.find((x) => (agentId && x.id === agentId) || (userId && x.user_id === userId));
    return a ? a.name : t('chat.agent');
  }

  // ---- loading ---------------------------------------------------------------
  function applyConv(c) {
    conv = c;
    queueId = queueId || c.queue_id;
    if (!taskId && c.task_id && !opts.invited && !checkedConvTask) {
      checkedConvTask = true;
      verifyTask(c.task_id);
    }
    replace(title, c.name || t('chat.customer'));
    replace(sub, [queueName(queueId), c.language && has(`lang.${c.language}`) ? t(`lang.${c.language}`) : c.language,
      c.offline ? t('desk.offline_message') : null].filter(Boolean).join(' · '));
    participants.clear();
    for (const p of Array.isArray(c.participants) ? c.participants : []) participants.set(p.user_id, p);
    if (!ended) setState(convState(c));
    for (const m of Array.isArray(c.messages) ? c.messages : []) tr.add(normalizeMessage(m));
    if (c.state === 'ended') enterWrapup('ended');
    scheduleRead();
  }

  async function load() {
    try {
      const c = await api.get(`/chats/${convId}`, null, { signal });
      applyConv(c);
      loaded = true;
      if (noteToShow) showNote(noteToShow);
      const side = customerPanel(c, { queues: ctx.queues, signal, currentId: convId });
      replace(sideSlot, side.el);
      if (opts.resumeWrapup) enterWrapup('left');
    } catch (e) {
      if (e && e.name === 'AbortError') return;
      if (opts.resumeWrapup) {
        // No longer in the chat (e.g. transferred away): the wrap-up remains.
        composer.hidden = true;
        enterWrapup('left');
        return;
      }
      show('error', errorMessage(e));
      const close = h('button', { type: 'button', class: 'button secondary small' }, t('action.close'));
      close.addEventListener('click', () => destroy());
      replace(endSlot, close);
      composer.hidden = true;
      actions.hidden = true;
    }
  }

  // After the stream reconnects: catch up on what was missed, resend pending.
  async function resync() {
    try {
      const c = await api.get(`/chats/${convId}`, null, { signal });
      applyConv(c);
    } catch (e) {
      if (e && e.name === 'AbortError') return;
    }
    resendPending();
  }

  // A transfer note, shown after the history.
  function showNote(note) {
    if (!loaded) {
      noteToShow = note;
      return;
    }
    noteToShow = null;
    tr.notice(t('desk.offer_note', { note }));
  }

  // ---- sending ---------------------------------------------------------------
  async function post(clientId, text, kind) {
    try {
      const m = await api.post(`/chats/${convId}/messages`, { client_id: clientId, text, kind }, { signal });
      if (m) tr.add(normalizeMessage(m));
    } catch (e) {
      if (e && e.name === 'AbortError') return;
      if (e.status === 0 || e.status === 429 || e.status >= 500) {
        clearTimeout(retryTimer);
        retryTimer = setTimeout(resendPending, 3000);
      } else {
        tr.failPending(clientId, errorMessage(e));
      }
    }
  }

  function resendPending() {
    for (const p of tr.pendingList()) post(p.clientId, p.text, p.kind);
  }

  function send(text, kind) {
    const clientId = newClientId();
    tr.addPending(clientId, text, kind, (id, txt, k) => post(id, txt, k));
    post(clientId, text, kind);
  }

  function setTyping(on) {
    if (on === typingOn && (!on || Date.now() - typingSentAt < TYPING_REPEAT_MS)) return;
    typingOn = on;
    typingSentAt = Date.now();
    stream.send({ type: 'chat_typing', conversation: convId, on });
  }

  function onInput() {
    updateSuggest();
    const v = input.value;
    composerMsg.replaceChildren();
    // Notes and canned-reply lookups are not the customer's business.
    if (!v.trim() || noteToggle.checked || v.startsWith('/')) {
      if (typingOn) setTyping(false);
      return;
    }
    setTyping(true);
    clearTimeout(typingIdle);
    typingIdle = setTimeout(() => setTyping(false), TYPING_IDLE_MS);
  }

  // ---- canned replies -----------------------------------------------------------
  let suggestions = [];
  let active = 0;
  function updateSuggest() {
    const m = /^\/([a-z0-9_-]*)$/i.exec(input.value);
    suggestions = m ? matchCanned(ctx.canned(), m[1]) : [];
    active = 0;
    renderSuggest();
  }
  function renderSuggest() {
    if (!suggestions.length) {
      suggest.hidden = true;
      suggest.replaceChildren();
      input.removeAttribute('aria-activedescendant');
      return;
    }
    suggest.hidden = false;
    replace(suggest, suggestions.map((c, i) => {
      const li = h('li', { id: `${inputId}-opt-${i}`, role: 'option', class: i === active ? 'active' : null,
        'aria-selected': i === active ? 'true' : 'false' },
      h('span', { class: 'canned-key' }, `/${c.shortcut}`), ' ', h('span', { class: 'canned-preview' }, c.text));
      li.addEventListener('mousedown', (ev) => { ev.preventDefault(); applyCanned(c); });
      return li;
    }));
    input.setAttribute('aria-activedescendant', `${inputId}-opt-${active}`);
  }
  function applyCanned(c) {
    input.value = c.text;
    suggestions = [];
    renderSuggest();
    input.focus();
    input.setSelectionRange(input.value.length, input.value.length);
    onInput();
  }

  input.addEventListener('input', onInput);
  input.addEventListener('keydown', (ev) => {
    if (suggestions.length) {
      if (ev.key === 'ArrowDown' || ev.key === 'ArrowUp') {
        ev.preventDefault();
        active = (active + (ev.key === 'ArrowDown' ? 1 : suggestions.length - 1)) % suggestions.length;
        renderSuggest();
        return;
      }
      if (ev.key === 'Enter' || ev.key === 'Tab') {
        ev.preventDefault();
        applyCanned(suggestions[active]);
        return;
      }
      if (ev.key === 'Escape') {
        ev.preventDefault();
        suggestions = [];
        renderSuggest();
        return;
      }
    }
    if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) {
      ev.preventDefault();
      composer.requestSubmit();
    }
  });
  input.addEventListener('blur', () => { if (typingOn) setTyping(false); });
  noteToggle.addEventListener('change', () => {
    composer.classList.toggle('note-mode', noteToggle.checked);
    input.placeholder = noteToggle.checked ? t('desk.note_placeholder') : t('desk.composer_placeholder');
    if (noteToggle.checked && typingOn) setTyping(false);
  });

  composer.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const text = input.value;
    if (!text.trim()) return;
    const exact = /^\/([a-z0-9_-]+)$/i.exec(text.trim());
    if (exact) {
      const c = ctx.canned().find((x) => x.shortcut === exact[1].toLowerCase());
      if (c) { applyCanned(c); return; }
    }
    if (utf8len(text) > MAX_TEXT_BYTES) {
      replace(composerMsg, h('span', { class: 'field-error' }, t('desk.too_long')));
      return;
    }
    clearTimeout(typingIdle);
    if (typingOn) setTyping(false);
    send(text, noteToggle.checked ? 'note' : 'message');
    input.value = '';
    composerMsg.replaceChildren();
    input.focus();
  });

  fileInput.addEventListener('change', async () => {
    const file = fileInput.files && fileInput.files[0];
    fileInput.value = '';
    if (!file) return;
    if (file.size > MAX_ATTACHMENT) {
      replace(composerMsg, h('span', { class: 'field-error' }, t('desk.file_too_big')));
      return;
    }
    replace(composerMsg, h('span', { class: 'muted' }, t('desk.uploading', { name: file.name })));
    try {
      const m = await api.upload(`/chats/${convId}/attachments`, file, {
        'content-type': file.type || 'application/octet-stream',
        'x-filename': encodeURIComponent(file.name),
      }, { signal });
      if (m) tr.add(normalizeMessage(m));
      composerMsg.replaceChildren();
    } catch (e) {
      if (e && e.name === 'AbortError') return;
      replace(composerMsg, h('span', { class: 'field-error' }, errorMessage(e)));
    }
  });

  // ---- read receipts ---------------------------------------------------------------
  function scheduleRead() {
    clearTimeout(readTimer);
    readTimer = setTimeout(maybeRead, 250);
  }
  function maybeRead() {
    if (document.visibilityState !== 'visible' || ended) return;
    const seq = tr.lastCustomerSeq();
    if (seq > sentRead && stream.send({ type: 'chat_read', conversation: convId, seq })) sentRead = seq;
  }

  // ---- transfer and invite -----------------------------------------------------------
  function otherAgents() {
    return ctx.agents.filter((a) => a.id !== ctx.myAgent.id).sort((a, b) => a.name.localeCompare(b.name));
  }
  function chatQueues() {
    return [...ctx.queues.values()]
      .filter((q) => !Array.isArray(q.channels) || q.channels.includes('chat'))
      .sort((a, b) => a.name.localeCompare(b.name));
  }

  function toolForm(kind) {
    const isTransfer = kind === 'transfer';
    const err = h('div', { class: 'notice-area' });
    const targetId = uniqueId('target');
    const noteFieldId = uniqueId('tnote');
    const toQueue = h('input', { type: 'radio', name: uniqueId('to'), value: 'queue', checked: true });
    const toAgent = h('input', { type: 'radio', name: toQueue.name, value: 'agent' });
    const queueSel = h('select', { id: targetId },
      h('option', { value: '' }, t('form.choose')),
      chatQueues().map((q) => h('option', { value: String(q.id) }, q.name)));
    const agentSel = h('select', { id: isTransfer ? uniqueId('target') : targetId },
      h('option', { value: '' }, t('form.choose')),
      otherAgents().map((a) => h('option', { value: String(a.id) }, a.name)));
    const note = h('textarea', { id: noteFieldId, rows: '2', maxlength: '1000' });
    const submit = h('button', { type: 'submit', class: 'button small' },
      isTransfer ? t('desk.transfer_submit') : t('desk.invite_submit'));
    const cancel = h('button', { type: 'button', class: 'button secondary small' }, t('action.cancel'));
    const queueField = h('div', { class: 'field' }, h('label', { for: queueSel.id }, t('desk.to_queue_label')), queueSel);
    const agentField = h('div', { class: 'field', hidden: isTransfer },
      h('label', { for: agentSel.id }, t('desk.to_agent_label')), agentSel);
    const form = h('form', { class: 'chat-tool', novalidate: true,
      'aria-label': isTransfer ? t('desk.transfer_title') : t('desk.invite_title') },
    h('h4', null, isTransfer ? t('desk.transfer_title') : t('desk.invite_title')),
    isTransfer ? h('fieldset', { class: 'choices' },
      h('legend', { class: 'sr-only' }, t('desk.transfer_to')),
      h('label', { class: 'choice' }, toQueue, t('desk.to_queue')),
      h('label', { class: 'choice' }, toAgent, t('desk.to_agent'))) : null,
    isTransfer ? queueField : null,
    agentField,
    h('div', { class: 'field' }, h('label', { for: noteFieldId }, t('desk.transfer_note')), note),
    err,
    h('div', { class: 'dialog-actions' }, cancel, submit));
    const sync = () => {
      queueField.hidden = !toQueue.checked;
      agentField.hidden = toQueue.checked;
    };
    if (isTransfer) {
      toQueue.addEventListener('change', sync);
      toAgent.addEventListener('change', sync);
    }
    cancel.addEventListener('click', () => toolSlot.replaceChildren());
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const useQueue = isTransfer && toQueue.checked;
      const sel = useQueue ? queueSel : agentSel;
      if (!sel.value) {
        replace(err, h('div', { class: 'notice notice-error', role: 'alert' },
          useQueue ? t('desk.choose_queue') : t('desk.choose_agent')));
        sel.focus();
        return;
      }
      const body = useQueue ? { queue_id: Number(sel.value) } : { agent_id: Number(sel.value) };
      if (note.value.trim()) body.note = note.value;
      submit.disabled = true;
      try {
        await api.post(`/chats/${convId}/${isTransfer ? 'transfer' : 'invite'}`, body, { signal });
        toolSlot.replaceChildren();
        const target = sel.options[sel.selectedIndex].textContent;
        if (!isTransfer) show('success', t('desk.invited', { name: target }));
        else if (useQueue) {
          show('success', t('desk.transferred_queue', { name: target }));
          enterWrapup('transferred');
        } else show('info', t('desk.transfer_waiting', { name: target }));
      } catch (e) {
        if (e && e.name === 'AbortError') return;
        submit.disabled = false;
        replace(err, h('div', { class: 'notice notice-error', role: 'alert' }, errorMessage(e)));
      }
    });
    return form;
  }

  btnTransfer.addEventListener('click', () => {
    replace(toolSlot, toolForm('transfer'));
    toolSlot.querySelector('select').focus();
  });
  btnInvite.addEventListener('click', () => {
    replace(toolSlot, toolForm('invite'));
    toolSlot.querySelector('select').focus();
  });
  btnLeave.addEventListener('click', async () => {
    try {
      await api.post(`/chats/${convId}/leave`, {}, { signal });
      destroy();
    } catch (e) {
      if (e && e.name !== 'AbortError') show('error', errorMessage(e));
    }
  });
  btnEnd.addEventListener('click', async () => {
    const ok = await confirmDialog({ title: t('desk.end_title'), message: t('desk.end_message'),
      confirmLabel: t('desk.end'), danger: true });
    if (!ok) return;
    btnEnd.disabled = true;
    try {
      const c = await api.post(`/chats/${convId}/end`, {}, { signal });
      if (c && c.state) setState(c.state);
      enterWrapup('ended');
    } catch (e) {
      btnEnd.disabled = false;
      if (e && e.name !== 'AbortError') show('error', errorMessage(e));
    }
  });

  // In the chat by invitation: no task of one's own, so no wrap-up; one may leave.
  function markInvited() {
    if (taskId && !opts.invited) return;
    taskId = null;
    opts.invited = true;
    btnLeave.hidden = false;
  }

  // chat.joined names the conversation's task, which is this agent's own
  // only when they accepted its offer (an invited agent's join names the
  // inviting agent's task): the task says whose it is.
  async function verifyTask(id) {
    try {
      const task = await api.get(`/tasks/${id}`, null, { signal });
      if (task && task.agent_id === ctx.myAgent.id) {
        if (!taskId) taskId = id;
        if (!queueId) queueId = task.queue_id;
      } else if (!taskId) markInvited();
    } catch (e) {
      if (e && e.name === 'AbortError') return;
      if (!taskId && (e.status === 403 || e.status === 404)) markInvited();
    }
  }

  // ---- the end: wrap-up -----------------------------------------------------------------
  function enterWrapup(why) {
    if (why === 'ended') {
      ended = true;
      setState('ended');
    }
    if (wrapping) return;
    wrapping = true;
    clearTimeout(typingIdle);
    if (typingOn) setTyping(false);
    composer.hidden = true;
    actions.hidden = true;
    toolSlot.replaceChildren();
    typing.replaceChildren();
    el.classList.add('wrapping');
    const mine = opts.invited ? null : taskId;
    const queue = ctx.queues.get(queueId) || null;
    if (mine) saveWrapup(convId, { conv: convId, taskId: mine, queueId });
    replace(endSlot, wrapupForm({ taskId: mine, queue, signal, onDone: () => destroy() }));
    const first = endSlot.querySelector('select, input');
    if (first && el.contains(document.activeElement)) first.focus();
  }

  function destroy() {
    saveWrapup(convId, null);
    ac.abort();
    clearTimeout(typingIdle);
    clearTimeout(theirTypingTimer);
    clearTimeout(retryTimer);
    clearTimeout(readTimer);
    el.remove();
    ctx.onClose(card);
  }

  // ---- from the stream -----------------------------------------------------------------
  function onEvent(ev) {
    const p = ev.payload || {};
    switch (ev.type) {
      case 'chat.message': {
        const m = normalizeMessage(p, ev);
        tr.add(m);
        if (m.from === 'customer') {
          typing.replaceChildren();
          scheduleRead();
        }
        break;
      }
      case 'chat.joined':
        if (p.user_id !== undefined) participants.set(p.user_id, { user_id: p.user_id, agent_id: p.agent_id, name: p.name });
        if (p.user_id === me.id) {
          if (p.task_id && !taskId) verifyTask(p.task_id);
          else if (!p.task_id && !taskId) markInvited();
        } else tr.notice(t('chat.joined', { name: p.name || agentName(p.agent_id, p.user_id) }));
        setState('active');
        break;
      case 'chat.left':
        if (p.user_id === me.id) {
          tr.notice(t('chat.you_left'));
          enterWrapup(p.reason === 'transfer' ? 'transferred' : 'left');
        } else {
          tr.notice(t('chat.left', { name: agentName(p.agent_id, p.user_id) }));
        }
        participants.delete(p.user_id);
        break;
      case 'chat.transferred': {
        const to = p.to_queue_id ? t('chat.to_queue', { name: queueName(p.to_queue_id) })
          : t('chat.to_agent', { name: agentName(p.to_agent_id, null) });
        tr.notice(p.note ? t('chat.transferred_note', { to, note: p.note }) : t('chat.transferred', { to }));
        break;
      }
      case 'chat.ended':
        tr.notice(has(`chat.ended_by.${p.by}`) ? t(`chat.ended_by.${p.by}`) : t('chat.ended'));
        enterWrapup('ended');
        break;
      case 'chat.rated':
        tr.notice(p.comment ? t('chat.rated_comment', { rating: p.rating, comment: p.comment })
          : t('chat.rated', { rating: p.rating }));
        break;
      default:
        break;
    }
  }

  function onTyping(f) {
    if (ended) return;
    if (f.from === 'agent' && f.name && f.name === (me.display_name || me.username)) return;
    clearTimeout(theirTypingTimer);
    if (!f.on) {
      typing.replaceChildren();
      return;
    }
    const name = f.name || (f.from === 'customer' ? (conv && conv.name) || t('chat.customer') : t('chat.agent'));
    replace(typing, h('span', { class: 'typing-dots', 'aria-hidden': 'true' }), t('chat.typing', { name }));
    theirTypingTimer = setTimeout(() => typing.replaceChildren(), TYPING_SHOW_MS);
  }

  function onRead(f) {
    if (f.by === 'customer') tr.markCustomerRead(Number(f.seq) || 0);
  }

  // Facts learnt after the card was opened (the accept's answer may come
  // after the chat.joined event opened the card).
  function adopt(o) {
    if (o.taskId) {
      taskId = o.taskId;
      opts.invited = false;
      btnLeave.hidden = true;
    } else if (o.invited) markInvited();
    else if (o.joinedTask && !taskId) verifyTask(o.joinedTask);
    if (o.queueId) queueId = o.queueId;
    if (o.note) showNote(o.note);
  }

  const card = {
    id: convId,
    adopt,
    el,
    onEvent,
    onTyping,
    onRead,
    resync,
    maybeRead,
    hasPending: (cid) => tr.hasPending(cid),
    failPending: (cid, detail) => tr.failPending(cid, detail),
    focus: () => input.focus(),
    get taskId() { return taskId; },
  };
  if (opts.joinedTask && !taskId) verifyTask(opts.joinedTask);
  load();
  return card;
}
