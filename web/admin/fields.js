// fields.js: form controls built from the field definitions in
// resources.js. Every control has the same shape:
//   { el, get(), set(value), slot(segments), focus() }
// get() returns the JSON value to send (undefined: leave the field out),
// set(undefined) restores the default, and slot(["skills", 2, "level"])
// finds where to show a server error for that dotted path.
import { h, uniqueId } from '../dom.js';
import { t, has } from '../i18n.js';

export function labelFor(def) {
  return t(def.label || `field.${def.name}`);
}

function optionLabel(def, value) {
  const key = `${def.optionKey}.${value}`;
  return def.optionKey && has(key) ? t(key) : String(value);
}

// "business_hours.weekly[0].open" -> ["business_hours", "weekly", 0, "open"]
export function parsePath(path) {
  return String(path).split(/[.[\]]/).filter((s) => s !== '').map((s) => (/^\d+$/.test(s) ? Number(s) : s));
}

// An error message holder tied to an input (aria-invalid, aria-describedby).
function errorSlot(ctx, id, input) {
  const p = h('p', { class: 'field-error', id: `${id}-error`, hidden: true });
  const slot = {
    el: p,
    input,
    show(msg) {
      p.textContent = msg;
      p.hidden = false;
      if (input) {
        input.setAttribute('aria-invalid', 'true');
        const d = (input.getAttribute('aria-describedby') || '').split(' ').filter(Boolean);
        if (!d.includes(p.id)) input.setAttribute('aria-describedby', [...d, p.id].join(' '));
      }
    },
    clear() {
      p.textContent = '';
      p.hidden = true;
      if (input) input.removeAttribute('aria-invalid');
    },
    focus() {
      if (input && typeof input.focus === 'function') input.focus();
      p.scrollIntoView({ block: 'center' });
    },
  };
  ctx.slots.push(slot);
  return slot;
}

function defaultOf(def) {
  const d = def.default;
  return Array.isArray(d) ? [...d] : d;
}

// ---- scalars -----------------------------------------------------------

function refOptions(ctx, def) {
  const items = ctx.lookups[def.resource];
  if (!items) return null;
  const display = ctx.display[def.resource] || 'name';
  return items.map((it) => ({ value: String(it.id), text: String(it[display] ?? `#${it.id}`) }));
}

function makeInput(def, ctx, id) {
  switch (def.type) {
    case 'textarea':
      return h('textarea', { id, rows: 3 });
    case 'password':
      return h('input', { id, type: 'password', autocomplete: 'new-password' });
    case 'int':
      return h('input', { id, type: 'number', step: 1, min: def.min, max: def.max, inputmode: 'numeric', class: 'narrow' });
    case 'select': {
      const sel = h('select', { id });
      if (def.nullable) sel.append(h('option', { value: '' }, t('form.none')));
      for (const o of def.options) sel.append(h('option', { value: o }, optionLabel(def, o)));
      return sel;
    }
    case 'ref': {
      const opts = refOptions(ctx, def);
      if (!opts) return h('input', { id, type: 'number', min: 1, step: 1, class: 'narrow', placeholder: t('form.id') });
      const sel = h('select', { id });
      sel.append(h('option', { value: '' }, def.nullable ? t('form.none') : t('form.choose')));
      for (const o of opts) sel.append(h('option', { value: o.value }, o.text));
      return sel;
    }
    case 'bool':
      return h('input', { id, type: 'checkbox' });
    case 'time':
      return h('input', { id, type: 'text', placeholder: 'HH:MM', inputmode: 'numeric', class: 'narrow', autocomplete: 'off' });
    case 'date':
      return h('input', { id, type: 'date', class: 'narrow' });
    case 'timezone': {
      const input = h('input', { id, type: 'text', list: `${id}-list`, autocomplete: 'off' });
      return input;
    }
    default:
      return h('input', { id, type: 'text', autocomplete: def.autocomplete || 'off' });
  }
}

