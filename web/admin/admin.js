// admin.js: the generic admin list page and create/edit form, driven by
// the definitions in resources.js.
import { h, replace } from '../dom.js';
import { t, has } from '../i18n.js';
import { api } from '../api.js';
import { RESOURCES } from './resources.js';
import { buildFields } from './fields.js';
import { sipPasswordButton } from './sip.js';
import {
  errorMessage, fieldMessage, noticeArea, setFlash, takeFlash, pageHeader, linkButton,
  confirmDialog, formatTime,
} from '../ui.js';

const PAGE_SIZE = 50;

export function canRead(kind, user) {
  const def = RESOURCES[kind];
  return !!(def && user && def.read.includes(user.role));
}

export function canWrite(kind, user) {
  const def = RESOURCES[kind];
  return !!(def && user && def.write.includes(user.role));
}

const DISPLAY = Object.fromEntries(Object.entries(RESOURCES).map(([k, d]) => [k, d.display]));

function displayName(kind, item) {
  const v = item && item[DISPLAY[kind] || 'name'];
  return v === undefined || v === null || v === '' ? `#${item?.id}` : String(v);
}

// Resources that a set of field definitions refers to.
function refsOf(defs, out = new Set()) {
  for (const f of defs) {
    if ((f.type === 'ref' || f.type === 'refset') && f.resource) out.add(f.resource);
    if (f.fields) refsOf(f.fields, out);
    if (f.item) refsOf([f.item], out);
  }
  return out;
}

// Read every referenced resource; one that cannot be read (403 for the
// role, or an error) is left out, and its fields fall back to plain ids.
async function loadLookups(kinds, user, signal) {
  const lookups = {};
  await Promise.all([...kinds].map(async (k) => {
    if (!canRead(k, user)) return;
    try {
      lookups[k] = await api.all(k, { signal });
    } catch (e) {
      if (e.name === 'AbortError') throw e;
    }
  }));
  return lookups;
}

// ---- the list --------------------------------------------------------------

// The `after` values of the pages visited, per resource, for "previous".
const pageTrail = {};

function cellText(col, item, kind, lookups) {
  const v = item[col.key];
  const opt = (x) => {
    const key = `${col.optionKey}.${x}`;
    return col.optionKey && has(key) ? t(key) : String(x);
  };
  switch (col.format) {
    case 'agentSkills':
      return (v || []).map((s) => {
        const sk = (lookups.skills || []).find((x) => x.id === s.skill_id);
        return t('fmt.skill_level', { skill: sk ? sk.name : `#${s.skill_id}`, level: s.level });
      }).join(', ');
    case 'capacity':
      return v ? ['voice', 'chat', 'email', 'messaging'].filter((c) => c in v)
        .map((c) => `${t(`channel.${c}`)} ${v[c]}`).join(' · ') : '';
    case 'serviceLevel':
      return v ? t('fmt.service_level', { percent: v.percent, seconds: v.seconds }) : '';
    case 'identities':
      return (v || []).map((i) => `${opt2('identity', i.type)}: ${i.value}`).join(', ');
    default:
      break;
  }
  if (col.ref) {
    if (v === null || v === undefined) return '—';
    const it = (lookups[col.ref] || []).find((x) => x.id === v);
    return it ? displayName(col.ref, it) : `#${v}`;
  }
  if (Array.isArray(v)) return v.map(opt).join(', ');
  if (v === null || v === undefined) return '';
  return opt(v);
}

function opt2(prefix, x) {
  const key = `${prefix}.${x}`;
  return has(key) ? t(key) : String(x);
}

