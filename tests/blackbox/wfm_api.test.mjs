// Workforce management over the API, fed by the server's own event log:
// tasks created and handled through the API must show up as arrivals and
// handle times in GET /api/v1/wfm/forecast; staffing per interval; a
// schedule built, saved and published; adherence from agent state changes
// against it. Every REST response is checked against the served OpenAPI
// document.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { sleep, waitFor, openJsonWs } from '../lib/wait.mjs';
import { startServer, login } from '../lib/server.mjs';
import { loadContract } from '../lib/openapi.mjs';
import { checkedClient } from '../lib/checked.mjs';

let srv, contract, api, agentApi, agentWs;
const ids = {};

const open = openJsonWs;


const setState = (state) => api.put(`/api/v1/agents/${ids.wendy}/state`, { state });
const sum = (a) => a.reduce((x, y) => x + (y || 0), 0);

before(async () => {
  srv = await startServer();
  contract = await loadContract(srv.base);
  const admin = await login(srv.base);
  api = checkedClient(srv.base, admin.token, contract);
  const q = await api.post('/api/v1/queues', { name: 'Sales', channels: ['chat'], offer_timeout_seconds: 60, wrap_up_seconds: 0 });
  assert.equal(q.status, 201, q.text);
  ids.queue = q.json.id;
  const u = await api.post('/api/v1/users', { username: 'wendy', role: 'agent', password: 'wendy-password-1' });
  assert.equal(u.status, 201, u.text);
  const ag = await api.post('/api/v1/agents', { name: 'Wendy', user_id: u.json.id, capacity: { chat: 1 }, queues: [ids.queue] });
  assert.equal(ag.status, 201, ag.text);
  ids.wendy = ag.json.id;
  const bob = await api.post('/api/v1/agents', { name: 'Bob', queues: [ids.queue] });
  assert.equal(bob.status, 201, bob.text);
  ids.bob = bob.json.id;
  const w = await login(srv.base, 'wendy', 'wendy-password-1');
  agentApi = checkedClient(srv.base, w.token, contract);
  agentWs = await open(`ws://127.0.0.1:${srv.port}/api/v1/events?token=${w.token}`);
  await waitFor(() => agentWs.msgs.some((m) => m.type === 'hello'));
  await waitFor(async () => (await agentApi.get(`/api/v1/agents/${ids.wendy}/state`)).status === 200);
});

after(async () => {
  agentWs?.ws.close();
  const st = await srv.stop();
  assert.equal(st.code, 0);
  srv.cleanup();
});

