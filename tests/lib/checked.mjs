// A client whose every response is checked against the OpenAPI document.
import { client } from './server.mjs';

export function checkedClient(base, token, contract, extraHeaders = {}) {
  const c = client(base, token);
  const wrap = (method) => async (path, body, headers) => {
    const r = await c.raw(method, path, body, { ...extraHeaders, ...(headers || {}) });
    contract.check(method, path, r.status, r.headers.get('content-type'), r.text);
    return r;
  };
  return { get: (p, h) => wrap('GET')(p, undefined, h), post: wrap('POST'), put: wrap('PUT'),
    del: (p, h) => wrap('DELETE')(p, undefined, h), raw: c.raw };
}
