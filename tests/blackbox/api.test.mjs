// Black-box tests of the REST API: the real build/hotline on 127.0.0.1,
// every response checked against the server's OpenAPI document.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, login, client, ADMIN_PASSWORD } from '../lib/server.mjs';
import { loadContract } from '../lib/openapi.mjs';
import { checkedClient } from '../lib/checked.mjs';

let srv, contract, admin, api;

before(async () => {
  srv = await startServer();
  contract = await loadContract(srv.base);
  admin = await login(srv.base);
  api = checkedClient(srv.base, admin.token, contract);
});
after(async () => { await srv.stop(); srv.cleanup(); });

const problem = (r, status, re) => {
  assert.equal(r.status, status, r.text);
  assert.match(r.headers.get('content-type'), /^application\/problem\+json/);
  assert.equal(r.json.status, status);
  if (re) assert.match(r.json.detail, re);
};

test('healthz and metrics answer without auth', async () => {
  const h = await api.get('/healthz');
  assert.equal(h.status, 200);
  assert.deepEqual(h.json, { status: 'ok', store: 'sqlite' });
  const m = await client(srv.base).get('/metrics');
  assert.equal(m.status, 200);
  assert.match(m.text, /^# HELP hotline_http_requests_total/m);
  assert.match(m.text, /hotline_store_commit_duration_seconds_count \d+/);
  assert.match(m.text, /hotline_ws_connections \d+/);
});

test('the API needs authentication', async () => {
  const anon = client(srv.base);
  problem(await anon.get('/api/v1/skills'), 401);
  problem(await anon.get('/api/v1/skills', { authorization: 'Bearer not-a-token' }), 401);
  const bad = await anon.post('/api/v1/auth/login', { username: 'admin', password: 'wrong-password' });
  problem(bad, 401, /wrong username or password/);
  contract.check('POST', '/api/v1/auth/login', bad.status, bad.headers.get('content-type'), bad.text);
});

test('login returns a token, a CSRF token and an HttpOnly SameSite=Strict cookie', async () => {
  const r = await fetch(`${srv.base}/api/v1/auth/login`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'admin', password: ADMIN_PASSWORD }),
  });
  const text = await r.text();
  contract.check('POST', '/api/v1/auth/login', r.status, r.headers.get('content-type'), text);
  const cookie = r.headers.get('set-cookie');
  assert.match(cookie, /^hl_session=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Strict/);
  const body = JSON.parse(text);
  assert.equal(body.user.username, 'admin');
  assert.equal(body.user.role, 'admin');
  assert.equal(body.user.password, undefined);
});

test('skills: create, read, list, replace with version, conflict, delete', async () => {
  const c = await api.post('/api/v1/skills', { name: 'Billing', description: 'invoices' });
  assert.equal(c.status, 201, c.text);
  assert.equal(c.json.version, 1);
  const id = c.json.id;
  const g = await api.get(`/api/v1/skills/${id}`);
  assert.equal(g.json.name, 'Billing');
  const u = await api.put(`/api/v1/skills/${id}`, { name: 'Billing EU', version: 1 });
  assert.equal(u.status, 200, u.text);
  assert.equal(u.json.version, 2);
  assert.equal(u.json.description, '');
  problem(await api.put(`/api/v1/skills/${id}`, { name: 'Lost update', version: 1 }), 409, /version conflict/);
  problem(await api.put(`/api/v1/skills/${id}`, { name: 'No version' }), 422, /version/);
  problem(await api.post('/api/v1/skills', { name: 'Billing EU' }), 409, /exists already/);
  const l = await api.get('/api/v1/skills');
  assert.ok(l.json.items.some((s) => s.id === id && s.name === 'Billing EU'));
  assert.equal((await api.del(`/api/v1/skills/${id}`)).status, 204);
  problem(await api.get(`/api/v1/skills/${id}`), 404);
  problem(await api.del(`/api/v1/skills/${id}`), 404);
  problem(await api.get('/api/v1/skills/abc'), 404);
});

