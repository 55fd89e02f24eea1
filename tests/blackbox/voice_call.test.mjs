// Voice calls into a queue (docs/VOICE.md "Calls"): the real server on
// 127.0.0.1 with two baresip instances, one the agent's phone (registered,
// auto-answer, a 600 Hz tone), one the caller (a 1000 Hz tone), each
// recording what it hears (sndfile). Checks that the agent's phone rings
// after the caller dials the queue's number, the call is bridged (each
// recording holds the other side's tone, found with a Goertzel filter),
// hanging up ends both legs, and the task's events; and that a caller who
// hangs up while queued leaves task.abandoned. Skips without baresip.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer, freePort, login, client } from '../lib/server.mjs';
import { baresip, haveBaresip, writeSipAccounts, toneWindows, recording } from '../lib/baresip.mjs';
import { waitFor, openJsonWs, sleep } from '../lib/wait.mjs';

const ANN = { user: 'ann', pass: 'ann-sip-pass-1' };     // the agent's phone
const CAROL = { user: 'carol', pass: 'carol-sip-pass-2' }; // a caller's phone
const NUMBER = '5000', QUICK = '5001';
const AGENT_HZ = 600, CALLER_HZ = 1000;

let srv, api, dataDir, work, ids = {}, annWs;

// A baresip phone of this test (tests/lib/baresip.mjs).
const phone = (name, opts) => baresip({ work, sipPort: srv.sipPort, name, ...opts });

const events = async (type) => (await api.get(`/api/v1/events?type=${type}&limit=200`)).json.items;
const taskEvents = async (id) => (await api.get(`/api/v1/events?interaction=${id}&limit=200`)).json.items.map((e) => e.type);

before(async () => {
  if (!haveBaresip) return;
  dataDir = mkdtempSync(join(tmpdir(), 'hotline-voice-'));
  work = mkdtempSync(join(tmpdir(), 'hotline-voice-peers-'));
  writeSipAccounts(dataDir, [ANN, CAROL]);
  const sipPort = await freePort();
  srv = await startServer({ dataDir, args: ['--sip-port', String(sipPort)] });
  srv.sipPort = sipPort;
  const admin = await login(srv.base);
  api = client(srv.base, admin.token);
  const q = await api.post('/api/v1/queues', { name: 'Phone', channels: ['voice'], offer_timeout_seconds: 20,
    wrap_up_seconds: 30 });
  assert.equal(q.status, 201, q.text);
  const u = await api.post('/api/v1/users', { username: ANN.user, role: 'agent', password: 'ann-web-password-1' });
  assert.equal(u.status, 201, u.text);
  // a second queue whose offers time out quickly
  const q2 = await api.post('/api/v1/queues', { name: 'Quick', channels: ['voice'], offer_timeout_seconds: 5,
    wrap_up_seconds: 0 });
  assert.equal(q2.status, 201, q2.text);
  const ag = await api.post('/api/v1/agents', { name: 'Ann', user_id: u.json.id, capacity: { voice: 1 },
    queues: [q.json.id, q2.json.id] });
  assert.equal(ag.status, 201, ag.text);
  ids = { queue: q.json.id, agent: ag.json.id };
  writeFileSync(join(dataDir, 'voice_numbers'), `# number queue\n${NUMBER} ${q.json.id}\n${QUICK} ${q2.json.id}\n`);
  // the file is watched off the core thread: wait until it is taken in
  await waitFor(() => /2 service number\(s\) from/.test(srv.log), 10000, 'the service numbers loaded');
  const ann = await login(srv.base, ANN.user, 'ann-web-password-1');
  annWs = await openJsonWs(`ws://127.0.0.1:${srv.port}/api/v1/events?token=${ann.token}`);
  ids.annApi = client(srv.base, ann.token);
  await waitFor(async () => (await ids.annApi.get(`/api/v1/agents/${ids.agent}/state`)).status === 200);
});

after(async () => {
  if (!haveBaresip) return;
  annWs?.ws.close();
  const st = await srv.stop();
  rmSync(work, { recursive: true, force: true });
  srv.cleanup();
  assert.equal(st.code, 0);
});

test('a caller hanging up while queued abandons the task', { skip: !haveBaresip && 'baresip not installed' },
  async () => {
    // Ann is offline: nobody takes the call; the caller gives up after 4 s.
    const before = (await events('task.created')).length;
    const caller = await phone('early', { user: CAROL.user, pass: CAROL.pass, hz: CALLER_HZ, dial: NUMBER, seconds: 4 });
    await caller.done;
    const created = await waitFor(async () => {
      const e = await events('task.created');
      return e.length > before && e[e.length - 1];
    }, 15000, 'task.created').catch((e) => { throw new Error(`${e.message}\n${caller.out.slice(-3000)}\n${srv.log.slice(-3000)}`); });
    assert.equal(created.payload.channel, 'voice');
    assert.equal(created.payload.attributes.number, NUMBER);
    assert.equal(created.payload.attributes.caller, CAROL.user);
    const types = await waitFor(async () => {
      const t = await taskEvents(created.interaction);
      return t.includes('task.abandoned') && t;
    }, 15000, 'task.abandoned');
    assert.deepEqual(types.filter((t) => t.startsWith('task.')), ['task.created', 'task.abandoned']);
    assert.match(srv.log, /call \d+ \(task \d+\) ends: the caller hung up/);
    const ended = (await events('call.ended')).find((e) => e.interaction === created.interaction);
    assert.ok(ended, 'call.ended');
    assert.equal(ended.payload.by, 'caller');
    assert.equal(ended.payload.talk_ms, 0);
    // the caller heard the queue's music (not silence) while waiting
    const rec = recording(caller);
    let loud = 0;
    for (let w = 0; w + 800 <= rec.s.length; w += 800) {
      let e = 0;
      for (let i = w; i < w + 800; i++) e += rec.s[i] * rec.s[i];
      if (Math.sqrt(e / 800) > 200) loud++;
    }
    assert.ok(loud >= 10, `the caller heard music while queued (${loud} loud windows of 100 ms)`);
  });

