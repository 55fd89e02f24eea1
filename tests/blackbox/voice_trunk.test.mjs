// Calls through SIP trunks (docs/VOICE.md "Calls" 7 and 8, "Numbers, menus,
// trunks", "The call limit"): the real server on 127.0.0.1 with
// DATA/voice_trunks listing 127.0.0.1 (callers from it need no digest) and
// `outbound 127.0.0.1:PORT`, where SIPp plays the far end of the trunk
// (tests/sipp/trunk_uas*.xml, with -rtp_echo: what it hears goes back).
// The agent's phone is baresip (auto-answer, a 600 Hz tone, recording what
// it hears).
//   - callback: a caller whose caller id is a number waits in a queue with
//     no agent, hears the position and "press 1 to be called back", presses
//     1 (RFC 4733, SIPp's dtmf_2833_1.pcap, payload type 101): the server
//     confirms and hangs up, the task keeps its place; the agent becomes
//     available, the agent's phone rings and answers, then the caller's
//     number is dialled through the trunk, answered and bridged (the agent
//     hears its own tone echoed by the trunk); the trunk hangs up; the
//     task completes;
//   - click to dial: POST /api/v1/calls {"number"} rings the agent's phone,
//     then dials the number through the trunk; hold and resume (409 before
//     the call is talking), GET /api/v1/calls, hang-up from the API (both
//     legs get a BYE);
//   - the call limit (HOTLINE_VOICE_MAX_CALLS=1): a second INVITE gets 503
//     with Retry-After: 5; once the first call ends, calls are answered
//     again;
//   - session timers: Session-Expires 30 gets 422 with Min-SE: 90; 120 is
//     answered with Require: timer and Session-Expires: 120;refresher=uac
//     (expiry itself is not waited for: 120 s).
// Each test has a fresh server. Every SIPp run is bounded by -m, -timeout
// and a kill timer; baresip by -t and a kill timer. Skips without sipp (and
// baresip where a phone is needed).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import dgram from 'node:dgram';
import { mkdtempSync, writeFileSync, readFileSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer, freePort, login, client } from '../lib/server.mjs';
import { waitFor, sleep } from '../lib/wait.mjs';
import { baresip, haveBaresip, writeSipAccounts, toneWindows, recording } from '../lib/baresip.mjs';
import { run, sipp, freeUdpPort, show } from '../lib/sipp.mjs';

const SIPP_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', 'sipp');
const ANN = { user: 'ann', pass: 'ann-sip-pass-1', web: 'ann-web-password-1' };
const MAIN = '7000';              // queue "Phone", ann's
const CUSTOMER = '+46701234567';  // the caller id (a number: a callback is possible)
const OUTSIDE = '5550100';        // dialled from the desktop
const AGENT_HZ = 600;
const PCAP = '/usr/share/sip-tester/dtmf_2833_1.pcap';
const have = (bin) => spawnSync('sh', ['-c', `command -v ${bin}`]).status === 0;
const haveSipp = have('sipp');
const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
const noSipp = !haveSipp && 'sipp (sip-tester) not installed';
const noPhone = noSipp || (!haveBaresip && 'baresip not installed');


