// pages/agent_offers.js: incoming offers and chat invitations on the agent
// desktop. An offer rings (a Web Audio beep, no sound files) and counts
// down until it times out; Accept and Reject answer it with its version
// (POST /api/v1/offers/{id}/accept|reject). offer_withdrawn takes it away.
// A voice offer rings the agent's phone too: it shows the caller and the
// queue and says to answer on the phone (no Accept here; Reject works); it
// goes away when the phone answers (dropTask, from call.* events).
import { h, replace } from '../dom.js';
import { t, has } from '../i18n.js';
import { api } from '../api.js';
import { errorMessage } from '../ui.js';

// ---- sound -------------------------------------------------------------------
// Browsers start audio only after a user gesture: unlock() is called from
// the page's first click or key press (choosing a state is one).
let audio = null;
export function unlockAudio() {
  try {
    const AC = window.AudioContext || window.webkitAudioContext;
    if (!AC) return;
    if (!audio) audio = new AC();
    if (audio.state === 'suspended') audio.resume().catch(() => {});
  } catch { /* no audio */ }
}

function beep() {
  if (!audio || audio.state !== 'running') return;
  const now = audio.currentTime;
  for (const [i, freq] of [[0, 880], [1, 660]]) {
    const osc = audio.createOscillator();
    const gain = audio.createGain();
    osc.type = 'sine';
    osc.frequency.value = freq;
    const t0 = now + i * 0.2;
    gain.gain.setValueAtTime(0.0001, t0);
    gain.gain.exponentialRampToValueAtTime(0.2, t0 + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, t0 + 0.18);
    osc.connect(gain).connect(audio.destination);
    osc.start(t0);
    osc.stop(t0 + 0.2);
  }
}

function channelName(c) {
  return has(`channel.${c}`) ? t(`channel.${c}`) : String(c || '');
}

// A transfer note carried in the task's attributes, if the server puts one there.
export function offerNote(attrs) {
  const n = attrs && (attrs.transfer_note ?? attrs.note);
  return typeof n === 'string' && n.trim() ? n : null;
}

