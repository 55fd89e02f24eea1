// api.js: the fetch wrapper for /api/v1. Same-origin cookie session
// (hl_session, HttpOnly), JSON both ways, X-CSRF-Token on every unsafe
// method, and problem+json answers turned into thrown ApiError objects.

const BASE = '/api/v1';
const CSRF_KEY = 'hotline.csrf';

export class ApiError extends Error {
  constructor(status, problem = {}, retryAfter = null) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.name = 'ApiError';
    this.status = status;               // 0: the network failed
    this.title = problem.title || '';
    this.detail = problem.detail || '';
    this.field = problem.field || null; // dotted path, e.g. "skills[1].level"
    this.retryAfter = retryAfter;       // seconds, from Retry-After (429)
  }
}

let csrf = null;
try { csrf = sessionStorage.getItem(CSRF_KEY); } catch { /* storage disabled */ }

export function setCsrf(token) {
  csrf = token || null;
  try {
    if (csrf) sessionStorage.setItem(CSRF_KEY, csrf);
    else sessionStorage.removeItem(CSRF_KEY);
  } catch { /* storage disabled */ }
}

let unauthorized = null;
// fn(error) runs when any call answers 401 (the session ended).
export function onUnauthorized(fn) {
  unauthorized = fn;
}

function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) {
    if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  }
  const s = q.toString();
  return s ? `?${s}` : '';
}

export async function request(method, path, body, opts = {}) {
  const headers = { accept: 'application/json, application/problem+json' };
  const init = { method, headers, credentials: 'same-origin', cache: 'no-store', signal: opts.signal };
  if (opts.raw) {
    // A raw body (a file upload) with the caller's own headers.
    Object.assign(headers, opts.headers || {});
    init.body = body;
  } else if (body !== undefined) {
    headers['content-type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  if (method !== 'GET' && method !== 'HEAD' && csrf) headers['x-csrf-token'] = csrf;
  let res;
  try {
    res = await fetch(BASE + path, init);
  } catch (e) {
    if (e && e.name === 'AbortError') throw e;
    throw new ApiError(0, { title: 'network' });
  }
  if (res.status === 204) return null;
  const text = await res.text();
  let data = null;
  if (text) {
    try { data = JSON.parse(text); } catch { data = null; }
  }
  if (!res.ok) {
    const ra = res.headers.get('retry-after');
    const err = new ApiError(res.status, data && typeof data === 'object' ? data : { title: res.statusText },
      ra !== null && ra !== '' && !Number.isNaN(Number(ra)) ? Number(ra) : null);
    if (res.status === 401 && !opts.noAuthHook && unauthorized) unauthorized(err);
    throw err;
  }
  return data;
}

export const api = {
  get: (path, params, opts) => request('GET', path + query(params), undefined, opts),
  post: (path, body, opts) => request('POST', path, body, opts),
  put: (path, body, opts) => request('PUT', path, body, opts),
  del: (path, opts) => request('DELETE', path, undefined, opts),

  // One page of a resource list: {items, next_after}.
  list: (kind, params, opts) => request('GET', `/${kind}${query(params)}`, undefined, opts),

  // Every item of a (small) resource, following next_after up to `max` items.
  async all(kind, opts = {}, max = 2000) {
    const items = [];
    let after;
    for (;;) {
      const page = await api.list(kind, { limit: 200, after }, opts);
      items.push(...(page.items || []));
      if (page.next_after === null || page.next_after === undefined || items.length >= max) break;
      after = page.next_after;
    }
    return items;
  },

  // POST a file as the raw body: headers carry its Content-Type (and e.g. X-Filename).
  upload: (path, blob, headers, opts) => request('POST', path, blob, { ...opts, raw: true, headers }),

  me: (opts) => request('GET', '/auth/me', undefined, { ...opts, noAuthHook: true }),
  login: (username, password) =>
    request('POST', '/auth/login', { username, password }, { noAuthHook: true }),
  // An empty JSON object keeps the request an ordinary JSON POST.
  logout: () => request('POST', '/auth/logout', {}, { noAuthHook: true }),
};