export async function listPage(main, kind, query, env) {
  const def = RESOURCES[kind];
  const writable = canWrite(kind, env.user);
  const after = query.get('after') || '';
  const q = def.search ? (query.get(def.search) || '') : '';
  const title = t(def.title);
  env.setTitle(title);

  const notices = noticeArea();
  const flash = takeFlash();
  const tableWrap = h('div', { class: 'table-wrap' }, h('p', { class: 'muted' }, t('msg.loading')));
  const pager = h('nav', { class: 'pager', 'aria-label': t('nav.pages') });

  let search = null;
  if (def.search) {
    const sid = `search-${kind}`;
    const input = h('input', { id: sid, type: 'search', value: q, autocomplete: 'off' });
    search = h('form', { class: 'search', role: 'search' },
      h('label', { for: sid }, t('form.search_name')), input,
      h('button', { type: 'submit', class: 'button secondary' }, t('action.search')));
    search.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const v = input.value.trim();
      env.navigate(`#/admin/${kind}${v ? `?${new URLSearchParams({ [def.search]: v })}` : ''}`);
    });
  }

  replace(main,
    pageHeader(title, writable ? linkButton(`#/admin/${kind}/new`, t('action.new', { what: t(def.singular) })) : null),
    flash, notices.el, search, tableWrap, pager);

  let page;
  let lookups;
  try {
    const refKinds = new Set(def.columns.filter((c) => c.ref).map((c) => c.ref));
    if (def.columns.some((c) => c.format === 'agentSkills')) refKinds.add('skills');
    [page, lookups] = await Promise.all([
      api.list(kind, { limit: PAGE_SIZE, after: after || undefined, [def.search || 'q']: q || undefined },
        { signal: env.signal }),
      loadLookups(refKinds, env.user, env.signal),
    ]);
  } catch (e) {
    if (e.name === 'AbortError') return;
    replace(tableWrap);
    notices.show('error', errorMessage(e));
    return;
  }

  const items = page.items || [];
  if (!items.length) {
    replace(tableWrap, h('p', { class: 'empty' }, q ? t('msg.no_matches') : t('msg.empty', { what: t(def.plural) })));
  } else {
    const table = h('table', { class: 'list', dataset: { resource: kind } },
      h('caption', { class: 'sr-only' }, title),
      h('thead', null, h('tr', null,
        def.columns.map((c) => h('th', { scope: 'col' }, t(c.label || `field.${c.key}`))),
        h('th', { scope: 'col', class: 'num' }, t('field.version')),
        h('th', { scope: 'col', class: 'actions' }, h('span', { class: 'sr-only' }, t('field.actions'))))),
      h('tbody', null, items.map((item) => {
        const name = displayName(kind, item);
        const cells = def.columns.map((c, i) => {
          const text = cellText(c, item, kind, lookups);
          if (i === 0) {
            return h('th', { scope: 'row' }, h('a', { href: `#/admin/${kind}/${item.id}` }, text));
          }
          return h('td', { class: typeof item[c.key] === 'number' ? 'num' : null }, text);
        });
        const actions = h('td', { class: 'actions' },
          linkButton(`#/admin/${kind}/${item.id}`, writable ? t('action.edit') : t('action.view'), 'button secondary small'));
        if (kind === 'users' && writable) actions.append(sipPasswordButton(item, name)); // the phone's password
        if (writable) {
          const del = h('button', { type: 'button', class: 'button danger small',
            'aria-label': t('action.delete_named', { name }) }, t('action.delete'));
          del.addEventListener('click', async () => {
            const ok = await confirmDialog({
              title: t('confirm.delete_title', { what: t(def.singular) }),
              message: t('confirm.delete_message', { name }),
              confirmLabel: t('action.delete'),
              danger: true,
            });
            if (!ok) return;
            try {
              await api.del(`/${kind}/${item.id}`);
              setFlash('success', t('msg.deleted', { name }));
              env.refresh();
            } catch (e) {
              notices.show('error', errorMessage(e));
            }
          });
          actions.append(del);
        }
        return h('tr', { dataset: { id: String(item.id) } }, cells,
          h('td', { class: 'num version' }, String(item.version ?? '')), actions);
      })));
    replace(tableWrap, table);
  }

  // Pagination by id: remember where we came from for "previous".
  const trailKey = `${kind}?${q}`;
  const trail = pageTrail[trailKey] || (pageTrail[trailKey] = ['']);
  const at = trail.indexOf(after);
  if (at >= 0) trail.length = at + 1; else trail.push(after);
  const pos = trail.length - 1;
  const href = (a) => {
    const p = new URLSearchParams();
    if (q) p.set(def.search, q);
    if (a) p.set('after', a);
    const s = p.toString();
    return `#/admin/${kind}${s ? `?${s}` : ''}`;
  };
  if (after) {
    pager.append(linkButton(href(pos > 0 ? trail[pos - 1] : ''), pos > 0 ? t('action.prev_page') : t('action.first_page'),
      'button secondary'));
  }
  if (page.next_after !== null && page.next_after !== undefined) {
    pager.append(linkButton(href(String(page.next_after)), t('action.next_page'), 'button secondary'));
  }
}

