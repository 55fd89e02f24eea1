// Routing in the server: tasks created over REST, offers pushed on the
// agent's WebSocket, accept / reject / timeout / cancel / complete / wrap-up,
// agent states, and the events they leave in the log. Every REST response is
// checked against the served OpenAPI document.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { sleep, waitFor, openJsonWs } from '../lib/wait.mjs';
import { startServer, login } from '../lib/server.mjs';
import { loadContract } from '../lib/openapi.mjs';
import { checkedClient } from '../lib/checked.mjs';

let srv, contract, admin, api, agentApi, agentWs, ids = {};

const open = openJsonWs;

// The next offer for task `taskId` not seen before.
const seen = new Set();
async function nextOffer(taskId, ms = 10000) {
  return waitFor(() => {
    const m = agentWs.msgs.find((x) => x.type === 'offer' && x.task.id === taskId && !seen.has(x.offer_id + '/' + x.version));
    if (m) seen.add(m.offer_id + '/' + m.version);
    return m;
  }, ms);
}

const setState = (state, reason) => agentApi.put(`/api/v1/agents/${ids.agent}/state`, reason ? { state, reason } : { state });

before(async () => {
  srv = await startServer();
  contract = await loadContract(srv.base);
  admin = await login(srv.base);
  api = checkedClient(srv.base, admin.token, contract);
  const sk = await api.post('/api/v1/skills', { name: 'Billing' });
  assert.equal(sk.status, 201, sk.text);
  const q = await api.post('/api/v1/queues', {
    name: 'Support', channels: ['chat', 'voice'], required_skills: [{ skill_id: sk.json.id, min_level: 2 }],
    offer_timeout_seconds: 5, wrap_up_seconds: 60,
  });
  assert.equal(q.status, 201, q.text);
  const u = await api.post('/api/v1/users', { username: 'ann', role: 'agent', password: 'ann-password-1' });
  assert.equal(u.status, 201, u.text);
  const ag = await api.post('/api/v1/agents', {
    name: 'Ann', user_id: u.json.id, skills: [{ skill_id: sk.json.id, level: 3 }],
    languages: ['en', 'sv'], capacity: { voice: 1, chat: 1 }, queues: [q.json.id],
  });
  assert.equal(ag.status, 201, ag.text);
  ids = { skill: sk.json.id, queue: q.json.id, user: u.json.id, agent: ag.json.id };
  const ann = await login(srv.base, 'ann', 'ann-password-1');
  agentApi = checkedClient(srv.base, ann.token, contract);
  agentWs = await open(`ws://127.0.0.1:${srv.port}/api/v1/events?token=${ann.token}`);
  await waitFor(() => agentWs.msgs.some((m) => m.type === 'hello'));
  // The agent's queue membership reaches the core through the event hook.
  await waitFor(async () => (await agentApi.get(`/api/v1/agents/${ids.agent}/state`)).status === 200);
});
after(async () => {
  agentWs?.ws.close();
  const st = await srv.stop();
  assert.equal(st.code, 0);
  srv.cleanup();
});

const newTask = (extra = {}) => api.post('/api/v1/tasks', {
  channel: 'chat', queue_id: ids.queue, priority: 5, language: 'en', customer_id: null,
  attributes: { subject: 'invoice' }, ...extra,
});

test('validation and roles', async () => {
  let r = await api.post('/api/v1/tasks', { queue_id: 999999 });
  assert.equal(r.status, 422);
  assert.equal(r.json.field, 'queue_id');
  r = await api.post('/api/v1/tasks', { queue_id: ids.queue, colour: 'red' });
  assert.equal(r.status, 422);
  assert.equal(r.json.field, 'colour');
  r = await api.post('/api/v1/tasks', { queue_id: ids.queue, channel: 'email' });
  assert.equal(r.status, 422);
  assert.equal(r.json.field, 'channel');
  r = await agentApi.post('/api/v1/tasks', { queue_id: ids.queue });
  assert.equal(r.status, 403);
  r = await api.get('/api/v1/tasks/424242');
  assert.equal(r.status, 404);
  r = await setState('sleeping');
  assert.equal(r.status, 422);
  r = await api.post('/api/v1/offers/999/accept', { version: 1 });
  assert.equal(r.status, 409);
});

