// pages/chat_view.js: a chat transcript, shared by the agent desktop and
// the supervisor's read-only view. Every piece of message text (customer
// text above all) goes into the page as a text node through dom.js: it is
// never parsed as HTML, never turned into a link, so nothing a customer
// sends can run here. Attachments are fetched with the session cookie and
// shown from a data: URL (images of a checked type) or saved through a
// blob: download (PDF); the customer's file name is only ever text or a
// download name.
import { h, replace } from '../dom.js';
import { t } from '../i18n.js';

const IMAGE_TYPES = new Set(['image/png', 'image/jpeg', 'image/gif', 'image/webp']);

// A stored message from either source (the chat.message event or the
// conversation's "messages" list) in one shape.
export function normalizeMessage(m, ev) {
  const p = m || {};
  return {
    seq: Number(p.seq) || 0,
    kind: p.kind || 'message',
    from: p.from || 'system',
    user_id: p.user_id ?? null,
    name: p.name ?? '',
    client_id: p.client_id ?? null,
    text: typeof p.text === 'string' ? p.text : '',
    ts: p.ts || (ev && ev.ts) || null,
    attachment: p.attachment && typeof p.attachment === 'object' ? p.attachment : null,
  };
}

// The state to show for a Conversation: one that still says "queued"
// while agents take part in it is active (the stored state can lag behind
// chat.joined).
export function convState(c) {
  if (!c) return 'queued';
  if (c.state === 'queued' && Array.isArray(c.participants) && c.participants.length) return 'active';
  return c.state;
}

export function formatClock(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  return d.toLocaleTimeString(document.documentElement.lang || undefined, { hour: '2-digit', minute: '2-digit' });
}

export function formatBytes(n) {
  const v = Number(n) || 0;
  if (v < 1024) return t('chat.bytes', { n: v });
  if (v < 1024 * 1024) return t('chat.kib', { n: (v / 1024).toFixed(0) });
  return t('chat.mib', { n: (v / (1024 * 1024)).toFixed(1) });
}

// Seconds as m:ss or h:mm:ss.
export function formatDuration(sec) {
  let s = Math.max(0, Math.floor(Number(sec) || 0));
  const hours = Math.floor(s / 3600);
  s -= hours * 3600;
  const m = Math.floor(s / 60);
  s -= m * 60;
  const mm = hours ? String(m).padStart(2, '0') : String(m);
  return `${hours ? `${hours}:` : ''}${mm}:${String(s).padStart(2, '0')}`;
}

async function fetchAttachment(id, signal) {
  const res = await fetch(`/api/v1/chat/attachments/${encodeURIComponent(id)}`,
    { credentials: 'same-origin', cache: 'no-store', signal });
  if (!res.ok) throw new Error(`HTTP ${res.status}`);
  const type = (res.headers.get('content-type') || '').split(';')[0].trim().toLowerCase();
  const buf = await res.arrayBuffer();
  return { type, blob: new Blob([buf], { type: type || 'application/octet-stream' }) };
}

function dataUrl(blob) {
  return new Promise((resolve, reject) => {
    const r = new FileReader();
    r.onload = () => resolve(String(r.result));
    r.onerror = () => reject(r.error);
    r.readAsDataURL(blob);
  });
}

// The attachment part of a message: an image (loaded now) or a download button.
function attachmentView(att, signal) {
  const name = String(att.name || t('chat.attachment'));
  const meta = h('span', { class: 'att-meta' }, name, ' · ', formatBytes(att.size));
  const box = h('div', { class: 'msg-attachment' });
  if (IMAGE_TYPES.has(String(att.mime || '').toLowerCase())) {
    const status = h('span', { class: 'muted' }, t('chat.loading_image'));
    box.append(status, meta);
    fetchAttachment(att.id, signal).then(async ({ type, blob }) => {
      if (!IMAGE_TYPES.has(type)) throw new Error('unexpected type');
      const src = await dataUrl(blob);
      const img = h('img', { class: 'att-image', alt: name, src });
      replace(box, img, meta);
    }).catch((e) => {
      if (e && e.name === 'AbortError') return;
      replace(box, h('span', { class: 'att-error' }, t('chat.attachment_failed')), meta);
    });
    return box;
  }
  const btn = h('button', { type: 'button', class: 'button secondary small att-download' },
    t('chat.download', { name }));
  btn.addEventListener('click', async () => {
    btn.disabled = true;
    try {
      const { blob } = await fetchAttachment(att.id, signal);
      const url = URL.createObjectURL(blob);
      const a = h('a', { href: url, download: name, hidden: true });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 30000);
    } catch (e) {
      if (!(e && e.name === 'AbortError')) box.append(h('span', { class: 'att-error' }, t('chat.attachment_failed')));
    } finally {
      btn.disabled = false;
    }
  });
  box.append(btn, meta);
  return box;
}

function kindLabel(kind) {
  if (kind === 'note') return h('span', { class: 'msg-kind' }, t('chat.kind.note'));
  if (kind === 'whisper') return h('span', { class: 'msg-kind' }, t('chat.kind.whisper'));
  return null;
}

