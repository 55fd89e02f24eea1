// The core's figures and rules for the web chat (docs/CHAT.md): the
// supervisor's live figures (GET /api/v1/live) as tasks are created,
// accepted and abandoned, today's service level, the counters rebuilt from
// the log after a restart; queue status with business hours
// (GET /api/v1/queue-status); POST /tasks/{id}/abandon; wrap-up codes; the
// conversation events the core writes. Every REST response is checked
// against the served OpenAPI document.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { sleep, waitFor, openJsonWs } from '../lib/wait.mjs';
import { startServer, login } from '../lib/server.mjs';
import { loadContract } from '../lib/openapi.mjs';
import { checkedClient } from '../lib/checked.mjs';

let srv, contract, api, agentApi, agentWs, ids = {};

const open = openJsonWs;

const offerFor = (taskId) => waitFor(() => agentWs.msgs.find((m) => m.type === 'offer' && m.task.id === taskId));
const setState = (state, reason) => agentApi.put(`/api/v1/agents/${ids.agent}/state`, reason ? { state, reason } : { state });
const newTask = (queue, extra = {}) => api.post('/api/v1/tasks', { channel: 'chat', queue_id: queue, ...extra });
const live = async () => {
  const r = await api.get('/api/v1/live');
  assert.equal(r.status, 200, r.text);
  return r.json;
};
const liveQueue = async (id) => (await live()).queues.find((q) => q.id === id);
const status = async (id) => {
  const r = await api.get(`/api/v1/queue-status?queue=${id}`);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.queues.length, 1);
  return r.json.queues[0];
};
async function accept(taskId) {
  const o = await offerFor(taskId);
  const r = await agentApi.post(`/api/v1/offers/${o.offer_id}/accept`, { version: o.version });
  assert.equal(r.status, 200, r.text);
  return r.json;
}
const ymd = (d) => d.toISOString().slice(0, 10);

before(async () => {
  srv = await startServer();
  contract = await loadContract(srv.base);
  const admin = await login(srv.base);
  api = checkedClient(srv.base, admin.token, contract);
  const mk = async (body) => {
    const r = await api.post('/api/v1/queues', body);
    assert.equal(r.status, 201, r.text);
    return r.json.id;
  };
  const now = Date.now();
  const allWeek = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'].map((day) => ({ day, open: '00:00', close: '24:00' }));
  ids.fast = await mk({ name: 'Fast', channels: ['chat'], service_level: { percent: 90, seconds: 60 }, wrap_up_seconds: 0 });
  ids.slow = await mk({ name: 'Slow', channels: ['chat'], service_level: { percent: 80, seconds: 1 }, wrap_up_seconds: 0 });
  // every day open, but yesterday, today and tomorrow (UTC) are holidays
  ids.closed = await mk({ name: 'Closed', channels: ['chat', 'email'], business_hours: {
    timezone: 'UTC', weekly: allWeek,
    holidays: [-1, 0, 1].map((k) => ({ date: ymd(new Date(now + k * 86400000)), name: 'off' })),
  } });
  ids.open = await mk({ name: 'Open', channels: ['chat'], business_hours: { timezone: 'Europe/Stockholm', weekly: allWeek } });
  ids.coded = await mk({ name: 'Coded', channels: ['chat'], wrap_up_seconds: 60,
    wrap_up_codes: ['sale', 'no-sale'], disposition_required: true });
  const u = await api.post('/api/v1/users', { username: 'ann', role: 'agent', password: 'ann-password-1' });
  assert.equal(u.status, 201, u.text);
  const ag = await api.post('/api/v1/agents', {
    name: 'Ann', user_id: u.json.id, capacity: { voice: 1, chat: 1 },
    queues: [ids.fast, ids.slow, ids.closed, ids.open, ids.coded],
  });
  assert.equal(ag.status, 201, ag.text);
  ids.user = u.json.id;
  ids.agent = ag.json.id;
  const ann = await login(srv.base, 'ann', 'ann-password-1');
  ids.annToken = ann.token;
  agentApi = checkedClient(srv.base, ann.token, contract);
  agentWs = await open(`ws://127.0.0.1:${srv.port}/api/v1/events?token=${ann.token}`);
  await waitFor(() => agentWs.msgs.some((m) => m.type === 'hello'));
  await waitFor(async () => (await agentApi.get(`/api/v1/agents/${ids.agent}/state`)).status === 200);
});
after(async () => {
  agentWs?.ws.close();
  const st = await srv.stop();
  assert.equal(st.code, 0);
  srv.cleanup();
});