test('offer on the agent socket, accept, complete, wrap-up with a disposition', async () => {
  let r = await setState('available');
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.state, 'available');
  r = await newTask();
  assert.equal(r.status, 201, r.text);
  const task = r.json;
  assert.equal(task.queue_id, ids.queue);
  assert.deepEqual(task.attributes, { subject: 'invoice' });
  const offer = await nextOffer(task.id);
  assert.equal(offer.task.id, task.id);
  assert.ok(offer.timeout_ms > 0 && offer.timeout_ms <= 5000);
  r = await agentApi.post(`/api/v1/offers/${offer.offer_id}/accept`, { version: offer.version });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.state, 'accepted');
  assert.equal(r.json.agent_id, ids.agent);
  r = await agentApi.get(`/api/v1/tasks/${task.id}`);
  assert.equal(r.json.state, 'accepted');
  r = await agentApi.get(`/api/v1/agents/${ids.agent}/state`);
  assert.equal(r.json.state, 'busy');
  // a second accept of the same offer is stale
  r = await agentApi.post(`/api/v1/offers/${offer.offer_id}/accept`, { version: offer.version });
  assert.equal(r.status, 409);
  r = await agentApi.post(`/api/v1/tasks/${task.id}/wrapup`, { disposition: 'too-early' });
  assert.equal(r.status, 409);
  r = await agentApi.post(`/api/v1/tasks/${task.id}/complete`, {});
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.state, 'wrapup');
  r = await agentApi.post(`/api/v1/tasks/${task.id}/wrapup`, { disposition: 'resolved', notes: 'refund issued' });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.state, 'done');
  assert.equal(r.json.disposition, 'resolved');
  r = await agentApi.post(`/api/v1/tasks/${task.id}/wrapup`, { disposition: 'again' });
  assert.equal(r.status, 409);
  r = await agentApi.get(`/api/v1/agents/${ids.agent}/state`);
  assert.equal(r.json.state, 'available');
});

test('reject puts the task back and it is offered again; a stale version is refused', async () => {
  let r = await newTask();
  const task = r.json;
  const first = await nextOffer(task.id);
  r = await agentApi.post(`/api/v1/offers/${first.offer_id}/accept`, { version: first.version + 7 });
  assert.equal(r.status, 409);
  r = await agentApi.post(`/api/v1/offers/${first.offer_id}/reject`, { version: first.version });
  assert.equal(r.status, 200, r.text);
  const second = await nextOffer(task.id);
  assert.notEqual(`${second.offer_id}/${second.version}`, `${first.offer_id}/${first.version}`);
  r = await agentApi.post(`/api/v1/offers/${first.offer_id}/accept`, { version: first.version });
  assert.equal(r.status, 409);
  r = await agentApi.post(`/api/v1/offers/${second.offer_id}/accept`, { version: second.version });
  assert.equal(r.status, 200, r.text);
  r = await agentApi.post(`/api/v1/tasks/${task.id}/complete`, {});
  assert.equal(r.status, 200);
  r = await agentApi.post(`/api/v1/tasks/${task.id}/wrapup`, { disposition: 'resolved' });
  assert.equal(r.status, 200);
});

test('waiting tasks show position and estimated wait; cancel', async () => {
  let r = await setState('away', 'lunch');
  assert.equal(r.json.state, 'away');
  assert.equal(r.json.reason, 'lunch');
  const t1 = (await newTask()).json;
  const t2 = (await api.post('/api/v1/tasks', { queue_id: ids.queue, channel: 'chat', priority: 1 })).json;
  assert.deepEqual(t2.attributes, {});
  assert.equal(t2.language, null);
  assert.equal(t1.state, 'queued');
  r = await api.get(`/api/v1/tasks/${t1.id}`);
  assert.equal(r.json.position, 1);
  assert.equal(typeof r.json.estimated_wait_seconds, 'number');
  r = await api.get(`/api/v1/tasks/${t2.id}`);
  assert.equal(r.json.position, 2);
  r = await agentApi.post(`/api/v1/tasks/${t1.id}/cancel`, {});
  assert.equal(r.status, 403);
  r = await api.post(`/api/v1/tasks/${t1.id}/cancel`, { reason: 'caller hung up' });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.state, 'cancelled');
  r = await api.post(`/api/v1/tasks/${t1.id}/cancel`, {});
  assert.equal(r.status, 409);
  r = await api.get(`/api/v1/tasks/${t2.id}`);
  assert.equal(r.json.position, 1);
  r = await api.post(`/api/v1/tasks/${t2.id}/cancel`, {});
  assert.equal(r.status, 200);
});