test('the forecast counts the tasks created, handled and cancelled through the API', async () => {
  let r = await setState('available');
  assert.equal(r.status, 200, r.text);
  r = await api.post('/api/v1/tasks', { queue_id: ids.queue });
  assert.equal(r.status, 201, r.text);
  const handled = r.json.id;
  const offer = await waitFor(() => agentWs.msgs.find((m) => m.type === 'offer' && m.task.id === handled));
  r = await agentApi.post(`/api/v1/offers/${offer.offer_id}/accept`, { version: offer.version });
  assert.equal(r.status, 200, r.text);
  await sleep(1100); // a handle time of at least a second
  r = await agentApi.post(`/api/v1/tasks/${handled}/complete`, {});
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.state, 'done'); // no wrap-up on this queue

  r = await setState('away');
  assert.equal(r.status, 200, r.text);
  const waiting = [];
  for (let i = 0; i < 3; i++) {
    r = await api.post('/api/v1/tasks', { queue_id: ids.queue });
    assert.equal(r.status, 201, r.text);
    waiting.push(r.json.id);
  }
  r = await api.post(`/api/v1/tasks/${waiting[0]}/cancel`, {});
  assert.equal(r.status, 200, r.text);

  r = await api.get(`/api/v1/wfm/forecast?queue=${ids.queue}&days=7&horizon_days=2`);
  assert.equal(r.status, 200, r.text);
  const d = r.json;
  assert.equal(d.queue_id, ids.queue);
  assert.equal(d.queue_name, 'Sales');
  assert.equal(d.interval_seconds, 900);
  assert.equal(d.history.days, 7);
  assert.equal(d.history.arrivals.length, 7 * 96);
  assert.equal(sum(d.history.arrivals), 0);
  // today's actuals: the four tasks, in the intervals they were created in
  assert.equal(sum(d.today.arrivals), 4);
  assert.equal(d.contacts.arrivals, 4);
  assert.equal(d.contacts.handled, 1);
  assert.equal(d.contacts.answered, 1);
  assert.equal(d.contacts.left, 1);
  assert.equal(d.contacts.abandoned, 0);
  assert.equal(d.contacts.patience_seconds, null);
  assert.ok(d.contacts.mean_handle_seconds >= 1 && d.contacts.mean_handle_seconds < 30, String(d.contacts.mean_handle_seconds));
  const aht = d.today.handle_seconds.filter((x) => x !== null);
  assert.equal(aht.length, 1);
  assert.ok(aht[0] >= 1);
  // the forecast and its choice
  assert.equal(d.forecast.arrivals.length, 2 * 96);
  assert.equal(d.forecast.handle_seconds.length, 2 * 96);
  assert.equal(d.today.forecast.length, 96);
  assert.equal(d.today.reforecast.length, 96);
  assert.ok(['seasonal_naive', 'historical_average', 'holt_winters'].includes(d.forecast.method));
  assert.deepEqual(d.backtest.arrivals.map((m) => m.method), ['seasonal_naive', 'historical_average', 'holt_winters']);
  // a week of history is too little for a backtest: the historical average
  assert.equal(d.forecast.method, 'historical_average');
  assert.ok(d.backtest.arrivals.every((m) => m.status === 'not_enough_history'));
  // the handle times the log has are the forecast's (its overall mean)
  assert.equal(d.forecast.handle_method, 'overall_mean');
  assert.ok(Math.abs(d.forecast.handle_seconds[0] - d.contacts.mean_handle_seconds) < 0.06);

  // four weeks: every method can be backtested
  r = await api.get(`/api/v1/wfm/forecast?queue=${ids.queue}&days=28`);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.forecast.arrivals.length, 7 * 96);
  assert.ok(r.json.backtest.arrivals.every((m) => m.status === 'ok'));
  assert.equal(sum(r.json.today.arrivals), 4);

  for (const id of waiting.slice(1)) assert.equal((await api.post(`/api/v1/tasks/${id}/cancel`, {})).status, 200);
});

test('forecast and staffing refuse what they cannot do', async () => {
  let r = await api.get('/api/v1/wfm/forecast');
  assert.equal(r.status, 422);
  assert.equal(r.json.field, 'queue');
  r = await api.get('/api/v1/wfm/forecast?queue=424242');
  assert.equal(r.status, 404);
  r = await api.get(`/api/v1/wfm/forecast?queue=${ids.queue}&days=3`);
  assert.equal(r.status, 422);
  assert.equal(r.json.field, 'days');
  r = await api.get(`/api/v1/wfm/forecast?queue=${ids.queue}&days=400`);
  assert.equal(r.status, 422);
  r = await agentApi.get(`/api/v1/wfm/forecast?queue=${ids.queue}`);
  assert.equal(r.status, 403);
  r = await api.raw('POST', '/api/v1/wfm/forecast', {}); // not in the contract: 405
  assert.equal(r.status, 405);
  r = await api.get(`/api/v1/wfm/staffing?queue=${ids.queue}&model=x`);
  assert.equal(r.status, 422);
  assert.equal(r.json.field, 'model');
  r = await api.post('/api/v1/wfm/staffing', { calls: [10], aht_seconds: 0 });
  assert.equal(r.status, 422);
  assert.equal(r.json.field, 'aht_seconds');
  r = await api.post('/api/v1/wfm/staffing', { calls: [10], aht_seconds: 100, colour: 1 });
  assert.equal(r.status, 422);
  assert.equal(r.json.field, 'colour');
  r = await api.post('/api/v1/wfm/staffing', { calls: [10, 20], aht_seconds: [100] });
  assert.equal(r.status, 422);
  r = await api.post('/api/v1/wfm/staffing', { model: 'a', calls: [10], aht_seconds: 100 });
  assert.equal(r.status, 422);
  assert.equal(r.json.field, 'patience_seconds');
});