function senderName(m, myUserId) {
  if (m.from === 'customer') return m.name || t('chat.customer');
  if (m.from === 'system') return t('chat.system');
  if (myUserId !== null && myUserId !== undefined && m.user_id === myUserId) return t('chat.you');
  return m.name || t('chat.agent');
}

// transcript({ myUserId, signal }) → { el, add, addPending, … }
export function transcript({ myUserId = null, signal } = {}) {
  const list = h('ol', { class: 'transcript', 'aria-live': 'polite', 'aria-relevant': 'additions' });
  const bySeq = new Map();      // seq → {m, el}
  const pending = new Map();    // client_id → {text, kind, el, status}
  let customerRead = 0;         // the customer has seen agent messages up to this seq

  function nearBottom() {
    return list.scrollHeight - list.scrollTop - list.clientHeight < 80;
  }
  function scrollDown(force) {
    if (force || nearBottom()) list.scrollTop = list.scrollHeight;
  }

  function messageEl(m) {
    const mine = m.from === 'agent' && myUserId !== null && m.user_id === myUserId;
    const el = h('li', {
      class: ['msg', `from-${m.from === 'customer' || m.from === 'agent' ? m.from : 'system'}`,
        `kind-${m.kind === 'note' || m.kind === 'whisper' ? m.kind : 'message'}`, mine && 'mine'],
      dataset: { seq: String(m.seq), kind: m.kind, from: m.from },
    },
    h('div', { class: 'msg-meta' },
      h('span', { class: 'msg-name' }, senderName(m, myUserId)),
      kindLabel(m.kind),
      m.ts ? h('time', { datetime: m.ts }, formatClock(m.ts)) : null),
    m.text ? h('div', { class: 'msg-text' }, m.text) : null,
    m.attachment ? attachmentView(m.attachment, signal) : null,
    h('div', { class: 'msg-status' }));
    return el;
  }

  function readMark(entry) {
    const st = entry.el.querySelector('.msg-status');
    if (!st) return;
    const m = entry.m;
    if (m.from === 'agent' && m.kind === 'message' && m.seq <= customerRead) {
      st.textContent = t('chat.read_by_customer');
      entry.el.classList.add('read');
    }
  }

  // Insert a stored message in seq order; a second copy of a seq is ignored.
  function add(m) {
    if (!m.seq || bySeq.has(m.seq)) return false;
    const stick = nearBottom();
    if (m.client_id && pending.has(m.client_id)) {
      pending.get(m.client_id).el.remove();
      pending.delete(m.client_id);
    }
    const el = messageEl(m);
    const entry = { m, el };
    bySeq.set(m.seq, entry);
    // Find the first stored message with a larger seq (usually none).
    let before = null;
    for (const child of list.children) {
      const s = Number(child.dataset.seq || 0);
      if (child.classList.contains('pending') || s > m.seq) { before = child; break; }
    }
    list.insertBefore(el, before);
    readMark(entry);
    scrollDown(stick || m.from !== 'customer');
    return true;
  }

  // A message on its way; shown until the stored copy with this client_id arrives.
  function addPending(clientId, text, kind, onRetry) {
    if (pending.has(clientId)) return;
    const status = h('div', { class: 'msg-status' }, t('chat.sending'));
    const el = h('li', { class: ['msg', 'from-agent', 'mine', `kind-${kind}`, 'pending'], dataset: { clientId } },
      h('div', { class: 'msg-meta' }, h('span', { class: 'msg-name' }, t('chat.you')), kindLabel(kind)),
      h('div', { class: 'msg-text' }, text),
      status);
    pending.set(clientId, { text, kind, el, status, onRetry });
    list.append(el);
    scrollDown(true);
  }

  function failPending(clientId, detail) {
    const p = pending.get(clientId);
    if (!p) return;
    p.el.classList.add('failed');
    const retry = h('button', { type: 'button', class: 'button secondary small' }, t('chat.retry'));
    retry.addEventListener('click', () => {
      p.el.classList.remove('failed');
      replace(p.status, t('chat.sending'));
      if (p.onRetry) p.onRetry(clientId, p.text, p.kind);
    });
    replace(p.status, h('span', { class: 'att-error' }, detail || t('chat.not_sent')), ' ', retry);
  }

  function markCustomerRead(seq) {
    if (!(seq > customerRead)) return;
    customerRead = seq;
    for (const entry of bySeq.values()) readMark(entry);
  }

  // A line that is not a stored message (joined, left, transferred, ended).
  function notice(text) {
    const stick = nearBottom();
    const el = h('li', { class: 'chat-event' }, text);
    const firstPending = list.querySelector('.pending');
    list.insertBefore(el, firstPending);
    scrollDown(stick);
  }

  return {
    el: list,
    add,
    addPending,
    failPending,
    markCustomerRead,
    notice,
    pendingList: () => [...pending.entries()].map(([clientId, p]) => ({ clientId, text: p.text, kind: p.kind })),
    hasPending: (clientId) => pending.has(clientId),
    lastSeq: () => Math.max(0, ...bySeq.keys()),
    lastCustomerSeq: () => {
      let s = 0;
      for (const [seq, e] of bySeq) if (e.m.from === 'customer' && seq > s) s = seq;
      return s;
    },
    scrollDown: () => scrollDown(true),
  };
}