function timezoneList(id) {
  let zones = [];
  try { zones = Intl.supportedValuesOf('timeZone'); } catch { zones = []; }
  if (!zones.includes('UTC')) zones.unshift('UTC');
  return h('datalist', { id: `${id}-list` }, zones.map((z) => h('option', { value: z })));
}

// A single input. opts.compact: inside a row (visually hidden label).
function scalar(def, ctx, opts = {}) {
  const id = uniqueId(`f-${def.name || 'item'}`);
  const input = makeInput(def, ctx, id);
  const label = h('label', { for: id, class: opts.compact ? 'sr-only' : null }, opts.labelText || labelFor(def));
  let labelRow = label;
  if (def.required || (def.requiredOnCreate && ctx.isNew)) {
    input.setAttribute('aria-required', 'true');
    // The star stays outside the <label>, so the accessible name is the label text.
    if (!opts.compact) labelRow = h('div', { class: 'label-row' }, label, h('span', { class: 'req', 'aria-hidden': 'true' }, '*'));
  }
  const slot = errorSlot(ctx, id, input);
  const hintKey = !ctx.isNew && def.hintEdit ? def.hintEdit : def.hint;
  let hint = null;
  if (hintKey && !opts.compact) {
    hint = h('p', { class: 'hint', id: `${id}-hint` }, t(hintKey));
    input.setAttribute('aria-describedby', hint.id);
  }
  const el = h('div', { class: opts.compact ? 'cell' : ['field', `field-${def.type}`] },
    labelRow, input, def.type === 'timezone' ? timezoneList(id) : null, hint, slot.el);
  const isSelect = input.tagName === 'SELECT';

  function ensureOption(v) {
    if (!isSelect || v === '' ) return;
    if (![...input.options].some((o) => o.value === v)) {
      input.append(h('option', { value: v }, def.type === 'ref' ? `#${v}` : v));
    }
  }

  return {
    el,
    get() {
      const v = input.value;
      switch (def.type) {
        case 'bool':
          return input.checked;
        case 'int':
          return v === '' ? undefined : Number(v);
        case 'ref':
          if (v === '') return def.nullable ? null : undefined;
          return Number(v);
        case 'password':
          return v === '' ? undefined : v;
        case 'select':
          return v === '' && def.nullable ? null : v;
        default:
          return v;
      }
    },
    set(v) {
      if (v === undefined) v = defaultOf(def);
      if (def.type === 'password') v = '';
      if (def.type === 'bool') {
        input.checked = v === true;
        return;
      }
      const s = v === undefined || v === null ? '' : String(v);
      ensureOption(s);
      input.value = s;
    },
    setLabel(text) { label.textContent = text; },
    slot(segs) { return segs.length === 0 ? slot : null; },
    focus() { input.focus(); },
  };
}

// ---- checkbox sets -------------------------------------------------------