test('staffing per interval: the queue\'s forecast, and a given forecast', async () => {
  let r = await api.get(`/api/v1/wfm/staffing?queue=${ids.queue}&horizon_days=1&shrinkage=0.3`);
  assert.equal(r.status, 200, r.text);
  const d = r.json;
  assert.equal(d.agents.length, 96);
  assert.equal(d.scheduled.length, 96);
  assert.equal(d.calls.length, 96);
  assert.equal(d.model, 'c'); // nobody abandoned
  assert.equal(d.target_sl, 0.8); // the queue's 80 % in 20 s
  assert.equal(d.sl_seconds, 20);
  assert.equal(d.queue_id, ids.queue);
  for (let i = 0; i < 96; i++) {
    if (d.agents[i] === 0) assert.equal(d.scheduled[i], 0);
    else assert.ok(d.scheduled[i] >= d.agents[i]);
  }

  // Call Centre Helper's example: 100 contacts per half hour of 180 s, 80 %
  // in 20 s: 14 agents, 20 with 30 % shrinkage; the calculator agrees.
  r = await api.post('/api/v1/wfm/staffing', {
    interval_seconds: 1800, calls: [100, 0, 50], aht_seconds: 180, target_sl: 0.8, sl_seconds: 20, shrinkage: 0.3,
  });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json.agents.slice(0, 2), [14, 0]);
  assert.deepEqual(r.json.scheduled.slice(0, 2), [20, 0]);
  assert.equal(r.json.service_level[1], null);
  assert.equal(r.json.peak_agents, 14);
  const calc = await api.post('/api/v1/wfm/erlang', {
    model: 'c', calls: 50, period_seconds: 1800, aht_seconds: 180, sl_seconds: 20, target_sl: 0.8,
  });
  assert.equal(calc.status, 200, calc.text);
  assert.equal(r.json.agents[2], calc.json.result.agents);
  assert.ok(Math.abs(r.json.service_level[2] - calc.json.result.service_level) < 1e-4);
  // Erlang A with a short patience needs no more agents than C
  r = await api.post('/api/v1/wfm/staffing', { interval_seconds: 1800, calls: [100], aht_seconds: [180], model: 'a', patience_seconds: 30 });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.model, 'a');
  assert.ok(r.json.agents[0] <= 14);
});

// A flat requirement over [from, to) quarter hours of every day.
function flat(days, from, to, n) {
  const req = [];
  for (let d = 0; d < days; d++) for (let i = 0; i < 96; i++) req.push(i >= from && i < to ? n : 0);
  return req;
}

