// Nothing acknowledged is lost: 1,000 creates from 8 concurrent clients,
// kill -9 in the middle, restart on the same data, and every record whose
// create answered 2xx is there with its exact content.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, login, client } from '../lib/server.mjs';

test('kill -9 mid-stream loses no acknowledged record', async () => {
  const srv = await startServer();
  const { token } = await login(srv.base);
  const api = client(srv.base, token);
  const acked = new Map(); // id -> name
  let attempted = 0, failed = 0, killed = false;
  const TOTAL = 1000, CLIENTS = 8, KILL_AFTER = 450;

  const worker = async (w) => {
    for (;;) {
      const n = attempted++;
      if (n >= TOTAL) return;
      const name = `durable ${w}-${n} «${'x'.repeat(n % 50)}»`;
      try {
        const r = await api.post('/api/v1/customers', { name, identities: [{ type: 'email', value: `c${n}@example.com` }] });
        if (r.status === 201) acked.set(r.json.id, name);
        else failed++;
      } catch {
        failed++;
      }
      if (!killed && acked.size >= KILL_AFTER) {
        killed = true;
        srv.kill9();
      }
    }
  };
  await Promise.all(Array.from({ length: CLIENTS }, (_, w) => worker(w)));
  assert.ok(killed, 'the server was killed mid-stream');
  assert.ok(acked.size >= KILL_AFTER);
  assert.ok(failed > 0, 'some creates were in flight or refused after the kill');
  await srv.exited;

  const again = await startServer({ dataDir: srv.dataDir });
  try {
    const { token: t2 } = await login(again.base);
    const api2 = client(again.base, t2);
    const found = new Map();
    let after = 0;
    for (;;) {
      const r = await api2.get(`/api/v1/customers?limit=200&after=${after}`);
      assert.equal(r.status, 200);
      for (const c of r.json.items) found.set(c.id, c.name);
      if (r.json.next_after === null) break;
      after = r.json.next_after;
    }
    let missing = 0;
    for (const [id, name] of acked) if (found.get(id) !== name) missing++;
    assert.equal(missing, 0, `${missing} of ${acked.size} acknowledged records lost`);
    // Identities survived too: each acknowledged record can be found by email.
    const sample = [...acked.keys()].slice(0, 20);
    for (const id of sample) {
      const c = (await api2.get(`/api/v1/customers/${id}`)).json;
      const email = c.identities[0].value;
      const s = await api2.get(`/api/v1/customers?email=${encodeURIComponent(email)}`);
      assert.deepEqual(s.json.items.map((x) => x.id), [id]);
    }
  } finally {
    await again.stop();
    again.cleanup();
  }
});