// ctx: {queues (Map), agents (list), signal, onAccepted(task), onJoin(conversationId)}
export function offerPanel(ctx) {
  const list = h('div', { class: 'offers' });
  const recent = h('div', { class: 'offer-news', role: 'status' });
  const el = h('section', { class: 'offer-area', 'aria-label': t('desk.offers') }, list, recent);
  const offers = new Map();        // offer_id → {offer, el, deadline, busy}
  const invites = new Map();       // conversation → el
  let ringTimer = null;
  let tickTimer = null;

  function ringing() {
    return offers.size > 0;
  }

  function updateRing() {
    if (ringing() && !ringTimer) {
      beep();
      ringTimer = setInterval(beep, 2000);
    } else if (!ringing() && ringTimer) {
      clearInterval(ringTimer);
      ringTimer = null;
    }
    if (offers.size && !tickTimer) tickTimer = setInterval(tick, 250);
    else if (!offers.size && tickTimer) {
      clearInterval(tickTimer);
      tickTimer = null;
    }
    el.classList.toggle('ringing', ringing());
  }

  function tick() {
    const now = Date.now();
    for (const o of offers.values()) {
      const left = Math.max(0, Math.ceil((o.deadline - now) / 1000));
      if (left !== o.left) {
        o.left = left;
        replace(o.count, t('desk.offer_countdown', { seconds: left }));
        o.progress.value = Math.max(0, o.deadline - now);
      } else {
        o.progress.value = Math.max(0, o.deadline - now);
      }
    }
  }

  function news(text) {
    replace(recent, h('p', { class: 'offer-gone' }, text));
  }

  function remove(id) {
    const o = offers.get(id);
    if (!o) return;
    o.el.remove();
    offers.delete(id);
    updateRing();
  }

  function onOffer(f) {
    const id = f.offer_id;
    const task = f.task || {};
    if (offers.has(id)) {
      const o = offers.get(id);
      if (o.offer.version === f.version) return;
      remove(id);
    }
    const attrs = task.attributes && typeof task.attributes === 'object' ? task.attributes : {};
    const q = ctx.queues.get(task.queue_id);
    const timeout = Number(f.timeout_ms) || 0;
    const count = h('span', { class: 'countdown' });
    const progress = h('progress', { max: String(Math.max(1, timeout)), value: String(timeout),
      'aria-hidden': 'true' });
    const accept = h('button', { type: 'button', class: 'button' }, t('desk.accept'));
    const reject = h('button', { type: 'button', class: 'button danger' }, t('desk.reject'));
    const err = h('div', { class: 'notice-area' });
    const voice = task.channel === 'voice';
    const caller = voice && (typeof attrs.caller === 'string' || typeof attrs.caller === 'number') && attrs.caller !== ''
      ? String(attrs.caller) : null;
    const who = voice ? t('call.offer_from', { caller: caller || t('call.unknown_caller') })
      : typeof attrs.name === 'string' && attrs.name ? attrs.name : null;
    const dialled = voice && attrs.number ? t('call.offer_number', { number: String(attrs.number) }) : null;
    const note = offerNote(attrs);
    const card = h('article', { class: 'offer-card', role: 'alert', dataset: { offer: String(id) } },
      h('div', { class: 'offer-head' },
        h('span', { class: 'bell', 'aria-hidden': 'true' }),
        h('strong', null, t('desk.offer_title', { channel: channelName(task.channel) })),
        count),
      h('div', { class: 'offer-facts' },
        [q ? q.name : null, task.language && has(`lang.${task.language}`) ? t(`lang.${task.language}`) : null]
          .filter(Boolean).join(' · ')),
      who ? h('div', { class: 'offer-who' }, who) : null,
      dialled ? h('div', { class: 'offer-facts offer-dialled' }, dialled) : null,
      note ? h('div', { class: 'offer-who offer-note' }, t('desk.offer_note', { note })) : null,
      voice ? h('p', { class: 'offer-phone' }, t('call.answer_on_phone')) : null,
      progress,
      err,
      h('div', { class: 'offer-actions' }, voice ? null : accept, reject));
    if (voice) card.classList.add('offer-voice');
    const o = { offer: f, el: card, deadline: Date.now() + timeout, left: -1, count, progress, taskId: task.id };
    offers.set(id, o);
    list.append(card);
    tick();
    updateRing();

    const answer = async (how) => {
      accept.disabled = true;
      reject.disabled = true;
      try {
        const res = await api.post(`/offers/${id}/${how}`, { version: f.version }, { signal: ctx.signal });
        remove(id);
        if (how === 'accept') ctx.onAccepted(res || task);
      } catch (e) {
        if (e && e.name === 'AbortError') return;
        remove(id);
        news(e.status === 409 ? t('desk.offer_gone') : errorMessage(e));
      }
    };
    accept.addEventListener('click', () => answer('accept'));
    reject.addEventListener('click', () => answer('reject'));
  }

  // The task's offers are settled elsewhere (the phone answered the call).
  function dropTask(taskId) {
    for (const [id, o] of [...offers]) if (o.taskId === taskId) remove(id);
  }

  function onWithdrawn(f) {
    const o = offers.get(f.offer_id);
    if (!o) return;
    if (f.version !== undefined && o.offer.version !== undefined && f.version !== o.offer.version) return;
    remove(f.offer_id);
    const why = f.reason && has(`desk.withdrawn.${f.reason}`) ? t(`desk.withdrawn.${f.reason}`) : t('desk.withdrawn');
    news(why);
  }

  function onInvite(f) {
    const conv = f.conversation;
    if (!conv || invites.has(conv)) return;
    // The inviting agent's name as agents know it (the frame may carry a username).
    const byUser = f.from && ctx.agents ? ctx.agents.find((a) => a.user_id === f.from.user_id) : null;
    const from = byUser ? byUser.name : f.from && f.from.name ? f.from.name : t('chat.agent');
    const join = h('button', { type: 'button', class: 'button' }, t('desk.join'));
    const dismiss = h('button', { type: 'button', class: 'button secondary' }, t('desk.dismiss'));
    const err = h('div', { class: 'notice-area' });
    const card = h('article', { class: 'offer-card invite-card', role: 'alert', dataset: { conversation: String(conv) } },
      h('div', { class: 'offer-head' }, h('strong', null,
        f.transfer ? t('desk.transfer_from', { name: from }) : t('desk.invite_from', { name: from }))),
      f.note ? h('div', { class: 'offer-who' }, String(f.note)) : null,
      err,
      h('div', { class: 'offer-actions' }, join, dismiss));
    invites.set(conv, card);
    list.append(card);
    const drop = () => {
      card.remove();
      invites.delete(conv);
    };
    dismiss.addEventListener('click', drop);
    join.addEventListener('click', async () => {
      join.disabled = true;
      try {
        await api.post(`/chats/${conv}/join`, {}, { signal: ctx.signal });
        drop();
        ctx.onJoin(conv);
      } catch (e) {
        if (e && e.name === 'AbortError') return;
        join.disabled = false;
        replace(err, h('div', { class: 'notice notice-error', role: 'alert' }, errorMessage(e)));
      }
    });
  }

  function stop() {
    clearInterval(ringTimer);
    clearInterval(tickTimer);
    ringTimer = null;
    tickTimer = null;
  }
  ctx.signal.addEventListener('abort', stop, { once: true });

  return { el, onOffer, onWithdrawn, onInvite, dropTask, stop, count: () => offers.size };
}
