// sip.js: the users page's "SIP password" action: a dialog that shows
// whether the user's phone has a SIP password, sets one (password + repeat)
// or removes it, through /api/v1/users/{id}/sip_password (docs/VOICE.md,
// "Configuring a phone"). The password is sent once and never shown again;
// the server keeps only its HA1 in DATA/sip_accounts.
import { h, replace, uniqueId } from '../dom.js';
import { t } from '../i18n.js';
import { api } from '../api.js';
import { errorMessage, fieldMessage, noticeArea } from '../ui.js';

const MIN = 8;
const MAX = 128;
// C0 and C1 control characters and DEL, as the server refuses them.
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

// A password input with its label, hint and error line.
function passwordField(label, hintText) {
  const id = uniqueId('sip-pw');
  const input = h('input', { id, type: 'password', autocomplete: 'new-password', spellcheck: 'false',
    maxlength: String(MAX * 2), 'aria-required': 'true' });
  const hint = hintText ? h('p', { class: 'hint', id: `${id}-hint` }, hintText) : null;
  const error = h('p', { class: 'field-error', id: `${id}-error`, hidden: true });
  input.setAttribute('aria-describedby', [hint && hint.id, error.id].filter(Boolean).join(' '));
  return {
    el: h('div', { class: 'field' }, h('label', { for: id }, label), input, hint, error),
    input,
    show(msg) {
      error.textContent = msg;
      error.hidden = false;
      input.setAttribute('aria-invalid', 'true');
    },
    clear() {
      error.textContent = '';
      error.hidden = true;
      input.removeAttribute('aria-invalid');
    },
  };
}

// The problem with a password as the server would see it, or null.
function localProblem(pw) {
  const n = [...pw].length;
  if (n < MIN || n > MAX) return t('sip.length', { min: MIN, max: MAX });
  if (CONTROL.test(pw)) return t('sip.control');
  return null;
}

// Open the dialog for one user (an item of GET /api/v1/users).
export function sipPasswordDialog(user, name) {
  const path = `/users/${user.id}/sip_password`;
  const titleId = uniqueId('sip-title');
  const state = h('p', { class: 'sip-state', role: 'status' }, t('msg.loading'));
  const notices = noticeArea();
  const pw = passwordField(t('sip.password'), t('sip.hint', { min: MIN, max: MAX }));
  const again = passwordField(t('sip.repeat'));
  const setBtn = h('button', { type: 'submit', class: 'button' }, t('sip.set'));
  const removeBtn = h('button', { type: 'button', class: 'button danger', disabled: true }, t('sip.remove'));
  const closeBtn = h('button', { type: 'button', class: 'button secondary' }, t('action.close'));
  const spacer = h('span', { class: 'spacer' });
  spacer.style.flex = '1';
  const fields = h('div', { class: 'sip-fields' }, pw.el, again.el);
  fields.style.display = 'grid';
  fields.style.gap = '0.9rem';
  fields.style.marginTop = '1rem';
  const form = h('form', { novalidate: true },
    h('h2', { id: titleId }, t('sip.title', { name })),
    h('p', { class: 'hint' }, t('sip.intro', { username: user.username })),
    state, notices.el, fields,
    h('div', { class: 'dialog-actions' }, removeBtn, spacer, closeBtn, setBtn));
  const dlg = h('dialog', { class: 'confirm sip-dialog', 'aria-labelledby': titleId, dataset: { user: String(user.id) } },
    form);

  let busy = false;
  function showState(set) {
    dlg.dataset.set = set ? 'true' : 'false';
    replace(state, set ? t('sip.state_set') : t('sip.state_unset'));
    removeBtn.disabled = !set;
  }
  function lock(on) {
    busy = on;
    setBtn.disabled = on;
    if (on) removeBtn.disabled = true;
    else removeBtn.disabled = dlg.dataset.set !== 'true';
  }

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    if (busy) return;
    pw.clear();
    again.clear();
    notices.clear();
    const value = pw.input.value;
    const problem = localProblem(value);
    if (problem) {
      pw.show(problem);
      pw.input.focus();
      return;
    }
    if (again.input.value !== value) {
      again.show(t('sip.mismatch'));
      again.input.focus();
      return;
    }
    lock(true);
    try {
      await api.put(path, { password: value });
      pw.input.value = '';
      again.input.value = '';
      showState(true);
      notices.show('success', t('sip.saved', { name }));
    } catch (e) {
      if (e.status === 422 && e.field === 'password') {
        pw.show(fieldMessage(e));
        pw.input.focus();
      } else {
        notices.show('error', errorMessage(e));
      }
    } finally {
      lock(false);
    }
  });

  removeBtn.addEventListener('click', async () => {
    if (busy) return;
    notices.clear();
    lock(true);
    try {
      await api.del(path);
      showState(false);
      notices.show('success', t('sip.removed', { name }));
    } catch (e) {
      if (e.status === 404 && dlg.dataset.set === 'true') showState(false);
      notices.show('error', errorMessage(e));
    } finally {
      lock(false);
    }
  });

  closeBtn.addEventListener('click', () => dlg.close());
  dlg.addEventListener('close', () => dlg.remove());
  document.body.append(dlg);
  dlg.showModal();
  pw.input.focus();

  api.get(path).then((r) => showState(!!(r && r.set)), (e) => {
    replace(state);
    notices.show('error', errorMessage(e));
  });
  return dlg;
}

// The button for a row of the users list.
export function sipPasswordButton(user, name) {
  const b = h('button', { type: 'button', class: 'button secondary small',
    'aria-label': t('sip.action_named', { name }) }, t('sip.action'));
  b.addEventListener('click', () => sipPasswordDialog(user, name));
  return b;
}