test('lists are paginated by id', async () => {
  const ids = [];
  for (let i = 0; i < 7; i++) ids.push((await api.post('/api/v1/teams', { name: `Team ${i}` })).json.id);
  const seen = [];
  let after = 0;
  for (let page = 0; page < 10; page++) {
    const r = await api.get(`/api/v1/teams?limit=3&after=${after}`);
    assert.equal(r.status, 200);
    assert.ok(r.json.items.length <= 3);
    seen.push(...r.json.items.map((t) => t.id));
    if (r.json.next_after === null) break;
    after = r.json.next_after;
  }
  assert.deepEqual(seen.filter((x) => ids.includes(x)), ids);
  problem(await api.get('/api/v1/teams?limit=0'), 422, /limit/);
  problem(await api.get('/api/v1/teams?limit=500'), 422, /limit/);
});

test('agents and queues with nested fields and references', async () => {
  const sk = (await api.post('/api/v1/skills', { name: 'Swedish' })).json;
  const q = await api.post('/api/v1/queues', {
    name: 'Support SE', channels: ['voice', 'chat'], strategy: 'best_skill',
    required_skills: [{ skill_id: sk.id, min_level: 2 }],
    service_level: { percent: 80, seconds: 20 },
    business_hours: { timezone: 'Europe/Stockholm', weekly: [{ day: 'mon', open: '08:00', close: '17:00' }],
      holidays: [{ date: '2026-12-24', name: 'Julafton' }] },
  });
  assert.equal(q.status, 201, q.text);
  assert.equal(q.json.offer_timeout_seconds, 15);
  const a = await api.post('/api/v1/agents', {
    name: 'Astrid', skills: [{ skill_id: sk.id, level: 4 }], languages: ['sv', 'en'],
    capacity: { chat: 4 }, queues: [q.json.id],
  });
  assert.equal(a.status, 201, a.text);
  assert.deepEqual(a.json.capacity, { voice: 1, chat: 4, email: 5, messaging: 5 });
  problem(await api.post('/api/v1/agents', { name: 'Bo', skills: [{ skill_id: 999999, level: 3 }] }), 422,
    /skills\[0\]\.skill_id: there is no skills with id 999999/);
  const bad = await api.post('/api/v1/agents', { name: 'Bo', capacity: { chat: 99 } });
  problem(bad, 422);
  assert.equal(bad.json.field, 'capacity.chat');
  const bad2 = await api.post('/api/v1/queues', { name: 'Q2', business_hours: { weekly: [{ day: 'funday', open: '08:00', close: '17:00' }] } });
  problem(bad2, 422);
  assert.equal(bad2.json.field, 'business_hours.weekly[0].day');
});

test('customers: identities, search by phone and email, duplicates refused', async () => {
  const c = await api.post('/api/v1/customers', { name: 'Eva Ek', identities: [
    { type: 'phone', value: '+46701234567' }, { type: 'email', value: 'eva@example.se' }] });
  assert.equal(c.status, 201, c.text);
  const byPhone = await api.get('/api/v1/customers?phone=%2B46701234567');
  assert.deepEqual(byPhone.json.items.map((x) => x.id), [c.json.id]);
  const byEmail = await api.get('/api/v1/customers?email=eva@example.se');
  assert.deepEqual(byEmail.json.items.map((x) => x.id), [c.json.id]);
  const byName = await api.get('/api/v1/customers?q=eva');
  assert.ok(byName.json.items.some((x) => x.id === c.json.id));
  problem(await api.post('/api/v1/customers', { name: 'Other', identities: [{ type: 'phone', value: '+46701234567' }] }),
    409, /already belongs to another customer/);
  const none = await api.get('/api/v1/customers?phone=%2B1000');
  assert.deepEqual(none.json.items, []);
});

