// The live event stream: authentication, topic filters, and a slow consumer
// that is cut off with close code 4008 while a fast one gets every event.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { startServer, login, client } from '../lib/server.mjs';

let srv, admin, api;
before(async () => {
  srv = await startServer();
  admin = await login(srv.base);
  api = client(srv.base, admin.token);
});
after(async () => { await srv.stop(); srv.cleanup(); });

const wsUrl = (q = '') => `ws://127.0.0.1:${srv.port}/api/v1/events${q}`;

function open(url, opts = {}) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, opts);
    const msgs = [];
    ws.on('message', (d) => msgs.push(JSON.parse(d.toString())));
    ws.once('open', () => resolve({ ws, msgs }));
    ws.once('error', reject);
    ws.once('unexpected-response', (req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
  });
}

const waitFor = async (fn, ms = 10000) => {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const v = await fn();
    if (v) return v;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error('timed out waiting');
};

test('unauthenticated connections are refused', async () => {
  const ws = new WebSocket(wsUrl());
  const code = await new Promise((resolve) => {
    ws.on('close', (c) => resolve(c));
    ws.on('error', () => {});
  });
  assert.notEqual(code, 1000);
  const bad = new WebSocket(wsUrl('?token=nope'));
  const code2 = await new Promise((resolve) => { bad.on('close', (c) => resolve(c)); bad.on('error', () => {}); });
  assert.notEqual(code2, 1000);
});

test('token and cookie authenticate; subscriptions filter by topic', async () => {
  const a = await open(wsUrl(`?token=${admin.token}`));
  const b = await open(wsUrl(), { headers: { cookie: admin.cookie } });
  await waitFor(() => a.msgs.length && b.msgs.length);
  assert.equal(a.msgs[0].type, 'hello');
  assert.equal(a.msgs[0].user.username, 'admin');
  a.ws.send(JSON.stringify({ type: 'subscribe', topics: ['skill.*'] }));
  b.ws.send(JSON.stringify({ type: 'subscribe', topics: ['queue.created'] }));
  await waitFor(() => a.msgs.some((m) => m.type === 'subscribed') && b.msgs.some((m) => m.type === 'subscribed'));
  const s = await api.post('/api/v1/skills', { name: 'WS skill' });
  const q = await api.post('/api/v1/queues', { name: 'WS queue' });
  await waitFor(() => a.msgs.some((m) => m.type === 'event') && b.msgs.some((m) => m.type === 'event'));
  const aev = a.msgs.filter((m) => m.type === 'event').map((m) => m.event);
  const bev = b.msgs.filter((m) => m.type === 'event').map((m) => m.event);
  assert.deepEqual(aev.map((e) => e.type), ['skill.created']);
  assert.equal(aev[0].payload.id, s.json.id);
  assert.equal(aev[0].actor, admin.user.id);
  assert.deepEqual(bev.map((e) => e.type), ['queue.created']);
  assert.equal(bev[0].queue, q.json.id);
  a.ws.send('{not json');
  await waitFor(() => a.msgs.some((m) => m.type === 'error'));
  a.ws.close();
  b.ws.close();
});

test('a slow consumer is closed with 4008 and does not hold up a fast one', async () => {
  const fast = await open(wsUrl(`?token=${admin.token}`));
  const slow = await open(wsUrl(`?token=${admin.token}`));
  fast.ws.send(JSON.stringify({ type: 'subscribe', topics: ['customer.created'] }));
  slow.ws.send(JSON.stringify({ type: 'subscribe', topics: ['*'] }));
  await waitFor(() => fast.msgs.some((m) => m.type === 'subscribed') && slow.msgs.some((m) => m.type === 'subscribed'));
  let slowClose = null;
  slow.ws.on('close', (code) => { slowClose = code; });
  slow.ws._socket.pause(); // stop reading: the kernel buffers fill, then the server's queue

  const notes = "n".repeat(10000);
  const N = 1000;
  const ids = [];
  const metrics = client(srv.base);
  for (let i = 0; i < N; i += 20) {
    const batch = [];
    for (let k = i; k < Math.min(N, i + 20); k++) batch.push(api.post('/api/v1/customers', { name: `Slow ${k}`, notes }));
    for (const r of await Promise.all(batch)) { assert.equal(r.status, 201); ids.push(r.json.id); }
  }
  await waitFor(async () => /hotline_ws_slow_consumers_closed_total [1-9]/.test((await metrics.get('/metrics')).text), 15000);
  slow.ws._socket.resume();
  await waitFor(() => slowClose !== null, 10000);
  assert.equal(slowClose, 4008);
  await waitFor(() => fast.msgs.filter((m) => m.type === 'event').length >= N, 20000);
  const got = fast.msgs.filter((m) => m.type === 'event').map((m) => m.event.payload.id);
  assert.deepEqual(got.sort((x, y) => x - y), ids.sort((x, y) => x - y));
  fast.ws.close();
});