test('unanswered offers time out, are offered again, and the agent goes away after 3 misses', async () => {
  let r = await setState('available');
  assert.equal(r.status, 200);
  const task = (await newTask()).json;
  const o1 = await nextOffer(task.id);
  // offer_timeout_seconds is 5: withdrawn, then offered again (only match)
  await waitFor(() => agentWs.msgs.some((m) => m.type === 'offer_withdrawn' && m.offer_id === o1.offer_id), 9000);
  const o2 = await nextOffer(task.id, 9000);
  assert.notEqual(`${o2.offer_id}/${o2.version}`, `${o1.offer_id}/${o1.version}`);
  r = await agentApi.post(`/api/v1/offers/${o1.offer_id}/accept`, { version: o1.version });
  assert.equal(r.status, 409);
  // two more misses: auto-away
  const state = await waitFor(async () => {
    const s = await agentApi.get(`/api/v1/agents/${ids.agent}/state`);
    return s.json.state === 'away' ? s.json : null;
  }, 14000);
  assert.equal(state.reason, 'missed-offers');
  r = await api.get(`/api/v1/tasks/${task.id}`);
  assert.equal(r.json.state, 'queued');
  r = await api.post(`/api/v1/tasks/${task.id}/cancel`, {});
  assert.equal(r.status, 200);
});

test('overflow steps and the maximum wait come from the queue API', async () => {
  // Ann has Billing 3; this queue wants 5 until its first step lowers it by 2.
  const q = await api.post('/api/v1/queues', {
    name: 'Escalations', channels: ['chat'], required_skills: [{ skill_id: ids.skill, min_level: 5 }],
    overflow_steps: [{ after_seconds: 1, action: 'lower_level', levels: 2 }],
  });
  assert.equal(q.status, 201, q.text);
  assert.deepEqual(q.json.overflow_steps, [{ after_seconds: 1, action: 'lower_level', levels: 2, queue_id: null }]);
  const short = await api.post('/api/v1/queues', { name: 'Short', channels: ['chat'], max_wait_seconds: 1, max_wait_action: 'timeout' });
  assert.equal(short.status, 201, short.text);
  const bad = await api.post('/api/v1/queues', { name: 'Bad', overflow_steps: [{ after_seconds: 5, action: 'add_queue' }] });
  assert.equal(bad.status, 422);
  assert.equal(bad.json.field, 'overflow_steps[0].queue_id');

  const cur = (await api.get(`/api/v1/agents/${ids.agent}`)).json;
  const upd = await api.put(`/api/v1/agents/${ids.agent}`, {
    name: cur.name, user_id: cur.user_id, skills: cur.skills, languages: cur.languages,
    capacity: cur.capacity, queues: [...cur.queues, q.json.id], version: cur.version,
  });
  assert.equal(upd.status, 200, upd.text);
  let r = await setState('available');
  assert.equal(r.status, 200, r.text);

  const t = (await api.post('/api/v1/tasks', { queue_id: q.json.id, channel: 'chat' })).json;
  const t0 = Date.now();
  const offer = await nextOffer(t.id, 10000);
  assert.ok(Date.now() - t0 >= 900, 'offered only once the step lowered the level');
  r = await agentApi.post(`/api/v1/offers/${offer.offer_id}/reject`, { version: offer.version });
  assert.equal(r.status, 200, r.text);
  await api.post(`/api/v1/tasks/${t.id}/cancel`, {});
  await setState('away', 'break');

  const e = (await api.post('/api/v1/tasks', { queue_id: short.json.id, channel: 'chat' })).json;
  const ended = await waitFor(async () => {
    const g = (await api.get(`/api/v1/tasks/${e.id}`)).json;
    return g.state === 'timed_out' ? g : null;
  }, 10000);
  assert.equal(ended.state, 'timed_out');
  // The task's own story, decisions with reasons included.
  const story = (await api.get(`/api/v1/events?interaction=${t.id}&limit=200`)).json.items;
  assert.ok(story.length >= 3, JSON.stringify(story));
  assert.ok(story.every((ev) => ev.interaction === t.id));
  assert.ok(story.some((ev) => ev.payload.reason), JSON.stringify(story.map((ev) => ev.payload)));
  assert.equal((await api.get('/api/v1/events?interaction=x')).status, 422);
  const evs = (await api.get(`/api/v1/events?type=task.expired&limit=200`)).json.items;
  assert.ok(evs.some((ev) => ev.payload.task === e.id || ev.payload.id === e.id || ev.interaction === e.id), JSON.stringify(evs.slice(-2)));
});