// A server with: ann (agent user, SIP account, agent Ann on queue Phone:
// offers last 20 s, no wrap-up, the position announced every 4 s), the
// number MAIN -> Phone, 127.0.0.1 as a trunk and the outbound trunk at
// 127.0.0.1:srv.trunkPort (nothing listens there until a test starts SIPp).
async function trunkServer({ env } = {}) {
  const dataDir = mkdtempSync(join(tmpdir(), 'hotline-trunk-'));
  writeSipAccounts(dataDir, [ANN]);
  // SIP on a port free for UDP too; taken meanwhile (the RTP of other
  // programs on this machine): another port
  let srv, sipPort;
  for (let attempt = 1; !srv; attempt++) {
    sipPort = await freeUdpPort();
    try {
      srv = await startServer({ dataDir, env, args: ['--sip-port', String(sipPort)] });
    } catch (e) {
      if (attempt >= 3 || !/could not listen for SIP/.test(String(e.message))) throw e;
    }
  }
  let trunkPort;
  do trunkPort = await freeUdpPort(); while (Math.abs(trunkPort - sipPort) < 3);
  srv.sipPort = sipPort;
  srv.trunkPort = trunkPort;
  try {
    const api = client(srv.base, (await login(srv.base)).token);
    const q = await api.post('/api/v1/queues', { name: 'Phone', channels: ['voice'], offer_timeout_seconds: 20,
      wrap_up_seconds: 0, voice_announce_s: 4 });
    assert.equal(q.status, 201, q.text);
    const u = await api.post('/api/v1/users', { username: ANN.user, role: 'agent', password: ANN.web });
    assert.equal(u.status, 201, u.text);
    const ag = await api.post('/api/v1/agents', { name: 'Ann', user_id: u.json.id, capacity: { voice: 1 },
      queues: [q.json.id] });
    assert.equal(ag.status, 201, ag.text);
    writeFileSync(join(dataDir, 'voice_trunks'),
      `# SIPp callers, and SIPp as the carrier\n127.0.0.1\noutbound 127.0.0.1:${trunkPort}\n`);
    writeFileSync(join(dataDir, 'voice_numbers'), `# number target\n${MAIN} queue:${q.json.id}\n`);
    await waitFor(() => /1 service number\(s\) from/.test(srv.log) &&
      /1 trunk address\(es\) and an outbound trunk from/.test(srv.log), 10000, 'the voice files loaded')
      .catch((e) => { throw new Error(`${e.message}\n${srv.log.slice(-3000)}`); });
    const annApi = client(srv.base, (await login(srv.base, ANN.user, ANN.web)).token);
    await waitFor(async () => (await annApi.get(`/api/v1/agents/${ag.json.id}/state`)).status === 200);
    // every event of a type prefix, paged
    const events = async (type = '') => {
      const out = [];
      for (let after = 0; ;) {
        const r = await api.get(`/api/v1/events?after=${after}&limit=200${type ? `&type=${type}` : ''}`);
        assert.equal(r.status, 200, r.text);
        out.push(...r.json.items);
        if (!r.json.items.length || !r.json.next_after) return out;
        after = r.json.next_after;
      }
    };
    const work = mkdtempSync(join(tmpdir(), 'hotline-trunk-peers-'));
    return Object.assign(srv, {
      api, annApi, events, work,
      ids: { queue: q.json.id, agent: ag.json.id },
      callEvents: async (call) => (await events('call.')).filter((e) => e.payload?.call === call),
      taskEvents: async (task) => (await events('task.')).filter((e) => e.interaction === task),
      async available() {
        const r = await annApi.put(`/api/v1/agents/${ag.json.id}/state`, { state: 'available' });
        assert.equal(r.status, 200, r.text);
      },
      // the agent's phone: baresip, registered, auto-answer, a 600 Hz tone
      async phone(seconds = 60) {
        const p = await baresip({ work, sipPort, name: `agent-${Date.now()}`, user: ANN.user, pass: ANN.pass,
          hz: AGENT_HZ, answer: true, register: true, seconds });
        await waitFor(() => /ann registered sip:/.test(srv.log), 15000, 'the agent\'s phone registered')
          .catch((e) => { throw new Error(`${e.message}\n${p.out.slice(-2000)}\n${srv.log.slice(-3000)}`); });
        return p;
      },
      async close() {
        const st = await srv.stop();
        rmSync(work, { recursive: true, force: true });
        srv.cleanup();
        assert.equal(st.code, 0, 'the server stopped cleanly');
      },
    });
  } catch (e) {
    await srv.stop();
    srv.cleanup();
    throw e;
  }
}

async function stopPhone(p) {
  if (!p) return;
  try { await p.ctrl.command('quit'); } catch { /* gone already */ }
  const t = setTimeout(() => p.proc?.kill('SIGKILL'), 5000);
  await p.done;
  clearTimeout(t);
}