// ---- the form ----------------------------------------------------------------

export async function formPage(main, kind, id, env) {
  const def = RESOURCES[kind];
  const isNew = id === 'new';
  const writable = canWrite(kind, env.user);
  const what = t(def.singular);
  const listHref = `#/admin/${kind}`;
  if (isNew && !writable) {
    env.forbidden();
    return;
  }
  env.setTitle(isNew ? t('title.new', { what }) : t('title.edit', { what }));
  replace(main, pageHeader(isNew ? t('title.new', { what }) : t('title.edit', { what })),
    h('p', { class: 'muted' }, t('msg.loading')));

  let record = null;
  let lookups;
  try {
    [record, lookups] = await Promise.all([
      isNew ? null : api.get(`/${kind}/${encodeURIComponent(id)}`, undefined, { signal: env.signal }),
      loadLookups(refsOf(def.fields), env.user, env.signal),
    ]);
  } catch (e) {
    if (e.name === 'AbortError') return;
    replace(main, pageHeader(t('title.edit', { what })), noticeArea().el,
      h('div', { class: 'notice notice-error', role: 'alert' }, errorMessage(e)),
      h('p', null, linkButton(listHref, t('action.back_to', { what: t(def.title) }), 'button secondary')));
    return;
  }

  const notices = noticeArea();
  const fields = buildFields(def.fields, { lookups, display: DISPLAY, isNew });
  const meta = h('p', { class: 'meta' });
  const heading = h('h1');
  const saveBtn = h('button', { type: 'submit', class: 'button' }, isNew ? t('action.create') : t('action.save'));
  const cancel = linkButton(listHref, t(writable ? 'action.cancel' : 'action.close'), 'button secondary');
  const actions = h('div', { class: 'form-actions' }, writable ? saveBtn : null, cancel);
  const fieldset = h('fieldset', { class: 'form-body', disabled: !writable }, h('legend', { class: 'sr-only' }, what), fields.els);
  const form = h('form', { class: 'edit-form', novalidate: true, dataset: { resource: kind } }, fieldset, actions);

  function showRecord(r) {
    record = r;
    fields.set(r || undefined);
    replace(heading, isNew ? t('title.new', { what }) : t('title.edit_named', { what, name: displayName(kind, r) }));
    replace(meta, r ? t('fmt.record_meta', { id: r.id, version: r.version, updated: formatTime(r.updated_at) }) : '');
    meta.dataset.version = r ? String(r.version) : '';
  }

  if (!isNew && writable) {
    const del = h('button', { type: 'button', class: 'button danger' }, t('action.delete'));
    del.addEventListener('click', async () => {
      const name = displayName(kind, record);
      const ok = await confirmDialog({
        title: t('confirm.delete_title', { what }),
        message: t('confirm.delete_message', { name }),
        confirmLabel: t('action.delete'),
        danger: true,
      });
      if (!ok) return;
      try {
        await api.del(`/${kind}/${record.id}`);
        setFlash('success', t('msg.deleted', { name }));
        env.navigate(listHref);
      } catch (e) {
        notices.show('error', errorMessage(e));
      }
    });
    actions.append(h('span', { class: 'spacer' }), del);
  }

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    if (!writable) return;
    fields.clearErrors();
    notices.clear();
    const body = fields.get();
    if (!isNew) body.version = record.version;
    saveBtn.disabled = true;
    try {
      const saved = isNew ? await api.post(`/${kind}`, body) : await api.put(`/${kind}/${record.id}`, body);
      setFlash('success', t(isNew ? 'msg.created' : 'msg.saved', { name: displayName(kind, saved || body) }));
      env.navigate(listHref);
    } catch (e) {
      if (e.name === 'AbortError') return;
      if (e.status === 409 && e.field === 'version') {
        // Someone else saved in between: show their version.
        notices.show('error', t('error.conflict'));
        try {
          showRecord(await api.get(`/${kind}/${record.id}`));
        } catch (e2) {
          notices.show('error', `${t('error.conflict')} ${errorMessage(e2)}`);
        }
      } else if (e.field && fields.slot(e.field)) {
        const slot = fields.slot(e.field);
        slot.show(fieldMessage(e));
        notices.show('error', t('error.check_fields'));
        slot.focus();
      } else {
        notices.show('error', errorMessage(e));
      }
    } finally {
      saveBtn.disabled = false;
    }
  });

  showRecord(record);
  replace(main,
    h('header', { class: 'page-header' }, heading,
      h('div', { class: 'page-actions' }, linkButton(listHref, t('action.back_to', { what: t(def.title) }), 'button secondary'))),
    meta, writable ? null : h('p', { class: 'notice notice-info' }, t('msg.read_only')), notices.el, form);
  if (kind === 'queues' && record && (record.channels || []).includes('chat')) main.append(widgetSnippet(record));
  fieldset.querySelector('input, select, textarea')?.focus();
}