function checkboxes(def, ctx) {
  let choices;
  let fallback = false;
  if (def.type === 'refset') {
    const opts = refOptions(ctx, def);
    if (opts) choices = opts.map((o) => ({ value: Number(o.value), text: o.text }));
    else fallback = true;
  } else {
    choices = def.options.map((o) => ({ value: o, text: optionLabel(def, o) }));
  }
  const legendId = uniqueId(`f-${def.name}`);
  const slot = errorSlot(ctx, legendId, null);
  const fs = h('fieldset', { class: ['field', 'checkboxes'], 'aria-describedby': slot.el.id },
    h('legend', { id: legendId }, labelFor(def)));
  let boxes = [];
  let text = null;
  if (fallback) {
    // The list of choices could not be read (role): ids, comma separated.
    const id = uniqueId(`f-${def.name}`);
    text = h('input', { id, type: 'text', placeholder: t('form.ids') });
    fs.append(h('label', { for: id, class: 'sr-only' }, labelFor(def)), text);
  } else if (!choices.length) {
    fs.append(h('p', { class: 'muted' }, t('form.no_choices')));
  } else {
    const wrap = h('div', { class: 'choices' });
    boxes = choices.map((c) => {
      const id = uniqueId(`f-${def.name}`);
      const box = h('input', { id, type: 'checkbox', value: String(c.value) });
      wrap.append(h('div', { class: 'choice' }, box, h('label', { for: id }, c.text)));
      return { box, c };
    });
    fs.append(wrap);
  }
  if (def.hint) fs.append(h('p', { class: 'hint' }, t(def.hint)));
  fs.append(slot.el);
  return {
    el: fs,
    get() {
      if (text) {
        return text.value.split(',').map((s) => s.trim()).filter(Boolean).map(Number);
      }
      return boxes.filter((b) => b.box.checked).map((b) => b.c.value);
    },
    set(v) {
      if (v === undefined) v = defaultOf(def) || [];
      const vals = (v || []).map(String);
      if (text) { text.value = vals.join(', '); return; }
      for (const b of boxes) b.box.checked = vals.includes(String(b.c.value));
      // Keep values we could not show (e.g. a queue id not listed) visible.
      for (const x of vals) {
        if (!boxes.some((b) => String(b.c.value) === x)) {
          const id = uniqueId(`f-${def.name}`);
          const box = h('input', { id, type: 'checkbox', value: x, checked: true });
          const c = { value: def.type === 'refset' ? Number(x) : x, text: `#${x}` };
          fs.querySelector('.choices')?.append(h('div', { class: 'choice' }, box, h('label', { for: id }, c.text)));
          boxes.push({ box, c });
        }
      }
    },
    slot() { return slot; },
    focus() { (boxes[0]?.box || text)?.focus(); },
  };
}

// ---- groups (nested objects) ---------------------------------------------

function group(def, ctx) {
  const legendId = uniqueId(`f-${def.name}`);
  const slot = errorSlot(ctx, legendId, null);
  const children = def.fields.map((f) => ({ f, c: build(f, ctx) }));
  const fs = h('fieldset', { class: ['group', `group-${def.name}`] },
    h('legend', { id: legendId }, labelFor(def)),
    def.hint ? h('p', { class: 'hint' }, t(def.hint)) : null,
    h('div', { class: children.every(({ f }) => !['rows', 'group', 'textarea'].includes(f.type)) ? 'group-grid' : 'group-stack' },
      children.map(({ c }) => c.el)),
    slot.el);
  return {
    el: fs,
    get() {
      const out = {};
      for (const { f, c } of children) {
        const v = c.get();
        if (v !== undefined) out[f.name] = v;
      }
      return out;
    },
    set(v) {
      for (const { f, c } of children) c.set(v ? v[f.name] : undefined);
    },
    slot(segs) {
      if (!segs.length) return slot;
      const hit = children.find(({ f }) => f.name === segs[0]);
      return (hit && hit.c.slot(segs.slice(1))) || slot;
    },
    focus() { children[0]?.c.focus(); },
  };
}

// ---- rows (arrays of objects or scalars) ---------------------------------