const types = (story) => story.map((e) => e.type);
const before = (list, a, b) => list.indexOf(a) >= 0 && list.indexOf(b) >= 0 && list.indexOf(a) < list.indexOf(b);

test('callback: press 1 (RFC 4733) while queued, the server hangs up; the agent answers, then the caller\'s number is dialled through the trunk and bridged',
  { skip: noPhone || (!existsSync(PCAP) && `${PCAP} missing`) || (!isRoot && 'pcap play needs a raw socket (root)') },
  async (t0) => {
    const srv = await trunkServer();
    let agent, caller, trunk, trunkRun;
    const ctx = () => `${show('trunk', trunk)}${show('caller', caller)}\n--- agent phone:\n${(agent?.out || '').slice(-1500)}` +
      `\n--- server log:\n${srv.log.slice(-6000)}`;
    try {
      // the carrier, waiting for the callback's INVITE; echoes the audio
      trunkRun = sipp(srv, 'trunk_uas_hangup.xml', ['-d', '4000', '-m', '1', '-rtp_echo'],
        { port: srv.trunkPort, timeout: 60 });
      await sleep(300);
      // no agent available: queued; the position (and the callback offer)
      // is announced 1.5 s in; 1 pressed 3.5 s after the answer
      caller = await sipp(srv, 'trunk_callback.xml', ['-s', MAIN, '-key', 'caller', CUSTOMER, '-d', '3500', '-m', '1'],
        { timeout: 30 });
      assert.equal(caller.code, 0, `the caller pressed 1 and got the server's BYE:\n${ctx()}`);
      assert.match(caller.trace, /BYE sip:/, 'the server hung up');
      const req = await waitFor(async () => (await srv.events('call.callback_requested'))[0], 5000,
        'call.callback_requested').catch((e) => { throw new Error(`${e.message}\n${ctx()}`); });
      const call = req.payload.call;
      assert.equal(req.payload.number, CUSTOMER);
      let story = await srv.callEvents(call);
      let t = types(story);
      assert.ok(before(t, 'call.queued', 'call.announced') && before(t, 'call.announced', 'call.digit') &&
        before(t, 'call.digit', 'call.callback_requested'), `queued, announced, digit, callback requested: ${t}`);
      const started = story.find((e) => e.type === 'call.started').payload;
      assert.equal(started.caller, CUSTOMER);
      assert.equal(started.direction, 'inbound');
      const digits = story.filter((e) => e.type === 'call.digit').map((e) => e.payload);
      assert.deepEqual(digits.map((d) => [d.digit, d.source]), [['1', 'rfc4733']], JSON.stringify(digits));
      assert.ok(!t.includes('call.ended'), `the call lives on without its caller: ${t}`);
      const task = story.find((e) => e.type === 'call.queued').payload.task;
      // the task keeps its place: not abandoned; the call is waiting for its callback
      await sleep(500);
      assert.ok(!types(await srv.taskEvents(task)).includes('task.abandoned'), 'the task was not abandoned');
      const live = await srv.api.get('/api/v1/calls');
      assert.equal(live.status, 200, live.text);
      const mine = live.json.items.find((c) => c.call === call);
      assert.ok(mine, `the call is listed: ${live.text}`);
      assert.equal(mine.state, 'callback', live.text);
      assert.equal(mine.task, task);

      // an agent: the phone rings first, then the number is called
      agent = await srv.phone(60);
      await srv.available();
      trunk = await trunkRun;
      assert.equal(trunk.code, 0, `the trunk took the callback, answered and hung up:\n${ctx()}`);
      assert.match(trunk.trace, new RegExp(`INVITE sip:\\${CUSTOMER}@127\\.0\\.0\\.1:${srv.trunkPort} SIP/2\\.0`),
        'the callback went to the caller\'s number through the outbound trunk');
      const invite = trunk.trace.split(/-{20,}/).find((m) => /^\s*INVITE sip:/m.test(m));
      assert.match(invite, /^m=audio \d+ RTP\/AVP 0 101\r?$/m, 'offering the call\'s codec (PCMU) only');
      assert.match(invite, new RegExp(`^From: .*<sip:${MAIN}@127\\.0\\.0\\.1[:>]`, 'm'),
        'the customer sees the service number they called');
      const ended = await waitFor(async () => (await srv.callEvents(call)).find((e) => e.type === 'call.ended'),
        10000, 'call.ended').catch((e) => { throw new Error(`${e.message}\n${ctx()}`); });
      story = await srv.callEvents(call);
      t = types(story);
      for (const [a, b] of [['call.callback_requested', 'call.ringing'], ['call.ringing', 'call.callback_dialing'],
        ['call.callback_dialing', 'call.answered'], ['call.answered', 'call.ended']])
        assert.ok(before(t, a, b), `${a} before ${b}: ${t}`);
      assert.equal(story.find((e) => e.type === 'call.ringing').payload.username, ANN.user);
      assert.equal(story.find((e) => e.type === 'call.callback_dialing').payload.number, CUSTOMER);
      assert.equal(story.find((e) => e.type === 'call.answered').payload.username, ANN.user);
      assert.equal(ended.payload.by, 'caller', JSON.stringify(ended.payload));
      assert.ok(ended.payload.talk_ms >= 3000, JSON.stringify(ended.payload));
      // the agent's leg ended with the call
      await agent.ctrl.waitEvent('CALL_CLOSED', 10000);
      const tt = await waitFor(async () => {
        const x = types(await srv.taskEvents(task));
        return x.includes('task.completed') && x;
      }, 10000, 'task.completed').catch((e) => { throw new Error(`${e.message}\n${ctx()}`); });
      assert.ok(before(tt, 'task.offered', 'task.accepted') && before(tt, 'task.accepted', 'task.completed'), tt.join());
      assert.ok(!tt.includes('task.abandoned'), tt.join());
      await stopPhone(agent);
      // bridged both ways: the trunk echoed the agent's tone back to the agent
      const heard = toneWindows(recording(agent), AGENT_HZ);
      t0.diagnostic(`the agent heard its own tone back in ${heard} windows of 100 ms`);
      assert.ok(heard >= 10, `the agent heard its ${AGENT_HZ} Hz through the trunk (${heard} windows of 100 ms)`);
    } finally {
      await stopPhone(agent);
      await trunkRun;
      await srv.close();
    }
  });