test('queue resource: wrap-up codes and disposition_required', async () => {
  let r = await api.get(`/api/v1/queues/${ids.fast}`);
  assert.deepEqual(r.json.wrap_up_codes, []);
  assert.equal(r.json.disposition_required, false);
  r = await api.get(`/api/v1/queues/${ids.coded}`);
  assert.deepEqual(r.json.wrap_up_codes, ['sale', 'no-sale']);
  assert.equal(r.json.disposition_required, true);
  r = await api.post('/api/v1/queues', { name: 'Bad1', wrap_up_codes: ['x'.repeat(65)] });
  assert.equal(r.status, 422);
  assert.equal(r.json.field, 'wrap_up_codes[0]');
  r = await api.post('/api/v1/queues', { name: 'Bad2', wrap_up_codes: [''] });
  assert.equal(r.status, 422);
  r = await api.post('/api/v1/queues', { name: 'Bad3', wrap_up_codes: ['a', 'a'] });
  assert.equal(r.status, 422);
  r = await api.post('/api/v1/queues', { name: 'Bad4', wrap_up_codes: Array.from({ length: 51 }, (_, i) => `c${i}`) });
  assert.equal(r.status, 422);
  r = await api.post('/api/v1/queues', { name: 'Bad5', disposition_required: 'yes' });
  assert.equal(r.status, 422);
  assert.equal(r.json.field, 'disposition_required');
});

test('live figures follow create, accept and abandon; queue status counts agents', async () => {
  let q = await liveQueue(ids.fast);
  assert.deepEqual(q, {
    id: ids.fast, name: 'Fast', waiting: 0, longest_wait_seconds: 0, offered_today: 0, answered_today: 0,
    abandoned_today: 0, answered_in_sl_today: 0, service_level_today: null, target: { percent: 90, seconds: 60 },
  });
  let s = await status(ids.fast);
  assert.deepEqual(s, { id: ids.fast, name: 'Fast', channels: ['chat'], open: true, agents_logged_in: 0,
    agents_available: 0, waiting: 0 });

  let r = await setState('available');
  assert.equal(r.status, 200, r.text);
  s = await status(ids.fast);
  assert.equal(s.agents_logged_in, 1);
  assert.equal(s.agents_available, 1);

  const t1 = (await newTask(ids.fast)).json;
  await accept(t1.id);
  q = await liveQueue(ids.fast);
  assert.equal(q.offered_today, 1);
  assert.equal(q.answered_today, 1);
  assert.equal(q.answered_in_sl_today, 1);
  assert.equal(q.service_level_today, 1);
  assert.equal(q.waiting, 0);
  const me = (await live()).agents.find((a) => a.agent_id === ids.agent);
  assert.equal(me.name, 'Ann');
  assert.equal(me.user_id, ids.user);
  assert.equal(me.state, 'busy');
  assert.deepEqual(me.tasks, [t1.id]);
  assert.equal(me.used.chat, 1);
  assert.equal(me.capacity.chat, 1);
  assert.ok(Date.parse(me.since) > 0);
  // Ann's one chat slot is taken: logged in, not available
  s = await status(ids.fast);
  assert.equal(s.agents_logged_in, 1);
  assert.equal(s.agents_available, 0);
  r = await agentApi.post(`/api/v1/tasks/${t1.id}/complete`, {});
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.state, 'done');

  r = await setState('away', 'break');
  assert.equal(r.json.state, 'away');
  const t2 = (await newTask(ids.fast)).json;
  q = await liveQueue(ids.fast);
  assert.equal(q.offered_today, 2);
  assert.equal(q.waiting, 1);
  assert.ok(q.longest_wait_seconds >= 0);
  const a = (await live()).agents.find((x) => x.agent_id === ids.agent);
  assert.equal(a.state, 'away');
  assert.equal(a.reason, 'break');
  assert.deepEqual(a.tasks, []);
  s = await status(ids.fast);
  assert.deepEqual([s.waiting, s.agents_logged_in, s.agents_available], [1, 1, 0]);

  r = await api.post(`/api/v1/tasks/${t2.id}/abandon`, {});
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.state, 'abandoned');
  q = await liveQueue(ids.fast);
  assert.equal(q.abandoned_today, 1);
  assert.equal(q.waiting, 0);
  assert.equal(q.service_level_today, 0.5); // 1 in SL of 1 answered + 1 abandoned
  const ev = (await api.get(`/api/v1/events?interaction=${t2.id}&type=task.abandoned`)).json.items;
  assert.equal(ev.length, 1);
  assert.ok(ev[0].payload.wait_ms >= 0, JSON.stringify(ev[0]));

  r = await setState('offline');
  s = await status(ids.fast);
  assert.deepEqual([s.agents_logged_in, s.agents_available], [0, 0]);
});