test('a call to the queue number rings the agent\'s phone, is bridged both ways and ends on hang-up',
  { skip: !haveBaresip && 'baresip not installed' }, async () => {
    const agent = await phone('agent', { user: ANN.user, pass: ANN.pass, hz: AGENT_HZ, answer: true,
      register: true, seconds: 40 });
    await waitFor(() => /ann registered sip:/.test(srv.log), 15000, 'the agent\'s phone registered');
    const r = await ids.annApi.put(`/api/v1/agents/${ids.agent}/state`, { state: 'available' });
    assert.equal(r.status, 200, r.text);
    const before = (await events('task.created')).length;
    const caller = await phone('caller', { user: CAROL.user, pass: CAROL.pass, hz: CALLER_HZ, dial: NUMBER,
      seconds: 14 });
    await waitFor(() => /call \d+: ringing ann/.test(srv.log), 20000, 'the agent\'s phone rings');
    await waitFor(() => /call \d+: bridged/.test(srv.log), 20000, 'bridged');
    await caller.done;
    await waitFor(() => /call \d+ \(task \d+\) ends: the caller hung up/.test(srv.log.split('bridged').pop()), 15000,
      'hang-up ends the call');
    await agent.done;
    assert.match(agent.out, /Call with sip:[^ ]+ terminated|terminated/i, agent.out.slice(-2000));
    const created = (await events('task.created')).slice(before)[0];
    assert.ok(created, 'task.created');
    const types = await waitFor(async () => {
      const t = await taskEvents(created.interaction);
      return t.includes('task.wrapup_started') && t;
    }, 15000, 'wrap-up');
    for (const t of ['task.created', 'task.offered', 'task.accepted', 'task.completed', 'task.wrapup_started'])
      assert.ok(types.includes(t), `${t} in ${types}`);
    // every step of the call is an event too, in order
    const calls = types.filter((t) => t.startsWith('call.'));
    assert.deepEqual(calls.filter((t) => ['call.queued', 'call.ringing', 'call.answered', 'call.ended'].includes(t)),
      ['call.queued', 'call.ringing', 'call.answered', 'call.ended'], calls.join());
    const offer = annWs.msgs.find((m) => m.type === 'offer' && m.task.id === created.interaction);
    assert.ok(offer, 'the offer reached the agent\'s desktop too');
    assert.equal(offer.task.channel, 'voice');
    const heardByAgent = recording(agent), heardByCaller = recording(caller);
    const a = toneWindows(heardByAgent, CALLER_HZ), c = toneWindows(heardByCaller, AGENT_HZ);
    assert.ok(a >= 10, `the agent heard the caller's ${CALLER_HZ} Hz (${a} windows)`);
    assert.ok(c >= 10, `the caller heard the agent's ${AGENT_HZ} Hz (${c} windows of ${heardByCaller.s.length / 800})\n`
      + `--- caller:\n${caller.out.slice(-3000)}\n--- server:\n${srv.log.slice(-4000)}`);
    assert.ok(toneWindows(heardByAgent, AGENT_HZ) < 3, 'no echo of the agent\'s own tone');
    // the agent ends the wrap-up on the desktop and is available again
    const w = await ids.annApi.post(`/api/v1/tasks/${created.interaction}/wrapup`, { disposition: 'ok' });
    assert.equal(w.status, 200, w.text);
    assert.equal(w.json.state, 'done');
  });

test('an offer the phone does not answer times out: the phone\'s INVITE is cancelled and the task offered again',
  { skip: !haveBaresip && 'baresip not installed' }, async () => {
    // Ann's phone rings but nobody answers; the queue's offers last 5 s.
    const agent = await phone('agent-noanswer', { user: ANN.user, pass: ANN.pass, hz: AGENT_HZ, manual: true,
      register: true, seconds: 30 });
    const mark = srv.log.length;
    await waitFor(() => /ann registered sip:/.test(srv.log.slice(mark)), 15000, 'the agent\'s phone registered');
    const st = await ids.annApi.put(`/api/v1/agents/${ids.agent}/state`, { state: 'available' });
    assert.equal(st.status, 200, st.text);
    const before = (await events('task.created')).length;
    const caller = await phone('caller-noanswer', { user: CAROL.user, pass: CAROL.pass, hz: CALLER_HZ, dial: QUICK,
      seconds: 16 });
    const created = await waitFor(async () => (await events('task.created')).slice(before)[0], 15000, 'task.created');
    const types = await waitFor(async () => {
      const t = await taskEvents(created.interaction);
      return t.filter((x) => x === 'task.offered').length >= 2 && t;
    }, 25000, 'offered again');
    assert.ok(types.includes('task.timed_out'), types.join());
    assert.match(srv.log.slice(mark), /call \d+: the offer to ann ended; cancelling the call to the phone/);
    await caller.done;
    const end = await waitFor(async () => {
      const t = await taskEvents(created.interaction);
      return t.includes('task.abandoned') && t;
    }, 15000, 'abandoned when the caller hangs up');
    assert.ok(!end.includes('task.accepted'), end.join());
    await agent.done;
    assert.match(agent.out, /Incoming call from/i, agent.out.slice(-2000));
  });