test('click to dial: the agent\'s phone rings, then the number through the trunk; hold, resume, hang up from the API',
  { skip: noPhone }, async (t0) => {
    const srv = await trunkServer();
    let agent, trunk, trunkRun;
    const ctx = () => `${show('trunk', trunk)}\n--- agent phone:\n${(agent?.out || '').slice(-1500)}` +
      `\n--- server log:\n${srv.log.slice(-6000)}`;
    try {
      agent = await srv.phone(60);
      // the carrier rings 1.5 s, answers, echoes, waits for the BYE
      trunkRun = sipp(srv, 'trunk_uas.xml', ['-d', '1500', '-m', '1', '-rtp_echo'], { port: srv.trunkPort, timeout: 40 });
      await sleep(300);
      const r = await srv.annApi.post('/api/v1/calls', { number: OUTSIDE });
      assert.equal(r.status, 201, `POST /api/v1/calls (click to dial): ${r.status} ${r.text}`);
      const call = r.json.call;
      assert.ok(Number.isSafeInteger(call) && call > 0, r.text);
      // not talking yet (the phone or the number is still ringing)
      const early = await srv.annApi.post(`/api/v1/calls/${call}/hold`);
      assert.equal(early.status, 409, `hold before the call is answered: ${early.text}`);
      const answered = await waitFor(async () => (await srv.callEvents(call)).find((e) => e.type === 'call.answered'),
        15000, 'call.answered').catch((e) => { throw new Error(`${e.message}\n${ctx()}`); });
      assert.equal(answered.payload.username, ANN.user);
      // the agent's phone rang first, showing the number
      const inc = agent.ctrl.events.find((e) => e.type === 'CALL_INCOMING' || e.type === 'CALL_ESTABLISHED');
      assert.ok(inc, `the agent's phone got the call: ${agent.ctrl.events.map((e) => e.type)}`);
      assert.match(JSON.stringify(inc), new RegExp(OUTSIDE), `the phone shows the number: ${JSON.stringify(inc)}`);
      const started = (await srv.callEvents(call)).find((e) => e.type === 'call.started');
      assert.equal(started.payload.direction, 'outbound');
      assert.equal(started.payload.number, OUTSIDE);
      // the agent's own list
      const list = async () => {
        const l = await srv.annApi.get('/api/v1/calls');
        assert.equal(l.status, 200, l.text);
        return l.json.items.find((c) => c.call === call);
      };
      const talking = await list();
      assert.ok(talking, 'the agent sees the call');
      assert.equal(talking.direction, 'outbound');
      assert.equal(talking.state, 'talking');
      assert.equal(talking.number, OUTSIDE);
      assert.equal(talking.agent, srv.ids.agent);
      await sleep(1500); // talking: the agent's tone goes to the trunk and comes back
      const h = await srv.annApi.post(`/api/v1/calls/${call}/hold`);
      assert.equal(h.status, 200, h.text);
      await waitFor(async () => (await srv.callEvents(call)).some((e) => e.type === 'call.held'), 5000, 'call.held');
      assert.equal((await srv.callEvents(call)).find((e) => e.type === 'call.held').payload.by, 'api');
      assert.equal((await list()).state, 'held');
      await sleep(500);
      const res = await srv.annApi.post(`/api/v1/calls/${call}/resume`);
      assert.equal(res.status, 200, res.text);
      await waitFor(async () => (await srv.callEvents(call)).some((e) => e.type === 'call.resumed'), 5000, 'call.resumed');
      assert.equal((await list()).state, 'talking');
      await sleep(1000);
      const hu = await srv.annApi.post(`/api/v1/calls/${call}/hangup`);
      assert.equal(hu.status, 200, hu.text);
      const ended = await waitFor(async () => (await srv.callEvents(call)).find((e) => e.type === 'call.ended'),
        5000, 'call.ended');
      assert.equal(ended.payload.by, 'api', JSON.stringify(ended.payload));
      // both legs got a BYE
      trunk = await trunkRun;
      assert.equal(trunk.code, 0, `the trunk answered and got the server's BYE:\n${ctx()}`);
      assert.match(trunk.trace, new RegExp(`INVITE sip:${OUTSIDE}@127\\.0\\.0\\.1:${srv.trunkPort} SIP/2\\.0`));
      assert.match(trunk.trace, /BYE sip:/);
      await agent.ctrl.waitEvent('CALL_CLOSED', 5000);
      const t = types(await srv.callEvents(call));
      for (const [a, b] of [['call.started', 'call.answered'], ['call.answered', 'call.held'],
        ['call.held', 'call.resumed'], ['call.resumed', 'call.ended']])
        assert.ok(before(t, a, b), `${a} before ${b}: ${t}`);
      assert.equal((await srv.annApi.post(`/api/v1/calls/${call}/hold`)).status, 404, 'the call is gone');
      assert.ok(!(await list()), 'no longer listed');
      await stopPhone(agent);
      const heard = toneWindows(recording(agent), AGENT_HZ);
      t0.diagnostic(`the agent heard its own tone back in ${heard} windows of 100 ms`);
      assert.ok(heard >= 10, `the agent heard its ${AGENT_HZ} Hz echoed by the trunk (${heard} windows of 100 ms)`);
    } finally {
      await stopPhone(agent);
      await trunkRun;
      await srv.close();
    }
  });