test('an answer later than the queue\'s target counts against today\'s service level', async () => {
  const t = (await newTask(ids.slow)).json; // Ann is offline: it waits
  await sleep(1500);
  let r = await setState('available');
  assert.equal(r.status, 200);
  await accept(t.id);
  const q = await liveQueue(ids.slow);
  assert.deepEqual([q.offered_today, q.answered_today, q.answered_in_sl_today, q.service_level_today],
    [1, 1, 0, 0]);
  assert.deepEqual(q.target, { percent: 80, seconds: 1 });
  const ev = (await api.get(`/api/v1/events?interaction=${t.id}&type=task.accepted`)).json.items[0];
  assert.ok(ev.payload.queued_ms >= 1500, JSON.stringify(ev.payload));
  assert.equal(ev.payload.user_id, ids.user);
  r = await agentApi.post(`/api/v1/tasks/${t.id}/complete`, {});
  assert.equal(r.status, 200);
});

test('abandon: only waiting or offered tasks, only by admins and supervisors', async () => {
  let r = await api.post('/api/v1/tasks/987654/abandon', {});
  assert.equal(r.status, 404);
  const t = (await newTask(ids.fast)).json;
  r = await agentApi.post(`/api/v1/tasks/${t.id}/abandon`, {});
  assert.equal(r.status, 403);
  await accept(t.id); // Ann is available
  r = await api.post(`/api/v1/tasks/${t.id}/abandon`, {});
  assert.equal(r.status, 409);
  r = await agentApi.post(`/api/v1/tasks/${t.id}/complete`, {});
  assert.equal(r.status, 200);
  // offered, not yet answered: the customer may still leave
  const t2 = (await newTask(ids.fast)).json;
  await offerFor(t2.id);
  r = await api.post(`/api/v1/tasks/${t2.id}/abandon`, { reason: 'closed the tab' });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.state, 'abandoned');
  await waitFor(() => agentWs.msgs.some((m) => m.type === 'offer_withdrawn' && m.task_id === t2.id));
  r = await api.post(`/api/v1/tasks/${t2.id}/abandon`, {});
  assert.equal(r.status, 409);
  r = await api.post('/api/v1/tasks/x/abandon', {});
  assert.equal(r.status, 404);
});

test('queue status: open by business hours, every queue, who may ask', async () => {
  assert.equal((await status(ids.closed)).open, false);
  assert.deepEqual((await status(ids.closed)).channels, ['chat', 'email']);
  assert.equal((await status(ids.open)).open, true);
  assert.equal((await status(ids.fast)).open, true);
  let r = await api.get('/api/v1/queue-status');
  assert.equal(r.status, 200);
  assert.deepEqual(r.json.queues.map((q) => q.id), [ids.fast, ids.slow, ids.closed, ids.open, ids.coded]);
  r = await agentApi.get(`/api/v1/queue-status?queue=${ids.fast}`);
  assert.equal(r.status, 200);
  r = await api.get('/api/v1/queue-status?queue=424242');
  assert.equal(r.status, 404);
  r = await api.get('/api/v1/queue-status?queue=abc');
  assert.equal(r.status, 422);
  assert.equal(r.json.field, 'queue');
  r = await fetch(`${srv.base}/api/v1/queue-status`);
  assert.equal(r.status, 401);
  r = await agentApi.get('/api/v1/live');
  assert.equal(r.status, 403);
});

test('wrap-up codes: one of the queue\'s codes, and required', async () => {
  const t = (await newTask(ids.coded)).json;
  await accept(t.id);
  let r = await agentApi.post(`/api/v1/tasks/${t.id}/complete`, {});
  assert.equal(r.json.state, 'wrapup');
  r = await agentApi.post(`/api/v1/tasks/${t.id}/wrapup`, { disposition: 'resolved' });
  assert.equal(r.status, 422);
  assert.equal(r.json.field, 'disposition');
  r = await agentApi.post(`/api/v1/tasks/${t.id}/wrapup`, { disposition: 'no-sale', notes: 'maybe later' });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.state, 'done');
  assert.equal(r.json.disposition, 'no-sale');
});

