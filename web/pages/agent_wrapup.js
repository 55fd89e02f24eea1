// pages/agent_wrapup.js: the wrap-up form after a chat (or any task) ends:
// a disposition code from the queue's wrap_up_codes (free text when the
// queue has none), required when the queue's disposition_required is true,
// and notes → POST /api/v1/tasks/{task_id}/wrapup.
import { h, replace, uniqueId } from '../dom.js';
import { t } from '../i18n.js';
import { api } from '../api.js';
import { errorMessage } from '../ui.js';

// wrap_up_codes may be strings or objects ({code, label} / {name}).
export function wrapUpCodes(queue) {
  const raw = queue && Array.isArray(queue.wrap_up_codes) ? queue.wrap_up_codes : [];
  const out = [];
  for (const c of raw) {
    if (typeof c === 'string' && c) out.push({ code: c, label: c });
    else if (c && typeof c === 'object') {
      const code = c.code ?? c.name ?? c.id;
      if (code !== undefined && code !== null && code !== '') {
        out.push({ code: String(code), label: String(c.label ?? c.name ?? code) });
      }
    }
  }
  return out;
}

// taskId: the task to wrap up (null: nothing to record, only "Close").
// onDone() runs once it is recorded (or closed).
export function wrapupForm({ taskId, queue, onDone, signal }) {
  const codes = wrapUpCodes(queue);
  const required = !!(queue && queue.disposition_required);
  const codeId = uniqueId('wrap-code');
  const notesId = uniqueId('wrap-notes');
  const errId = uniqueId('wrap-err');
  const err = h('p', { id: errId, class: 'field-error', hidden: true });
  const status = h('div', { class: 'notice-area' });

  const code = codes.length
    ? h('select', { id: codeId, required },
      h('option', { value: '' }, required ? t('form.choose') : t('form.none')),
      codes.map((c) => h('option', { value: c.code }, c.label)))
    : h('input', { id: codeId, type: 'text', maxlength: '64', required, autocomplete: 'off' });
  const notes = h('textarea', { id: notesId, rows: '3', maxlength: '2000' });
  const submit = h('button', { type: 'submit', class: 'button' }, taskId ? t('wrap.submit') : t('action.close'));

  const form = h('form', { class: 'wrapup', novalidate: true, 'aria-label': t('wrap.title') },
    h('h4', null, t('wrap.title')),
    taskId ? [
      h('div', { class: 'field' },
        h('div', { class: 'label-row' },
          h('label', { for: codeId }, t('wrap.code')),
          required ? h('span', { class: 'req', 'aria-hidden': 'true' }, '*') : null),
        code, err),
      h('div', { class: 'field' }, h('label', { for: notesId }, t('wrap.notes')), notes),
    ] : h('p', { class: 'muted' }, t('wrap.nothing')),
    status,
    h('div', { class: 'form-actions' }, submit));

  function fieldError(text) {
    err.hidden = false;
    replace(err, text);
    code.setAttribute('aria-invalid', 'true');
    code.setAttribute('aria-describedby', errId);
    code.focus();
  }

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    err.hidden = true;
    code.removeAttribute('aria-invalid');
    status.replaceChildren();
    if (!taskId) {
      onDone();
      return;
    }
    const disposition = code.value.trim();
    const text = notes.value;
    if (!disposition && required) {
      fieldError(t('wrap.code_required'));
      return;
    }
    if (!disposition) {
      // The API records a wrap-up only with a code; without one the task
      // leaves wrap-up by itself when the queue's wrap-up time is over.
      if (text.trim()) {
        fieldError(t('wrap.code_for_notes'));
        return;
      }
      onDone();
      return;
    }
    submit.disabled = true;
    try {
      await api.post(`/tasks/${taskId}/wrapup`, { disposition, notes: text }, { signal });
      onDone();
    } catch (e) {
      if (e && e.name === 'AbortError') return;
      submit.disabled = false;
      if (e.field === 'disposition') fieldError(errorMessage(e));
      else replace(status, h('div', { class: 'notice notice-error', role: 'alert' }, errorMessage(e)));
    }
  });

  return form;
}