test('a schedule covers a requirement with named agents', async () => {
  let r = await api.post('/api/v1/wfm/schedule', {
    start_date: '2030-01-07', days: 1, required: flat(1, 32, 64, 2), time_limit_seconds: 5,
    templates: [{ name: 'Day', start_earliest: '07:00', start_latest: '10:00', start_step_minutes: 30, length_minutes: 480,
      breaks: [{ length_minutes: 30, earliest_minutes: 180, latest_minutes: 300 }] }],
    agents: [{ agent_id: ids.wendy, max_hours: 8 }, { agent_id: ids.bob }, { agent_id: 999, max_hours: 8 }],
  });
  assert.equal(r.status, 200, r.text);
  const s = r.json;
  assert.equal(s.id, null);
  assert.equal(s.status, 'unsaved');
  assert.equal(s.start_date, '2030-01-07');
  assert.equal(s.required.length, 96);
  assert.equal(s.coverage.length, 96);
  assert.ok(['cbc_optimal', 'cbc_feasible', 'fallback'].includes(s.method));
  assert.ok(s.gap >= 0 && s.gap < 1);
  // two agents at a time from 08:00 to 16:00, with half-hour breaks: at
  // least two shifts, and wherever the breaks allow it, covered
  assert.ok(s.shifts.length >= 2);
  assert.equal(s.unassigned, 0);
  const assigned = new Set(s.shifts.map((x) => x.agent_id));
  assert.ok(s.shifts.every((x) => [ids.wendy, ids.bob, 999].includes(x.agent_id)));
  assert.ok(assigned.size >= 2);
  for (const sh of s.shifts) {
    assert.equal(sh.length, 32);
    assert.equal(sh.breaks.length, 1);
    assert.equal(sh.breaks[0].length, 2);
    assert.equal(sh.start, `2030-01-07T${String(Math.floor(sh.start_interval / 4)).padStart(2, '0')}:${String((sh.start_interval % 4) * 15).padStart(2, '0')}:00.000Z`);
  }
  for (let i = 0; i < 96; i++) {
    const working = s.shifts.filter((x) => i >= x.start_interval && i < x.start_interval + x.length
      && !x.breaks.some((b) => i >= b.start_interval && i < b.start_interval + b.length)).length;
    assert.equal(s.coverage[i], working, `coverage at ${i}`);
  }
  assert.ok(s.short_intervals <= 4, `short ${s.short_intervals}`); // only where breaks must fall
  const wendyHours = s.agents.find((a) => a.agent_id === ids.wendy).hours;
  assert.ok(wendyHours <= 8);

  r = await api.post('/api/v1/wfm/schedule', {
    start_date: '2030-01-07', required: flat(1, 32, 64, 1),
    templates: [{ start_earliest: '07:00', length_minutes: 7 }], agents: [{ agent_id: ids.bob }],
  });
  assert.equal(r.status, 422);
  assert.equal(r.json.field, 'templates[0].length_minutes');
  r = await api.post('/api/v1/wfm/schedule', {
    start_date: '2030-01-07', required: [1, 2], templates: [{ start_earliest: '07:00', length_minutes: 60 }], agents: [{ agent_id: 1 }],
  });
  assert.equal(r.status, 422);
  assert.equal(r.json.field, 'required');
  r = await api.post('/api/v1/wfm/schedule', {
    start_date: '2030-01-07', days: 1, queue_id: ids.queue, required: flat(1, 0, 0, 0),
    templates: [{ start_earliest: '07:00', length_minutes: 60 }], agents: [{ agent_id: 1 }],
  });
  assert.equal(r.status, 422);
  r = await api.post('/api/v1/wfm/schedule', {
    start_date: '2030-01-07', required: flat(1, 0, 0, 0), templates: [{ start_earliest: '7am', length_minutes: 60 }],
    agents: [{ agent_id: 1 }],
  });
  assert.equal(r.status, 422);
  assert.equal(r.json.field, 'templates[0].start_earliest');
  r = await agentApi.post('/api/v1/wfm/schedule', {});
  assert.equal(r.status, 403);
});

test('a queue\'s forecast staffed into a schedule', async () => {
  const today = new Date().toISOString().slice(0, 10);
  const r = await api.post('/api/v1/wfm/schedule', {
    start_date: today, days: 1, queue_id: ids.queue, staffing: { shrinkage: 0.2, history_days: 7 },
    templates: [{ start_earliest: '00:00', start_latest: '16:00', start_step_minutes: 60, length_minutes: 480 }],
    agents: [{ agent_id: ids.bob }], time_limit_seconds: 2,
  });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.source.kind, 'queue');
  assert.equal(r.json.source.queue_id, ids.queue);
  assert.equal(r.json.required.length, 96);
});