test('a conversation\'s tasks carry its id; accepting one writes chat.joined', async () => {
  // conversation_id 0: the task starts a conversation with its own id
  let t = (await newTask(ids.fast, { attributes: { conversation_id: 0, topic: 'billing' } })).json;
  assert.deepEqual(t.attributes, { conversation_id: t.id, topic: 'billing' });
  const o = await offerFor(t.id);
  assert.equal(o.task.attributes.conversation_id, t.id);
  await accept(t.id);
  let evs = (await api.get(`/api/v1/events?interaction=${t.id}&limit=200`)).json.items;
  const created = evs.find((e) => e.type === 'task.created');
  assert.equal(created.payload.conversation_id, t.id);
  assert.ok(evs.filter((e) => e.type.startsWith('task.')).every((e) => e.payload.conversation_id === t.id));
  const joined = evs.find((e) => e.type === 'chat.joined');
  assert.deepEqual(joined.payload, { user_id: ids.user, agent_id: ids.agent, name: 'Ann', task_id: t.id });
  assert.equal(joined.agent, ids.agent);
  let r = await agentApi.post(`/api/v1/tasks/${t.id}/complete`, {});
  assert.equal(r.status, 200);

  // a later task of the same conversation (a transfer)
  const conv = t.id;
  t = (await newTask(ids.fast, { attributes: { conversation_id: conv } })).json;
  await accept(t.id);
  r = await agentApi.post(`/api/v1/tasks/${t.id}/complete`, {});
  evs = (await api.get(`/api/v1/events?interaction=${t.id}&limit=200`)).json.items;
  assert.ok(evs.length >= 4);
  assert.ok(evs.every((e) => e.payload.conversation_id === conv), JSON.stringify(evs.map((e) => e.type)));
  evs = (await api.get(`/api/v1/events?interaction=${conv}&type=chat.joined`)).json.items;
  assert.deepEqual(evs.map((e) => e.payload.task_id), [conv, t.id]);

  // a task outside any conversation: no conversation_id, no chat.joined
  t = (await newTask(ids.fast)).json;
  await accept(t.id);
  evs = (await api.get(`/api/v1/events?interaction=${t.id}&limit=200`)).json.items;
  assert.ok(evs.every((e) => !('conversation_id' in e.payload) && e.type !== 'chat.joined'));
  assert.equal(evs.find((e) => e.type === 'task.accepted').payload.user_id, ids.user);
  r = await agentApi.post(`/api/v1/tasks/${t.id}/complete`, {});
  assert.equal(r.status, 200);
});

test('a restart rebuilds today\'s counters from the log', async () => {
  await setState('offline');
  const waiting = (await newTask(ids.slow)).json;
  const before = await live();
  const slow = before.queues.find((q) => q.id === ids.slow);
  assert.equal(slow.waiting, 1);
  const fast = before.queues.find((q) => q.id === ids.fast);
  assert.ok(fast.offered_today >= 7 && fast.answered_today >= 5, JSON.stringify(fast));
  agentWs.ws.close();
  const st = await srv.stop();
  assert.equal(st.code, 0);
  srv = await startServer({ dataDir: srv.dataDir });
  contract = await loadContract(srv.base);
  const admin = await login(srv.base);
  api = checkedClient(srv.base, admin.token, contract);
  const after = await live();
  const pick = ({ id, name, waiting, offered_today, answered_today, abandoned_today, answered_in_sl_today,
    service_level_today, target }) => ({ id, name, waiting, offered_today, answered_today, abandoned_today,
    answered_in_sl_today, service_level_today, target });
  assert.deepEqual(after.queues.map(pick), before.queues.map(pick));
  // the waiting task came back and still waits since it was created
  const slowAfter = after.queues.find((q) => q.id === ids.slow);
  assert.equal(slowAfter.waiting, 1);
  const ann = after.agents.find((a) => a.agent_id === ids.agent);
  assert.equal(ann.state, 'offline');
  assert.deepEqual(ann.tasks, []);
  const r = await api.post(`/api/v1/tasks/${waiting.id}/abandon`, {});
  assert.equal(r.status, 200, r.text);
  assert.equal((await liveQueue(ids.slow)).abandoned_today, 1);
});