test('quotes, SQL metacharacters, HTML and non-ASCII are stored and returned verbatim', async () => {
  const names = [`O'Brien "the" <b>boss</b>`, `x'); DROP TABLE customers; --`, '<img src=x onerror=alert(1)>',
    'Åsa Öberg – ünïcödé 👋', 'a\u0000b'.replace('\u0000', '\\u0000')];
  for (const name of names) {
    const r = await api.post('/api/v1/customers', { name, notes: name });
    assert.equal(r.status, 201, r.text);
    const g = await api.get(`/api/v1/customers/${r.json.id}`);
    assert.equal(g.json.name, name);
    assert.equal(g.json.notes, name);
  }
  problem(await api.post('/api/v1/customers', { name: 'nul\u0000byte' }), 422, /NUL/);
});

test('bad input: 413, 400 with line and column, invalid UTF-8, 415, 422 unknown/missing/type', async () => {
  const raw = client(srv.base, admin.token);
  const big = JSON.stringify({ name: 'x', notes: 'a'.repeat(1024 * 1024 + 10) });
  problem(await raw.post('/api/v1/customers', big), 413, /1 MiB/);
  const m = await raw.post('/api/v1/skills', '{"name": "a",\n  "description": }');
  problem(m, 400, /line 2, column \d+/);
  problem(await raw.post('/api/v1/skills', Buffer.from([0x7b, 0x22, 0x6e, 0x61, 0x6d, 0x65, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d])), 400, /UTF-8/);
  problem(await raw.post('/api/v1/skills', 'name=x', { 'content-type': 'application/x-www-form-urlencoded' }), 415);
  const unknown = await raw.post('/api/v1/skills', { name: 'a', colour: 'red' });
  problem(unknown, 422, /colour: unknown field/);
  assert.equal(unknown.json.field, 'colour');
  problem(await raw.post('/api/v1/skills', { description: 'x' }), 422, /name: required/);
  problem(await raw.post('/api/v1/skills', { name: 42 }), 422, /name: expected a string/);
  problem(await raw.post('/api/v1/skills', '[]'), 422);
  problem(await raw.post('/api/v1/skills', '{"name":"a","name":"b"}'), 400, /duplicate/);
  problem(await raw.raw('PATCH', '/api/v1/skills'), 405);
  problem(await raw.get('/api/v1/nothing'), 404);
  // The server is still fine.
  assert.equal((await raw.get('/healthz')).status, 200);
});

test('roles: an agent reads but may not change configuration; users are admin-only', async () => {
  const u = await api.post('/api/v1/users', { username: 'agent.anna', role: 'agent', password: 'anna-password-1' });
  assert.equal(u.status, 201, u.text);
  assert.equal(u.json.password, undefined);
  const s = await login(srv.base, 'agent.anna', 'anna-password-1');
  const ag = checkedClient(srv.base, s.token, contract);
  assert.equal((await ag.get('/api/v1/skills')).status, 200);
  problem(await ag.post('/api/v1/skills', { name: 'Nope' }), 403);
  problem(await ag.get('/api/v1/users'), 403);
  problem(await ag.get('/api/v1/events'), 403);
  assert.equal((await ag.post('/api/v1/customers', { name: 'Walk-in' })).status, 201);
  const me = await ag.get('/api/v1/auth/me');
  assert.equal(me.json.user.username, 'agent.anna');
  // Changing the user's password ends their browser sessions.
  const upd = await api.put(`/api/v1/users/${u.json.id}`, { username: 'agent.anna', role: 'agent', password: 'new-password-22', version: 1 });
  assert.equal(upd.status, 200, upd.text);
  problem(await ag.get('/api/v1/skills'), 401);
  await login(srv.base, 'agent.anna', 'new-password-22');
});

test('cookie sessions need the CSRF token for writes; logout ends the session', async () => {
  const s = await login(srv.base);
  const h = { cookie: s.cookie };
  const c = checkedClient(srv.base, null, contract, h);
  assert.equal((await c.get('/api/v1/skills')).status, 200);
  problem(await c.post('/api/v1/skills', { name: 'CSRF-less' }), 403, /CSRF/);
  problem(await c.post('/api/v1/skills', { name: 'CSRF-wrong' }, { 'x-csrf-token': 'nope' }), 403, /CSRF/);
  const ok = await c.post('/api/v1/skills', { name: 'With CSRF' }, { 'x-csrf-token': s.csrf });
  assert.equal(ok.status, 201, ok.text);
  const me = await c.get('/api/v1/auth/me');
  assert.equal(me.json.csrf_token, s.csrf);
  const out = await c.post('/api/v1/auth/logout', undefined, { 'x-csrf-token': s.csrf });
  assert.equal(out.status, 204);
  assert.match(out.headers.get('set-cookie'), /Max-Age=0/);
  problem(await c.get('/api/v1/skills'), 401);
});