// ---- the chat widget's snippet (queues) ----------------------------------

// The tag a site owner pastes to show the chat button for this queue
// (web/widget.js). The queue name is escaped for an HTML attribute.
function widgetSnippet(queue) {
  const attr = String(queue.name).replace(/&/g, '&amp;').replace(/"/g, '&quot;')
    .replace(/</g, '&lt;').replace(/>/g, '&gt;');
  const code = `<script src="${location.origin}/widget.js" data-queue="${attr}" async></script>`;
  const id = 'widget-snippet';
  const box = h('textarea', { id, class: 'widget-snippet', readonly: true, rows: 3, spellcheck: 'false',
    'aria-describedby': `${id}-hint` });
  box.value = code;
  box.addEventListener('focus', () => box.select());
  const status = h('span', { class: 'hint', role: 'status' });
  const copy = h('button', { type: 'button', class: 'button secondary' }, t('widget.copy'));
  copy.addEventListener('click', async () => {
    let ok = false;
    try {
      await navigator.clipboard.writeText(code);
      ok = true;
    } catch {
      box.focus();
      box.select();
      try { ok = document.execCommand('copy'); } catch { ok = false; }
    }
    replace(status, ok ? t('widget.copied') : t('widget.copy_failed'));
  });
  const demo = h('a', { href: `/widget-demo.html?${new URLSearchParams({ queue: queue.name })}`, target: '_blank',
    rel: 'noopener' }, t('widget.try'));
  const section = h('section', { class: 'edit-form widget-embed', 'aria-labelledby': `${id}-title` },
    h('h2', { id: `${id}-title` }, t('widget.title')),
    h('div', { class: 'field' },
      h('label', { for: id }, t('widget.snippet')),
      h('p', { class: 'hint', id: `${id}-hint` }, t('widget.hint')),
      box),
    h('div', { class: 'form-actions' }, copy, status, h('span', { class: 'spacer' }), demo));
  section.style.marginTop = '1.5rem';
  return section;
}
