// The whole API on PostgreSQL: the same server binary with --store pointing
// at the throwaway cluster that scripts/with-postgres starts (HL_TEST_PG_URL).
// Checks the SQL the API runs (RETURNING, conflicts, LIKE search, versions,
// the event log) and that acknowledged writes survive kill -9.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, login } from '../lib/server.mjs';
import { loadContract } from '../lib/openapi.mjs';
import { checkedClient } from '../lib/checked.mjs';

const url = process.env.HL_TEST_PG_URL;

test('the API on PostgreSQL', { skip: !url && 'HL_TEST_PG_URL not set (run through scripts/with-postgres)' }, async () => {
  const srv = await startServer({ args: ['--store', url] });
  let again;
  try {
    const contract = await loadContract(srv.base);
    const { token, user } = await login(srv.base);
    const api = checkedClient(srv.base, token, contract);
    assert.deepEqual((await api.get('/healthz')).json, { status: 'ok', store: 'postgresql' });

    const sk = await api.post('/api/v1/skills', { name: 'Billing' });
    assert.equal(sk.status, 201, sk.text);
    assert.equal((await api.post('/api/v1/skills', { name: 'Billing' })).status, 409);
    const q = await api.post('/api/v1/queues', { name: "Support 'EU'", required_skills: [{ skill_id: sk.json.id, min_level: 2 }] });
    assert.equal(q.status, 201, q.text);
    const a = await api.post('/api/v1/agents', { name: 'Ann', skills: [{ skill_id: sk.json.id, level: 3 }], queues: [q.json.id] });
    assert.equal(a.status, 201, a.text);
    assert.equal((await api.post('/api/v1/agents', { name: 'Bo', skills: [{ skill_id: 424242, level: 3 }] })).status, 422);

    const c = await api.post('/api/v1/customers', { name: 'Åsa 100%_sure', identities: [{ type: 'phone', value: '+4670111' }] });
    assert.equal(c.status, 201, c.text);
    assert.deepEqual((await api.get('/api/v1/customers?phone=%2B4670111')).json.items.map((x) => x.id), [c.json.id]);
    assert.deepEqual((await api.get('/api/v1/customers?q=%C3%85SA%20100%25')).json.items.map((x) => x.id), [c.json.id]);
    assert.deepEqual((await api.get('/api/v1/customers?q=100')).json.items, []);
    assert.equal((await api.post('/api/v1/customers', { name: 'X', identities: [{ type: 'phone', value: '+4670111' }] })).status, 409);

    const u = await api.put(`/api/v1/queues/${q.json.id}`, { name: 'Support EU', version: 1 });
    assert.equal(u.status, 200, u.text);
    assert.equal(u.json.version, 2);
    assert.equal((await api.put(`/api/v1/queues/${q.json.id}`, { name: 'Lost', version: 1 })).status, 409);
    assert.equal((await api.del(`/api/v1/agents/${a.json.id}`)).status, 204);

    const evs = (await api.get('/api/v1/events?type=queue.&limit=200')).json.items;
    assert.deepEqual(evs.map((e) => e.type), ['queue.created', 'queue.updated']);
    assert.equal(evs[0].actor, user.id);
    assert.equal(evs[1].queue, q.json.id);

    const ids = [];
    for (let i = 0; i < 50; i++) ids.push((await api.post('/api/v1/customers', { name: `pg ${i}` })).json.id);
    srv.kill9();
    await srv.exited;
    again = await startServer({ dataDir: srv.dataDir, args: ['--store', url] });
    const s2 = await login(again.base);
    const api2 = checkedClient(again.base, s2.token, contract);
    for (const id of ids) assert.equal((await api2.get(`/api/v1/customers/${id}`)).status, 200);
  } finally {
    if (again) await again.stop();
    else await srv.stop();
    srv.cleanup();
  }
});