test('a POST with an empty body keeps the connection usable; one without Content-Length gets 411', async () => {
  const s = await login(srv.base);
  const c = client(srv.base, null);
  // fetch sends Content-Length: 0 for a body-less POST; the next request on
  // the same keep-alive connection must still be answered.
  const out = await c.post('/api/v1/auth/logout', undefined, { cookie: s.cookie, 'x-csrf-token': s.csrf });
  assert.equal(out.status, 204);
  for (let i = 0; i < 5; i++) assert.equal((await c.get('/healthz')).status, 200);
  const net = await import('node:net');
  const reply = await new Promise((resolve, reject) => {
    const sock = net.connect(srv.port, '127.0.0.1', () => {
      sock.write(`POST /api/v1/auth/logout HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${admin.token}\r\n\r\n`);
    });
    let data = '';
    sock.on('data', (d) => { data += d; });
    sock.on('end', () => resolve(data));
    sock.on('error', reject);
    setTimeout(() => { sock.destroy(); resolve(data); }, 5000);
  });
  assert.match(reply, /^HTTP\/1\.1 411/);
  // A chunked body (which lws 4.1 would never complete) is refused the same way.
  const chunked = await new Promise((resolve, reject) => {
    const sock = net.connect(srv.port, '127.0.0.1', () => {
      const body = '{"name":"chunked"}';
      sock.write(`POST /api/v1/skills HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${admin.token}\r\n` +
        `Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`);
    });
    let data = '';
    sock.on('data', (d) => { data += d; });
    sock.on('end', () => resolve(data));
    sock.on('error', reject);
    setTimeout(() => { sock.destroy(); resolve(data); }, 5000);
  });
  assert.match(chunked, /^HTTP\/1\.1 411/);
  assert.match(chunked, /send Content-Length/);
  assert.equal((await c.get('/healthz')).status, 200);
});

test('API tokens: created once, usable as Bearer, listed, revoked', async () => {
  const t = await api.post('/api/v1/tokens', { name: 'crm sync' });
  assert.equal(t.status, 201, t.text);
  assert.match(t.json.token, /^[A-Za-z0-9_-]{43}$/);
  const viaToken = checkedClient(srv.base, t.json.token, contract);
  assert.equal((await viaToken.get('/api/v1/queues')).status, 200);
  const list = await api.get('/api/v1/tokens');
  const listed = list.json.items.find((x) => x.id === t.json.id);
  assert.ok(listed);
  assert.equal(listed.token, undefined);
  assert.equal((await api.del(`/api/v1/tokens/${t.json.id}`)).status, 204);
  problem(await viaToken.get('/api/v1/queues'), 401);
});

test('every change is an event with who and when (audit trail)', async () => {
  const before = (await api.get('/api/v1/events?type=skill.&limit=200')).json.items.length;
  const s = await api.post('/api/v1/skills', { name: 'Audited' });
  await api.put(`/api/v1/skills/${s.json.id}`, { name: 'Audited 2', version: 1 });
  await api.del(`/api/v1/skills/${s.json.id}`);
  const evs = (await api.get('/api/v1/events?type=skill.&limit=200')).json.items;
  assert.equal(evs.length, before + 3);
  const mine = evs.slice(-3);
  assert.deepEqual(mine.map((e) => e.type), ['skill.created', 'skill.updated', 'skill.deleted']);
  for (const e of mine) {
    assert.equal(e.actor, admin.user.id);
    assert.ok(Date.now() - Date.parse(e.ts) < 60000);
  }
  assert.equal(mine[1].payload.name, 'Audited 2');
});