test('the call limit (HOTLINE_VOICE_MAX_CALLS=1): a second INVITE gets 503 with Retry-After: 5; after the first ends, calls are answered again',
  { skip: noSipp }, async () => {
    const srv = await trunkServer({ env: { HOTLINE_VOICE_MAX_CALLS: '1' } });
    let first, second, third;
    const ctx = () => `${show('first', first)}${show('second', second)}${show('third', third)}` +
      `\n--- server log:\n${srv.log.slice(-5000)}`;
    try {
      const firstRun = sipp(srv, 'trunk_caller.xml', ['-s', MAIN, '-key', 'caller', CUSTOMER, '-d', '6000', '-m', '1'],
        { timeout: 20 });
      const queued = await waitFor(async () => (await srv.events('call.queued'))[0], 10000, 'the first call queued')
        .catch(async (e) => { first = await firstRun; throw new Error(`${e.message}\n${ctx()}`); });
      second = await sipp(srv, 'trunk_overload.xml', ['-s', MAIN, '-m', '1'], { timeout: 10 });
      assert.equal(second.code, 0, `the second call was refused with 503 and Retry-After: 5:\n${ctx()}`);
      assert.match(second.trace, /SIP\/2\.0 503 Service Unavailable/);
      assert.match(second.trace, /Retry-After: 5\r?\n/);
      assert.match(srv.log, /1 calls: the limit; new calls get 503/);
      first = await firstRun;
      assert.equal(first.code, 0, `the first call went on undisturbed:\n${ctx()}`);
      await waitFor(async () => (await srv.events('call.ended')).length === 1, 5000, 'the first call ended');
      const started = await srv.events('call.started');
      assert.equal(started.length, 1, 'the refused INVITE made no call');
      assert.equal(started[0].payload.call, queued.payload.call);
      // the slot is free again
      third = await sipp(srv, 'trunk_caller.xml', ['-s', MAIN, '-key', 'caller', CUSTOMER, '-d', '500', '-m', '1'],
        { timeout: 10 });
      assert.equal(third.code, 0, `a call after the first ended is answered:\n${ctx()}`);
      await waitFor(async () => (await srv.events('call.ended')).length === 2, 5000, 'the third call ended');
    } finally {
      await srv.close();
    }
  });

