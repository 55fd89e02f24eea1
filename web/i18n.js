// i18n.js: t('key', {param}) looks the key up in the current language's
// table, then in English, then shows the key itself. Tables live in
// web/i18n/<code>.js as `export default { key: 'text with {param}' }`.
// Add a language by writing its table and listing it in AVAILABLE.
import en from './i18n/en.js';

// Languages the product speaks (the server's `language` enum) ...
export const LANGUAGES = ['en', 'sv', 'de', 'hu', 'lt'];
// ... and those that have a translation table today.
const AVAILABLE = new Set(['en', 'sv', 'de', 'hu', 'lt']);

let current = 'en';
let table = en;

export function t(key, params) {
  let s = table[key];
  if (s === undefined) s = en[key];
  if (s === undefined) return key;
  if (params) s = s.replace(/\{(\w+)\}/g, (m, p) => (p in params ? String(params[p]) : m));
  return s;
}

export function has(key) {
  return table[key] !== undefined || en[key] !== undefined;
}

export function language() {
  return current;
}

// The first of the browser's preferred languages that we support.
export function browserLanguage() {
  const prefs = navigator.languages && navigator.languages.length ? navigator.languages : [navigator.language || 'en'];
  for (const p of prefs) {
    const code = String(p).toLowerCase().split('-')[0];
    if (AVAILABLE.has(code)) return code;
  }
  return 'en';
}

// Switch to `code` (falls back to English when there is no table for it).
export async function setLanguage(code) {
  code = String(code || '').toLowerCase().split('-')[0];
  if (!AVAILABLE.has(code)) code = 'en';
  if (code === 'en') {
    table = en;
  } else {
    try {
      table = (await import(`./i18n/${code}.js`)).default;
    } catch {
      table = en;
      code = 'en';
    }
  }
  current = code;
  document.documentElement.lang = code;
  return code;
}