test('staffing calculator: Erlang C matches the published Mitan example; Erlang A staffs for a goal', async () => {
  // Mitan Ltd, "The Erlang-C Formula": 360 calls per 30 min, 240 s AHT,
  // 55 agents, 15 s: P(wait) 0.2387, ASA 8.184 s, service level 0.8459.
  const c = await api.post('/api/v1/wfm/erlang', { model: 'c', calls: 360, period_seconds: 1800, aht_seconds: 240, sl_seconds: 15, agents: 55 });
  assert.equal(c.status, 200, c.text);
  assert.equal(c.json.result.traffic_erlangs, 48);
  assert.ok(Math.abs(c.json.result.p_wait - 0.2387) < 5e-5);
  assert.ok(Math.abs(c.json.result.mean_wait_seconds - 8.184) < 5e-4);
  assert.ok(Math.abs(c.json.result.service_level - 0.8459) < 5e-5);
  assert.ok(c.json.curve.length >= 10);
  const a = await api.post('/api/v1/wfm/erlang', { model: 'a', calls: 360, aht_seconds: 240, patience_seconds: 120, target_sl: 0.8, shrinkage: 0.3 });
  assert.equal(a.status, 200, a.text);
  const n = a.json.result.agents;
  assert.ok(a.json.result.sl_answered >= 0.8);
  const fewer = a.json.curve.find((p) => p.agents === n - 1);
  if (fewer) assert.ok(fewer.service_level < 0.8, 'one agent fewer misses the goal');
  assert.equal(a.json.scheduled_agents, Math.ceil(n / 0.7 - 1e-9));
  const bad = await api.post('/api/v1/wfm/erlang', { model: 'a', calls: 360, aht_seconds: 240 });
  assert.equal(bad.status, 422);
  assert.equal(bad.json.field, 'patience_seconds');
  assert.equal((await api.post('/api/v1/wfm/erlang', { model: 'x', calls: 1, aht_seconds: 1 })).json.field, 'model');
  assert.equal((await api.post('/api/v1/wfm/erlang', { model: 'c', calls: 1, aht_seconds: 1, agents: 2, extra: 1 })).json.field, 'extra');
});

test('what-if simulation through the API: the documented example runs, bad scenarios name the field', async () => {
  const { readFileSync } = await import('node:fs');
  const example = JSON.parse(readFileSync(new URL('../unit/wfm/scenarios/example.json', import.meta.url)));
  const r = await api.post('/api/v1/wfm/simulate', example);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.replications, example.replications);
  assert.equal(r.json.queues.length, example.queues.length);
  const day = r.json.queues[0].day;
  assert.ok(day.service_level.mean >= 0 && day.service_level.mean <= 1);
  assert.ok(day.offered.mean > 0);
  const bad = await api.post('/api/v1/wfm/simulate', { ...example, queues: [{ ...example.queues[0], aht_seconds: -1 }] });
  assert.equal(bad.status, 422, bad.text);
  assert.equal(bad.json.field, 'queues[0].aht_seconds');
  const huge = await api.post('/api/v1/wfm/simulate', { ...example, replications: 100,
    queues: example.queues.map((q) => ({ ...q, calls: 100000 })) });
  assert.equal(huge.status, 422, huge.text);
  assert.match(huge.json.detail, /hotline simulate/);
  const raw = client(srv.base, admin.token);
  assert.equal((await raw.post('/api/v1/wfm/simulate', '{"intervals": ')).status, 400);
});

test('the OpenAPI document lists every endpoint the tests use', async () => {
  const r = await client(srv.base).get('/api/v1/openapi.json');
  assert.equal(r.status, 200);
  for (const p of ['/api/v1/users', '/api/v1/agents/{id}', '/api/v1/queues', '/api/v1/customers',
    '/api/v1/auth/login', '/api/v1/events', '/api/v1/tokens/{id}', '/healthz', '/metrics']) {
    assert.ok(r.json.paths[p], p);
  }
});
