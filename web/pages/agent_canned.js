// pages/agent_canned.js: canned replies. There is no server resource for
// them yet, so each user's list lives in this browser's localStorage
// (key hotline.canned.v1.<user id>), starting from a few translated
// defaults, and is edited in a small in-page dialog. In the composer,
// typing "/shortcut" offers the matching replies.
import { h, replace, uniqueId } from '../dom.js';
import { t } from '../i18n.js';

const SHORTCUT_RE = /^[a-z0-9_-]{1,32}$/;
const MAX_TEXT = 4000;

function key(userId) {
  return `hotline.canned.v1.${userId}`;
}

function defaults() {
  return ['hello', 'moment', 'thanks', 'bye'].map((s) => ({ shortcut: s, text: t(`canned.default.${s}`) }));
}

export function loadCanned(userId) {
  try {
    const raw = localStorage.getItem(key(userId));
    if (raw) {
      const list = JSON.parse(raw);
      if (Array.isArray(list)) {
        return list.filter((x) => x && typeof x.shortcut === 'string' && typeof x.text === 'string'
          && SHORTCUT_RE.test(x.shortcut));
      }
    }
  } catch { /* storage disabled or damaged: use the defaults */ }
  return defaults();
}

export function saveCanned(userId, list) {
  try {
    localStorage.setItem(key(userId), JSON.stringify(list));
    return true;
  } catch {
    return false;
  }
}

// The replies whose shortcut starts with `prefix` (without the "/").
export function matchCanned(list, prefix) {
  const p = prefix.toLowerCase();
  return list.filter((c) => c.shortcut.startsWith(p));
}

// Opens the editor; resolves with the new list, or null when cancelled.
export function editCanned(list) {
  return new Promise((resolve) => {
    const rows = h('div', { class: 'canned-rows' });
    const error = h('p', { class: 'field-error', role: 'alert', hidden: true });
    // Labels carry the row number; they follow removals.
    function renumber() {
      [...rows.querySelectorAll('.canned-row')].forEach((row, i) => {
        const n = i + 1;
        const [ls, lt] = row.querySelectorAll('label');
        ls.textContent = t('canned.shortcut_row', { n });
        lt.textContent = t('canned.text_row', { n });
        row.querySelector('.remove').textContent = t('canned.remove_row', { n });
      });
    }

    function addRow(item) {
      const n = rows.querySelectorAll('.canned-row').length + 1;
      const sid = uniqueId('canned-s');
      const tid = uniqueId('canned-t');
      const shortcut = h('input', { id: sid, type: 'text', value: item.shortcut, maxlength: '32',
        class: 'canned-shortcut', autocomplete: 'off', spellcheck: 'false' });
      const text = h('textarea', { id: tid, rows: '2', maxlength: String(MAX_TEXT), class: 'canned-text' });
      text.value = item.text;
      const remove = h('button', { type: 'button', class: 'button danger small remove' },
        t('canned.remove_row', { n }));
      const row = h('div', { class: 'canned-row' },
        h('div', { class: 'field' }, h('label', { for: sid }, t('canned.shortcut_row', { n })), shortcut),
        h('div', { class: 'field' }, h('label', { for: tid }, t('canned.text_row', { n })), text),
        remove);
      remove.addEventListener('click', () => {
        row.remove();
        renumber();
      });
      rows.append(row);
      return shortcut;
    }

    for (const c of list) addRow(c);
    const add = h('button', { type: 'button', class: 'button secondary small' }, t('canned.add'));
    add.addEventListener('click', () => addRow({ shortcut: '', text: '' }).focus());
    const cancel = h('button', { type: 'button', class: 'button secondary' }, t('action.cancel'));
    const save = h('button', { type: 'submit', class: 'button' }, t('action.save'));
    const titleId = uniqueId('canned-title');
    const form = h('form', { method: 'dialog', novalidate: true },
      h('h2', { id: titleId }, t('canned.title')),
      h('p', { class: 'hint' }, t('canned.hint')),
      rows,
      h('p', null, add),
      error,
      h('div', { class: 'dialog-actions' }, cancel, save));
    const dlg = h('dialog', { class: 'confirm canned-dialog', 'aria-labelledby': titleId }, form);
    let result = null;

    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const out = [];
      const seen = new Set();
      for (const row of rows.querySelectorAll('.canned-row')) {
        const s = row.querySelector('.canned-shortcut').value.trim().replace(/^\//, '').toLowerCase();
        const text = row.querySelector('.canned-text').value;
        if (!s && !text.trim()) continue;
        if (!SHORTCUT_RE.test(s) || seen.has(s)) {
          error.hidden = false;
          replace(error, seen.has(s) ? t('canned.error_duplicate', { shortcut: s }) : t('canned.error_shortcut'));
          row.querySelector('.canned-shortcut').focus();
          return;
        }
        if (!text.trim()) {
          error.hidden = false;
          replace(error, t('canned.error_text', { shortcut: s }));
          row.querySelector('.canned-text').focus();
          return;
        }
        seen.add(s);
        out.push({ shortcut: s, text });
      }
      result = out;
      dlg.close('ok');
    });
    cancel.addEventListener('click', () => dlg.close('cancel'));
    dlg.addEventListener('close', () => {
      dlg.remove();
      resolve(result);
    });
    document.body.append(dlg);
    dlg.showModal();
  });
}