test('session timers: Session-Expires 30 gets 422 with Min-SE: 90; 120 is answered with Require: timer and Session-Expires: 120;refresher=uac',
  { skip: noSipp }, async () => {
    const srv = await trunkServer();
    let r;
    const ctx = () => `${show('caller', r)}\n--- server log:\n${srv.log.slice(-4000)}`;
    try {
      r = await sipp(srv, 'trunk_timer.xml', ['-s', MAIN, '-d', '1500', '-m', '1'], { timeout: 15 });
      assert.equal(r.code, 0, `422 (Min-SE: 90), then 200 with the session timer:\n${ctx()}`);
      const msgs = r.trace.split(/-{20,}/);
      const small = msgs.find((m) => /SIP\/2\.0 422 /.test(m));
      assert.ok(small, `a 422 in the trace:\n${ctx()}`);
      assert.match(small, /SIP\/2\.0 422 Session Interval Too Small/);
      assert.match(small, /^Min-SE: *90\r?$/m);
      const ok = msgs.find((m) => /SIP\/2\.0 200 OK/.test(m) && /CSeq: *2 INVITE/.test(m));
      assert.ok(ok, `a 200 for the second INVITE:\n${ctx()}`);
      assert.match(ok, /^Require: *timer\r?$/m);
      assert.match(ok, /^Session-Expires: *120;refresher=uac\r?$/m);
      // one call (the refused INVITE made none), ended by the caller
      const ended = await waitFor(async () => (await srv.events('call.ended'))[0], 5000, 'call.ended');
      assert.equal(ended.payload.by, 'caller', JSON.stringify(ended.payload));
      assert.equal((await srv.events('call.started')).length, 1);
    } finally {
      await srv.close();
    }
  });