function rows(def, ctx) {
  const legendId = uniqueId(`f-${def.name}`);
  const slot = errorSlot(ctx, legendId, null);
  const cols = def.fields || [def.item];
  const list = h('div', { class: 'rows-list' });
  const empty = h('p', { class: 'muted rows-empty' }, t('form.no_rows'));
  const head = h('div', { class: 'rows-head', 'aria-hidden': 'true' },
    cols.map((f) => h('span', { class: `col col-${f.type}` }, labelFor(f))), h('span', { class: 'col-actions' }));
  const addBtn = h('button', { type: 'button', class: 'button secondary small' }, t(def.addLabel || 'action.add_row'));
  const fs = h('fieldset', { class: ['field', 'rows', `rows-${def.name}`] },
    h('legend', { id: legendId }, labelFor(def)),
    def.hint ? h('p', { class: 'hint' }, t(def.hint)) : null,
    head, list, empty, h('div', { class: 'rows-actions' }, addBtn), slot.el);
  // Column widths by input type (set through CSSOM, which CSP allows).
  const width = (f) => (['int', 'time'].includes(f.type) ? '9rem' : f.type === 'date' ? '11rem' : 'minmax(8rem, 1fr)');
  fs.style.setProperty('--row-cols', cols.map(width).join(' '));
  let items = [];

  function renumber() {
    items.forEach((r, i) => r.renumber(i));
    empty.hidden = items.length > 0;
    head.hidden = items.length === 0;
  }

  function addRow(value) {
    const rowSlot = errorSlot(ctx, uniqueId(`f-${def.name}-row`), null);
    const cells = cols.map((f) => ({ f, c: scalar(f, ctx, { compact: true }) }));
    const remove = h('button', { type: 'button', class: 'button secondary small remove' }, t('action.remove'));
    const rowEl = h('div', { class: 'row' }, cells.map(({ c }) => c.el), h('div', { class: 'cell cell-actions' }, remove), rowSlot.el);
    const row = {
      el: rowEl,
      get() {
        if (!def.fields) return cells[0].c.get();
        const out = {};
        for (const { f, c } of cells) {
          const v = c.get();
          if (v !== undefined) out[f.name] = v;
        }
        return out;
      },
      set(v) {
        if (!def.fields) { cells[0].c.set(v); return; }
        for (const { f, c } of cells) c.set(v ? v[f.name] : undefined);
      },
      renumber(i) {
        for (const { f, c } of cells) c.setLabel(t('form.row_label', { label: labelFor(f), n: i + 1 }));
        remove.setAttribute('aria-label', t('action.remove_row', { what: labelFor(def), n: i + 1 }));
      },
      slot(segs) {
        if (!segs.length || !def.fields) return def.fields ? rowSlot : cells[0].c.slot([]);
        const hit = cells.find(({ f }) => f.name === segs[0]);
        return (hit && hit.c.slot(segs.slice(1))) || rowSlot;
      },
      focus() { cells[0].c.focus(); },
    };
    remove.addEventListener('click', () => {
      const i = items.indexOf(row);
      items.splice(i, 1);
      rowEl.remove();
      renumber();
      (items[Math.min(i, items.length - 1)]?.focus || (() => addBtn.focus()))();
    });
    row.set(value);
    items.push(row);
    list.append(rowEl);
    renumber();
    return row;
  }

  addBtn.addEventListener('click', () => addRow(undefined).focus());

  return {
    el: fs,
    get() { return items.map((r) => r.get()); },
    set(v) {
      items = [];
      list.replaceChildren();
      for (const x of v || defaultOf(def) || []) addRow(x);
      renumber();
    },
    slot(segs) {
      if (!segs.length) return slot;
      const row = typeof segs[0] === 'number' ? items[segs[0]] : null;
      return (row && row.slot(segs.slice(1))) || slot;
    },
    focus() { (items[0] || { focus: () => addBtn.focus() }).focus(); },
  };
}

// ---- dispatch --------------------------------------------------------------

export function build(def, ctx) {
  switch (def.type) {
    case 'group': return group(def, ctx);
    case 'rows': return rows(def, ctx);
    case 'checkboxes':
    case 'refset': return checkboxes(def, ctx);
    default: return scalar(def, ctx);
  }
}

// A whole form's worth of fields. ctx: {lookups, display, isNew}.
export function buildFields(defs, ctx) {
  ctx.slots = [];
  const controls = defs.map((f) => ({ f, c: build(f, ctx) }));
  return {
    els: controls.map(({ c }) => c.el),
    get() {
      const out = {};
      for (const { f, c } of controls) {
        const v = c.get();
        if (v !== undefined) out[f.name] = v;
      }
      return out;
    },
    set(v) {
      for (const { f, c } of controls) c.set(v ? v[f.name] : undefined);
    },
    // The slot for a server error path, or null when no field matches.
    slot(path) {
      const segs = parsePath(path);
      const hit = controls.find(({ f }) => f.name === segs[0]);
      return hit ? hit.c.slot(segs.slice(1)) : null;
    },
    clearErrors() { for (const s of ctx.slots) s.clear(); },
  };
}
