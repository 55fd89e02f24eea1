// ui.js: small shared pieces of UI: notices, flash messages, error text,
// a confirmation dialog (an in-page <dialog>, not window.confirm) and page
// headers. All text goes in as text nodes (see dom.js).
import { h, replace } from './dom.js';
import { t } from './i18n.js';

// Server details are lower-case phrases; shown alone they start a sentence.
const sentence = (s) => (s ? s.charAt(0).toUpperCase() + s.slice(1) : s);

// The message to show for an ApiError (or any error).
export function errorMessage(err) {
  if (!err) return t('error.unknown');
  const detail = sentence(err.detail || '');
  if (err.status === 0) return t('error.network');
  if (err.status === 429) {
    const base = detail || t('error.too_many');
    if (!err.retryAfter) return base;
    const wait = err.retryAfter >= 120
      ? t('error.retry_after_min', { minutes: Math.ceil(err.retryAfter / 60) })
      : t('error.retry_after', { seconds: err.retryAfter });
    return `${base} ${wait}`;
  }
  if (detail) return detail;
  if (err.status === 403) return t('error.forbidden');
  if (err.status === 404) return t('error.not_found');
  if (err.status) return t('error.http', { status: err.status });
  return err.message || t('error.unknown');
}

// A field error's detail usually starts with the field path ("name: …");
// next to the field itself that prefix is noise.
export function fieldMessage(err) {
  const d = err.detail || errorMessage(err);
  if (err.field && d.startsWith(`${err.field}: `)) {
    const rest = d.slice(err.field.length + 2);
    return rest.charAt(0).toUpperCase() + rest.slice(1);
  }
  return d;
}

// A notice box; kind is 'error', 'success' or 'info'. Errors are announced.
export function notice(kind, text) {
  return h('div', { class: ['notice', `notice-${kind}`], role: kind === 'error' ? 'alert' : 'status' }, text);
}

// An area that shows at most one notice at a time.
export function noticeArea() {
  const el = h('div', { class: 'notice-area' });
  return {
    el,
    show(kind, text) { replace(el, notice(kind, text)); },
    clear() { el.replaceChildren(); },
  };
}

// A message carried over to the next page (e.g. "Saved" after a redirect).
let flash = null;
export function setFlash(kind, text) { flash = { kind, text }; }
export function takeFlash() {
  const f = flash;
  flash = null;
  return f ? notice(f.kind, f.text) : null;
}

export function pageHeader(title, ...actions) {
  return h('header', { class: 'page-header' },
    h('h1', null, title),
    actions.length ? h('div', { class: 'page-actions' }, actions) : null);
}

// A link styled as a button.
export function linkButton(href, text, cls = 'button') {
  return h('a', { class: cls, href }, text);
}

// Ask for confirmation with a modal <dialog>; resolves true or false.
export function confirmDialog({ title, message, confirmLabel, danger = false }) {
  return new Promise((resolve) => {
    const cancel = h('button', { type: 'button', class: 'button secondary', value: 'cancel' }, t('action.cancel'));
    const ok = h('button', { type: 'submit', class: ['button', danger && 'danger'], value: 'ok' },
      confirmLabel || t('action.ok'));
    const titleId = `dlg-title-${Date.now()}`;
    const dlg = h('dialog', { class: 'confirm', 'aria-labelledby': titleId },
      h('form', { method: 'dialog' },
        h('h2', { id: titleId }, title),
        h('p', null, message),
        h('div', { class: 'dialog-actions' }, cancel, ok)));
    cancel.addEventListener('click', () => dlg.close('cancel'));
    dlg.addEventListener('close', () => {
      resolve(dlg.returnValue === 'ok');
      dlg.remove();
    });
    document.body.append(dlg);
    dlg.showModal();
    cancel.focus();
  });
}

export function formatTime(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  return d.toLocaleString(document.documentElement.lang || undefined);
}