test('every step is in the event log', async () => {
  const types = new Set();
  let after = 0;
  for (;;) {
    const r = await api.get(`/api/v1/events?after=${after}&limit=200`);
    assert.equal(r.status, 200);
    for (const e of r.json.items) types.add(e.type);
    if (r.json.next_after === null) break;
    after = r.json.next_after;
  }
  for (const t of ['task.created', 'task.offered', 'task.accepted', 'task.rejected', 'task.timed_out',
    'task.completed', 'task.wrapup_started', 'task.wrapped_up', 'task.done', 'task.cancelled',
    'agent.state_requested', 'agent.state_changed']) {
    assert.ok(types.has(t), `missing ${t} in ${[...types].join(', ')}`);
  }
  const r = await api.get('/api/v1/events?type=task.offered&limit=1');
  const e = r.json.items[0];
  assert.ok(e.interaction > 0 && e.agent === ids.agent && e.queue === ids.queue);
  assert.match(e.payload.line, /offer task=/);
  assert.ok(['task-arrived', 'agent-free'].includes(e.payload.reason));
});

test('open tasks survive a restart: waiting ones are queued again, in-progress ones closed', async () => {
  let r = await setState('available');
  const busy = (await newTask()).json;
  const o = await nextOffer(busy.id);
  r = await agentApi.post(`/api/v1/offers/${o.offer_id}/accept`, { version: o.version });
  assert.equal(r.status, 200, r.text);
  // Ann's chat does not block voice, so this one is offered to her; going
  // offline withdraws the offer and the task waits.
  const waiting = (await newTask({ channel: 'voice', priority: 9 })).json;
  await nextOffer(waiting.id);
  r = await setState('offline');
  assert.equal(r.json.requested, 'offline');
  r = await api.get(`/api/v1/tasks/${waiting.id}`);
  assert.equal(r.json.state, 'queued');
  await waitFor(() => agentWs.msgs.some((m) => m.type === 'offer_withdrawn' && m.task_id === waiting.id));
  agentWs.ws.close();
  const st = await srv.stop();
  assert.equal(st.code, 0);
  srv = await startServer({ dataDir: srv.dataDir });
  contract = await loadContract(srv.base);
  admin = await login(srv.base);
  api = checkedClient(srv.base, admin.token, contract);
  r = await api.get(`/api/v1/tasks/${waiting.id}`);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.state, 'queued');
  assert.equal(r.json.position, 1);
  assert.equal(r.json.priority, 9);
  r = await api.get(`/api/v1/tasks/${busy.id}`);
  assert.equal(r.json.state, 'done');
  const ev = await api.get('/api/v1/events?type=task.requeued&limit=200');
  assert.ok(ev.json.items.some((e) => e.interaction === waiting.id && e.payload.reason === 'restart'));
  const fresh = (await newTask()).json;
  assert.ok(fresh.id > waiting.id);
  r = await api.post(`/api/v1/tasks/${waiting.id}/cancel`, {});
  assert.equal(r.status, 200);
});