test('a published schedule and the agent\'s states give adherence', async () => {
  // one hour of work from the current quarter hour (two days, so that an
  // hour that runs past midnight UTC still fits)
  const now = new Date();
  const day0 = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate());
  const cur = Math.floor((now.getTime() - day0) / 900000);
  const hhmm = `${String(Math.floor(cur / 4)).padStart(2, '0')}:${String((cur % 4) * 15).padStart(2, '0')}`;
  const today = new Date(day0).toISOString().slice(0, 10);
  const required = flat(1, cur, cur + 4, 1).concat(flat(1, 0, 0, 0));
  let r = await api.post('/api/v1/wfm/schedule', {
    name: 'Adherence check', start_date: today, days: 2, required, save: true,
    templates: [{ name: 'Hour', start_earliest: hhmm, start_latest: hhmm, length_minutes: 60 }],
    agents: [{ agent_id: ids.wendy }], time_limit_seconds: 2,
  });
  assert.equal(r.status, 201, r.text);
  assert.equal(r.json.status, 'draft');
  assert.ok(r.json.id > 0);
  const id = r.json.id;
  assert.equal(r.json.shifts.length, 1);
  assert.equal(r.json.shifts[0].agent_id, ids.wendy);
  assert.equal(r.json.shifts[0].start_interval, cur);

  // a draft does not count
  r = await api.get(`/api/v1/wfm/adherence?date=${today}`);
  assert.equal(r.status, 200, r.text);
  assert.ok(!r.json.agents.some((a) => a.agent_id === ids.wendy));

  r = await api.get('/api/v1/wfm/schedules');
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.items[0].id, id);
  assert.equal(r.json.items[0].status, 'draft');
  r = await api.post(`/api/v1/wfm/schedules/${id}/publish`, {});
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.status, 'published');
  assert.ok(r.json.published_at);
  r = await api.get(`/api/v1/wfm/schedules/${id}`);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.name, 'Adherence check');
  assert.equal(r.json.status, 'published');
  r = await api.get('/api/v1/events?type=schedule.');
  assert.deepEqual(r.json.items.map((e) => e.type).slice(-2), ['schedule.created', 'schedule.published']);

  r = await setState('available');
  assert.equal(r.status, 200, r.text);
  await sleep(300);
  r = await api.get('/api/v1/wfm/adherence');
  assert.equal(r.status, 200, r.text);
  let a = r.json.agents.find((x) => x.agent_id === ids.wendy);
  assert.ok(a, r.text);
  assert.equal(r.json.date, today);
  assert.ok(r.json.schedules.includes(id));
  assert.equal(a.name, 'Wendy');
  assert.equal(a.schedule_id, id);
  assert.equal(a.scheduled[cur], 'work');
  assert.equal(a.current.scheduled, 'work');
  assert.equal(a.current.state, 'available');
  assert.equal(a.current.in_adherence, true);
  assert.equal(typeof a.percent, 'number');
  assert.ok(a.scheduled_seconds > 0);

  r = await setState('away');
  assert.equal(r.status, 200, r.text);
  await sleep(300);
  r = await api.get(`/api/v1/wfm/adherence?date=${today}`);
  a = r.json.agents.find((x) => x.agent_id === ids.wendy);
  assert.equal(a.current.state, 'away');
  assert.equal(a.current.in_adherence, false);
  assert.ok(a.adherent_seconds < a.scheduled_seconds);
  assert.ok(a.percent < 100);
  // the state held longest so far in this quarter hour (offline before the
  // agent existed counts too); nothing yet for the quarter hours to come
  assert.ok(['offline', 'available', 'away'].includes(a.actual[cur]), String(a.actual[cur]));
  if (cur < 95) assert.equal(a.actual[cur + 1], null);
  if (cur < 95) assert.equal(a.adherence[cur + 1], null);

  // another day: nobody scheduled
  r = await api.get('/api/v1/wfm/adherence?date=2031-02-03');
  assert.equal(r.status, 200);
  assert.deepEqual(r.json.agents, []);
  assert.equal(r.json.percent, null);
  r = await api.get('/api/v1/wfm/adherence?date=2031-02-30');
  assert.equal(r.status, 422);
  r = await api.get('/api/v1/wfm/schedules/424242');
  assert.equal(r.status, 404);
  r = await api.post('/api/v1/wfm/schedules/424242/publish', {});
  assert.equal(r.status, 404);
  r = await agentApi.get('/api/v1/wfm/adherence');
  assert.equal(r.status, 403);
});
