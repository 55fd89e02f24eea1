// pages/agent_call.js: the agent's phone calls on the desktop. A "current
// call" panel lists the agent's live calls (GET /api/v1/calls, refreshed as
// call.* events arrive): the other party, queue, state and a running timer,
// with Hold/Resume, Transfer (to a queue, an agent's username or a number)
// and Hang up (POST /api/v1/calls/{id}/hold|resume|transfer|hangup). A dial
// box calls a number from the agent's own phone (POST /api/v1/calls): the
// phone rings first. Audio stays on the phone; the desktop only commands.
import { h, replace, uniqueId } from '../dom.js';
import { t } from '../i18n.js';
import { api } from '../api.js';
import { errorMessage, notice } from '../ui.js';
import { liveCalls, tickers, callStateLabel, callParty } from './calls_common.js';

const NUMBER_RE = /^[0-9+*#]{1,32}$/;

// ctx: {myAgent, queues (Map), signal, onEnded(taskId), onChange(calls)}
export function callPanel(ctx) {
  const { signal } = ctx;
  const list = h('div', { class: 'call-list' });
  const empty = h('p', { class: 'empty call-empty' }, t('call.none'));
  const news = h('div', { class: 'notice-area call-news', role: 'status' });
  const timers = tickers(signal);
  const cards = new Map();   // call id → {el, update(c)}

  const live = liveCalls({
    signal,
    onChange(calls, error) {
      const mine = [...calls.values()].filter((c) => c.agent === ctx.myAgent.id);
      for (const [id, card] of cards) {
        if (!mine.some((c) => c.call === id)) {
          card.el.remove();
          cards.delete(id);
        }
      }
      timers.clear();
      for (const c of mine) {
        let card = cards.get(c.call);
        if (!card) {
          card = callCard(c);
          cards.set(c.call, card);
          list.append(card.el);
        }
        card.update(c);
      }
      empty.hidden = cards.size > 0;
      if (error && error.status === 503) replace(empty, t('call.unavailable'));
      if (ctx.onChange) ctx.onChange(mine);
    },
  });

  function callCard(c) {
    const party = h('strong', { class: 'call-party' });
    const queue = h('span', { class: 'muted call-queue' });
    const state = h('span', { class: 'badge call-state', role: 'status' });
    const timer = h('span', { class: 'call-timer', 'aria-label': t('call.duration') });
    const rec = h('span', { class: 'badge call-rec', hidden: true }, t('call.recording_on'));
    const err = h('div', { class: 'notice-area' });
    const hold = h('button', { type: 'button', class: 'button secondary small call-hold' }, t('call.hold'));
    const resume = h('button', { type: 'button', class: 'button secondary small call-resume' }, t('call.resume'));
    const hang = h('button', { type: 'button', class: 'button danger small call-hangup' }, t('call.hangup'));
    const xferBtn = h('button', { type: 'button', class: 'button secondary small call-transfer',
      'aria-expanded': 'false' }, t('call.transfer'));

    // transfer form
    const kindId = uniqueId('xfer-kind');
    const targetId = uniqueId('xfer-target');
    const kind = h('select', { id: kindId, class: 'narrow' },
      ['queue', 'agent', 'number'].map((k) => h('option', { value: k }, t(`call.transfer_kind.${k}`))));
    const voiceQueues = [...ctx.queues.values()].filter((q) => !Array.isArray(q.channels) || q.channels.includes('voice'));
    const queueSel = h('select', { id: `${targetId}-q` },
      voiceQueues.map((q) => h('option', { value: String(q.id) }, String(q.name))));
    const text = h('input', { id: `${targetId}-t`, type: 'text', autocomplete: 'off', hidden: true });
    const targetLabel = h('label', { for: queueSel.id }, t('call.transfer_target'));
    const go = h('button', { type: 'submit', class: 'button small' }, t('call.transfer_go'));
    const xfer = h('form', { class: 'call-xfer', hidden: true },
      h('div', { class: 'field' }, h('label', { for: kindId }, t('call.transfer_to')), kind),
      h('div', { class: 'field' }, targetLabel, queueSel, text),
      go);
    kind.addEventListener('change', () => {
      const q = kind.value === 'queue';
      queueSel.hidden = !q;
      text.hidden = q;
      targetLabel.htmlFor = q ? queueSel.id : text.id;
      text.type = kind.value === 'number' ? 'tel' : 'text';
    });
    xferBtn.addEventListener('click', () => {
      xfer.hidden = !xfer.hidden;
      xferBtn.setAttribute('aria-expanded', String(!xfer.hidden));
      if (!xfer.hidden) kind.focus();
    });

    const el = h('article', { class: 'call-card', dataset: { call: String(c.call) }, 'aria-label': t('call.title') },
      h('div', { class: 'call-head' }, party, state, timer, rec),
      queue,
      h('div', { class: 'call-actions' }, hold, resume, xferBtn, hang),
      xfer,
      err);
    let cur = c;

    async function command(verb, body) {
      for (const b of [hold, resume, hang, go]) b.disabled = true;
      err.replaceChildren();
      try {
        await api.post(`/calls/${encodeURIComponent(cur.call)}/${verb}`, body || {}, { signal });
        if (verb === 'transfer') {
          xfer.hidden = true;
          replace(news, notice('success', t('call.transferred')));
        }
        live.soon();
      } catch (e) {
        if (e && e.name === 'AbortError') return;
        replace(err, notice('error', t('call.failed', { error: errorMessage(e) })));
        live.soon();
      } finally {
        for (const b of [hold, resume, hang, go]) b.disabled = false;
      }
    }
    hold.addEventListener('click', () => command('hold'));
    resume.addEventListener('click', () => command('resume'));
    hang.addEventListener('click', () => command('hangup'));
    xfer.addEventListener('submit', (ev) => {
      ev.preventDefault();
      let target;
      if (kind.value === 'queue') target = `queue:${queueSel.value}`;
      else if (kind.value === 'agent') target = `agent:${text.value.trim().toLowerCase()}`;
      else target = `number:${text.value.replace(/[\s()-]/g, '')}`;
      command('transfer', { target });
    });

    function update(x) {
      cur = x;
      replace(party, callParty(x));
      const q = x.queue ? ctx.queues.get(x.queue) : null;
      replace(queue, q ? String(q.name) : '');
      el.dataset.state = x.state;
      state.dataset.state = x.state;
      state.className = `badge call-state call-${x.state}`;
      replace(state, callStateLabel(x.state));
      rec.hidden = !x.recording;
      const talking = x.state === 'talking' || x.state === 'held';
      hold.hidden = x.state !== 'talking';
      resume.hidden = x.state !== 'held';
      xferBtn.hidden = !talking;
      if (!talking) xfer.hidden = true;
      timers.add(timer, live.since(x));
    }
    return { el, update };
  }

  // ---- the dial box --------------------------------------------------------------
  const dialId = uniqueId('dial-number');
  const dialInput = h('input', { id: dialId, type: 'tel', inputmode: 'tel', autocomplete: 'off',
    maxlength: '32', class: 'dial-number' });
  const dialErr = h('div', { class: 'notice-area' });
  const dialBtn = h('button', { type: 'submit', class: 'button small' }, t('call.dial_go'));
  const hintId = uniqueId('dial-hint');
  dialInput.setAttribute('aria-describedby', hintId);
  const dial = h('form', { class: 'dial-box', id: 'dial-box', 'aria-label': t('call.dial') },
    h('label', { for: dialId }, t('call.dial_number')),
    h('div', { class: 'dial-row' }, dialInput, dialBtn),
    h('p', { class: 'hint', id: hintId }, t('call.dial_hint')),
    dialErr);
  dial.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const number = dialInput.value.replace(/[\s()-]/g, '');
    dialErr.replaceChildren();
    if (!NUMBER_RE.test(number)) {
      replace(dialErr, notice('error', t('call.dial_bad')));
      dialInput.focus();
      return;
    }
    dialBtn.disabled = true;
    try {
      await api.post('/calls', { number }, { signal });
      replace(dialErr, notice('info', t('call.dialing', { number })));
      dialInput.value = '';
      live.soon();
    } catch (e) {
      if (e && e.name === 'AbortError') return;
      replace(dialErr, notice('error', e.status === 422 ? t('call.dial_bad') : errorMessage(e)));
    } finally {
      dialBtn.disabled = false;
    }
  });

  const el = h('section', { class: 'panel call-panel', id: 'current-call', 'aria-labelledby': 'current-call-title' },
    h('h2', { id: 'current-call-title' }, t('call.title')),
    empty, list, news, dial);

  // A call.* event from the stream (every agent's: only ours matter).
  function onEvent(ev) {
    const p = ev.payload || {};
    const ours = ev.agent === ctx.myAgent.id || cards.has(p.call);
    if (!ours) return;
    if (ev.type === 'call.ended') {
      replace(news, notice('info', t('call.ended')));
      if (ev.interaction && ctx.onEnded) ctx.onEnded(ev.interaction);
    }
    live.onEvent(ev);
  }

  return { el, onEvent, refresh: live.refresh };
}
