// i18n.test.mjs: static checks of the UI translation tables (web/i18n/*.js).
// No server needed: the tables are plain ES modules and import in Node.
//   - every table has exactly the keys of en.js
//   - each translation uses exactly the {placeholders} of its English string
//   - no empty strings, no markup ('<' or '>')
//   - web/i18n.js registers every table (AVAILABLE) and switches to it
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import vm from 'node:vm';

import en from '../../web/i18n/en.js';
import sv from '../../web/i18n/sv.js';
import de from '../../web/i18n/de.js';
import hu from '../../web/i18n/hu.js';
import lt from '../../web/i18n/lt.js';

const TABLES = { en, sv, de, hu, lt };
const TRANSLATIONS = { sv, de, hu, lt };

function placeholders(s) {
  return [...new Set([...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]))].sort();
}

test('every table is a plain object of strings', () => {
  for (const [code, table] of Object.entries(TABLES)) {
    assert.equal(typeof table, 'object', code);
    assert.ok(table !== null, code);
    for (const [key, value] of Object.entries(table)) {
      assert.equal(typeof value, 'string', `${code}: ${key} is not a string`);
    }
  }
});

test('all tables have the same keys as en.js', () => {
  const ref = Object.keys(en).sort();
  assert.ok(ref.length > 100, 'en.js looks too small');
  for (const [code, table] of Object.entries(TRANSLATIONS)) {
    const keys = Object.keys(table).sort();
    const missing = ref.filter((k) => !(k in table));
    const extra = keys.filter((k) => !(k in en));
    assert.deepEqual({ missing, extra }, { missing: [], extra: [] }, `${code}.js keys differ from en.js`);
    assert.deepEqual(keys, ref, code);
  }
});

test('placeholders match English per key', () => {
  const problems = [];
  for (const [code, table] of Object.entries(TRANSLATIONS)) {
    for (const [key, english] of Object.entries(en)) {
      if (typeof table[key] !== 'string') continue; // reported by the key test
      const want = placeholders(english);
      const got = placeholders(table[key]);
      if (want.join() !== got.join()) problems.push(`${code} ${key}: want {${want}} got {${got}}`);
    }
  }
  assert.deepEqual(problems, []);
});

test('placeholders are well formed (no stray or mistyped braces)', () => {
  const problems = [];
  for (const [code, table] of Object.entries(TABLES)) {
    for (const [key, s] of Object.entries(table)) {
      const stripped = s.replace(/\{\w+\}/g, '');
      if (/[{}]/.test(stripped)) problems.push(`${code} ${key}: ${JSON.stringify(s)}`);
    }
  }
  assert.deepEqual(problems, []);
});

test('no empty strings', () => {
  const problems = [];
  for (const [code, table] of Object.entries(TABLES)) {
    for (const [key, s] of Object.entries(table)) {
      if (typeof s !== 'string' || s.trim() === '') problems.push(`${code} ${key}`);
    }
  }
  assert.deepEqual(problems, []);
});

test('no markup: no string contains < or >', () => {
  const problems = [];
  for (const [code, table] of Object.entries(TABLES)) {
    for (const [key, s] of Object.entries(table)) {
      if (/[<>]/.test(s)) problems.push(`${code} ${key}: ${JSON.stringify(s)}`);
    }
  }
  assert.deepEqual(problems, []);
});

test('translations are not just English copies', () => {
  // A handful of keys may legitimately equal English (OK, Chat, Version ...);
  // most must differ, or the table was not really translated.
  for (const [code, table] of Object.entries(TRANSLATIONS)) {
    const keys = Object.keys(en);
    const same = keys.filter((k) => table[k] === en[k]);
    assert.ok(same.length < keys.length * 0.15, `${code}: ${same.length} strings identical to English: ${same.join(', ')}`);
  }
});

test('i18n.js registers every table and setLanguage() switches to it', async () => {
  const src = readFileSync(fileURLToPath(new URL('../../web/i18n.js', import.meta.url)), 'utf8');
  const m = src.match(/const AVAILABLE = new Set\(\[([^\]]*)\]\)/);
  assert.ok(m, 'AVAILABLE not found in web/i18n.js');
  const available = [...m[1].matchAll(/'(\w+)'/g)].map((x) => x[1]).sort();
  assert.deepEqual(available, Object.keys(TABLES).sort());

  // i18n.js touches `document` and `navigator` only inside functions; give it
  // minimal stand-ins so the real module can be exercised.
  const saved = { document: globalThis.document, navigator: globalThis.navigator };
  globalThis.document = { documentElement: { lang: '' } };
  Object.defineProperty(globalThis, 'navigator', {
    value: { languages: ['sv-SE', 'en-US'], language: 'sv-SE' }, configurable: true, writable: true,
  });
  try {
    const i18n = await import('../../web/i18n.js');
    assert.deepEqual([...i18n.LANGUAGES].sort(), Object.keys(TABLES).sort());
    assert.equal(i18n.browserLanguage(), 'sv');
    for (const [code, table] of Object.entries(TABLES)) {
      assert.equal(await i18n.setLanguage(code), code);
      assert.equal(i18n.language(), code);
      assert.equal(globalThis.document.documentElement.lang, code);
      assert.equal(i18n.t('login.title'), table['login.title']);
      assert.equal(i18n.t('msg.saved', { name: 'X' }), table['msg.saved'].replace('{name}', 'X'));
    }
    assert.equal(await i18n.setLanguage('de-AT'), 'de');
    assert.equal(await i18n.setLanguage('xx'), 'en');
    assert.equal(i18n.t('no.such.key'), 'no.such.key');
  } finally {
    globalThis.document = saved.document;
    Object.defineProperty(globalThis, 'navigator', { value: saved.navigator, configurable: true, writable: true });
  }
});

test('the chat widget (web/widget.js): five tables, same keys and placeholders, ASCII source', () => {
  // Outside a browser the widget only hands out its tables.
  const src = readFileSync(fileURLToPath(new URL('../../web/widget.js', import.meta.url)), 'utf8');
  assert.ok(!/[^\x00-\x7f]/.test(src), 'widget.js must be ASCII (write other letters as \\uXXXX)');
  const sandbox = {};
  vm.runInNewContext(src, sandbox);
  const W = sandbox.HotlineWidgetStrings;
  assert.deepEqual(Object.keys(W).sort(), Object.keys(TABLES).sort());
  const ref = Object.keys(W.en).sort();
  assert.ok(ref.length > 30, 'the widget\'s English table looks too small');
  const problems = [];
  for (const [code, table] of Object.entries(W)) {
    const keys = Object.keys(table).sort();
    if (keys.join() !== ref.join()) {
      problems.push(`${code}: missing ${ref.filter((k) => !(k in table))} extra ${keys.filter((k) => !(k in W.en))}`);
    }
    for (const [key, s] of Object.entries(table)) {
      if (typeof s !== 'string' || s.trim() === '') { problems.push(`${code} ${key}: empty`); continue; }
      if (/[<>]/.test(s)) problems.push(`${code} ${key}: markup`);
      if (/[{}]/.test(s.replace(/\{\w+\}/g, ''))) problems.push(`${code} ${key}: stray brace`);
      if (key in W.en && placeholders(s).join() !== placeholders(W.en[key]).join()) {
        problems.push(`${code} ${key}: want {${placeholders(W.en[key])}} got {${placeholders(s)}}`);
      }
    }
    if (code !== 'en') {
      const same = ref.filter((k) => table[k] === W.en[k]);
      if (same.length >= ref.length * 0.15) problems.push(`${code}: ${same.length} strings identical to English`);
    }
  }
  assert.deepEqual(problems, []);
});
