// Voice call flows driven by SIPp (docs/VOICE.md "Calls"): the real server
// on 127.0.0.1, callers coming in through a trunk (DATA/voice_trunks lists
// 127.0.0.1, so their INVITEs need no digest) and the agent's phone played
// by SIPp in uas mode. Scenarios in tests/sipp/voice_*.xml:
//   - an RFC 4733 digit (SIPp's dtmf_2833_1.pcap) picks a menu's queue;
//   - the caller hangs up while the agent's phone rings: the server CANCELs
//     the phone's INVITE and the task is abandoned;
//   - the phone declines an offer (486): the task is offered again, the
//     phone answers, the call is bridged;
//   - the agent's phone blind-transfers the caller with REFER to a second
//     queue's number: a new task there, the first one wraps up.
// No media checks (the baresip tests in voice_call.test.mjs judge audio).
// Every SIPp run is bounded by -m, -timeout and a kill timer. Each test has
// a fresh server. Skips without sipp.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import dgram from 'node:dgram';
import net from 'node:net';
import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync, readFileSync, existsSync, rmSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer, freePort, login, client } from '../lib/server.mjs';
import { waitFor, openJsonWs, sleep } from '../lib/wait.mjs';
import { run, sipp, sippPorts, show } from '../lib/sipp.mjs';

const SIPP_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', 'sipp');
const REALM = 'hotline';
const ANN = { user: 'ann', pass: 'ann-sip-pass-1' }; // the agent's phone (SIPp)
const MAIN = '6000';  // queue "Phone": the agent's queue
const SECOND = '6002'; // queue "Second": nobody serves it
const MENU = '6100';  // menu "main": 1 -> Second, 2 -> Phone
const md5 = (s) => createHash('md5').update(s).digest('hex');
const have = (bin) => spawnSync('sh', ['-c', `command -v ${bin}`]).status === 0;
const haveSipp = have('sipp');
const PCAP = '/usr/share/sip-tester/dtmf_2833_1.pcap';
// pcap play sends through a raw socket: root (or CAP_NET_RAW) only
const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

// A child process bounded by a kill timer; handle.kill() stops it early.

// A server with: ann (agent user, SIP account), queues Phone (ann's; offers
// last 5 s, 30 s wrap-up) and Second (nobody's), numbers MAIN -> Phone,
// SECOND -> queue:Second, MENU -> menu:main, and 127.0.0.1 as a trunk.
async function voiceServer() {
  const dataDir = mkdtempSync(join(tmpdir(), 'hotline-voice-sipp-'));
  writeFileSync(join(dataDir, 'sip_accounts'), `${ANN.user}:${REALM}:${md5(`${ANN.user}:${REALM}:${ANN.pass}`)}\n`);
  chmodSync(join(dataDir, 'sip_accounts'), 0o600);
  const sipPort = await freePort();
  const srv = await startServer({ dataDir, args: ['--sip-port', String(sipPort)] });
  srv.sipPort = sipPort;
  try {
    const admin = await login(srv.base);
    const api = client(srv.base, admin.token);
    const q1 = await api.post('/api/v1/queues', { name: 'Phone', channels: ['voice'], offer_timeout_seconds: 5,
      wrap_up_seconds: 30 });
    assert.equal(q1.status, 201, q1.text);
    const q2 = await api.post('/api/v1/queues', { name: 'Second', channels: ['voice'], offer_timeout_seconds: 5,
      wrap_up_seconds: 0 });
    assert.equal(q2.status, 201, q2.text);
    const u = await api.post('/api/v1/users', { username: ANN.user, role: 'agent', password: 'ann-web-password-1' });
    assert.equal(u.status, 201, u.text);
    const ag = await api.post('/api/v1/agents', { name: 'Ann', user_id: u.json.id, capacity: { voice: 1 },
      queues: [q1.json.id] });
    assert.equal(ag.status, 201, ag.text);
    writeFileSync(join(dataDir, 'voice_trunks'), '# SIPp callers\n127.0.0.1\n');
    writeFileSync(join(dataDir, 'voice_menus'), ['[main]', 'language = en', 'greeting = Press one for the second queue.',
      `1 = queue:${q2.json.id}`, `2 = queue:${q1.json.id}`, 'timeout = 5', 'retries = 2', ''].join('\n'));
    writeFileSync(join(dataDir, 'voice_numbers'),
      `# number target\n${MAIN} ${q1.json.id}\n${SECOND} queue:${q2.json.id}\n${MENU} menu:main\n`);
    // the files are watched off the core thread: wait until they are taken in
    await waitFor(() => /3 service number\(s\) from/.test(srv.log) && /1 menu\(s\) from/.test(srv.log) &&
      /1 trunk address\(es\)/.test(srv.log), 10000, 'the voice files loaded');
    const ann = await login(srv.base, ANN.user, 'ann-web-password-1');
    const annWs = await openJsonWs(`ws://127.0.0.1:${srv.port}/api/v1/events?token=${ann.token}`);
    const annApi = client(srv.base, ann.token);
    await waitFor(async () => (await annApi.get(`/api/v1/agents/${ag.json.id}/state`)).status === 200);
    const events = async (type) => (await api.get(`/api/v1/events?type=${type}&limit=200`)).json.items;
    const taskEvents = async (id) => (await api.get(`/api/v1/events?interaction=${id}&limit=200`)).json.items;
    return Object.assign(srv, {
      api, annApi, annWs, events, taskEvents,
      ids: { phone: q1.json.id, second: q2.json.id, agent: ag.json.id },
      async available() {
        const r = await annApi.put(`/api/v1/agents/${ag.json.id}/state`, { state: 'available' });
        assert.equal(r.status, 200, r.text);
      },
      async close() {
        annWs.ws.close();
        const st = await srv.stop();
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

// The agent's phone: registers from port (voice_register.xml), then the
// answering scenario runs on that same port (the server rings the flow the
// phone registered from). Resolves once registered; .done is the uas run,
// .kill() ends it (a test that failed before it finished).
async function agentPhone(srv, scenario, { calls = 1, args = [], timeout = 40 } = {}) {
  const port = await sippPorts(1);
  const reg = await sipp(srv, 'voice_register.xml', ['-s', ANN.user, '-au', ANN.user, '-ap', ANN.pass, '-m', '1'],
    { port, timeout: 10 });
  assert.equal(reg.code, 0, `the phone registered:\n${show('register', reg)}`);
  await waitFor(() => new RegExp(`ann registered sip:ann@127\\.0\\.0\\.1:${port}`).test(srv.log), 5000,
    'the registration in the log');
  const handle = {};
  const phone = { port, kill: () => handle.kill?.() };
  phone.done = sipp(srv, scenario, ['-s', ANN.user, '-m', String(calls), ...args],
    { port, timeout, limit: calls, handle });
  await sleep(300); // SIPp binds its port
  return phone;
}

// The events (of a type=call. listing) of one call, in order.
const callStory = (evs, call) => evs.filter((e) => e.payload?.call === call);

test('SIPp: an RFC 4733 digit (telephone-event, pt 101) picks the menu\'s queue, counted once',
  { skip: (!haveSipp && 'sipp (sip-tester) not installed') || (!existsSync(PCAP) && `${PCAP} missing`) ||
    (!isRoot && 'pcap play needs a raw socket (root)') }, async () => {
    const srv = await voiceServer();
    let caller;
    try {
      caller = await sipp(srv, 'voice_dtmf.xml', ['-s', MENU, '-d', '3000', '-m', '1'], { timeout: 20 });
      const ctx = () => `${show('caller', caller)}\n--- server log:\n${srv.log.slice(-4000)}`;
      assert.equal(caller.code, 0, `the caller's scenario:\n${ctx()}`);
      const ended = await waitFor(async () => (await srv.events('call.ended'))[0], 10000, 'call.ended')
        .catch((e) => { throw new Error(`${e.message}\n${ctx()}`); });
      const call = ended.payload.call;
      const story = callStory(await srv.events('call.'), call);
      const types = story.map((e) => e.type);
      assert.deepEqual(types.filter((t) => ['call.started', 'call.menu', 'call.digit', 'call.queued', 'call.ended']
        .includes(t)), ['call.started', 'call.menu', 'call.digit', 'call.queued', 'call.ended'], `${types}\n${ctx()}`);
      const started = story.find((e) => e.type === 'call.started').payload;
      assert.equal(started.number, MENU);
      assert.equal(started.direction, 'inbound');
      assert.equal(story.find((e) => e.type === 'call.menu').payload.menu, 'main');
      const digits = story.filter((e) => e.type === 'call.digit').map((e) => e.payload);
      assert.equal(digits.length, 1, `one digit from ten packets of one event: ${JSON.stringify(digits)}`);
      assert.equal(digits[0].digit, '1');
      assert.equal(digits[0].source, 'rfc4733');
      const queued = story.find((e) => e.type === 'call.queued').payload;
      assert.equal(queued.queue, srv.ids.second, 'digit 1 -> queue Second');
      assert.equal(ended.payload.by, 'caller', JSON.stringify(ended.payload));
      const task = await waitFor(async () => {
        const t = (await srv.taskEvents(queued.task)).map((e) => e.type);
        return t.includes('task.abandoned') && t;
      }, 10000, 'task.abandoned');
      assert.deepEqual(task.filter((t) => t.startsWith('task.')), ['task.created', 'task.abandoned']);
      const created = (await srv.taskEvents(queued.task)).find((e) => e.type === 'task.created');
      assert.equal(created.queue, srv.ids.second);
      assert.equal(created.payload.channel, 'voice');
    } finally {
      await srv.close();
    }
  });

test('SIPp: the caller hangs up while the agent\'s phone rings: the phone\'s INVITE is cancelled (487), the task abandoned',
  { skip: !haveSipp && 'sipp (sip-tester) not installed' }, async (t) => {
    const srv = await voiceServer();
    let phone, caller, agent;
    const ctx = () => `${show('agent phone', agent)}${show('caller', caller)}\n--- server log:\n${srv.log.slice(-5000)}`;
    try {
      phone = await agentPhone(srv, 'voice_agent_cancel.xml', { timeout: 30 });
      await srv.available();
      // rings at once; the caller gives up after 2.5 s, before the 5 s offer timeout
      caller = await sipp(srv, 'voice_caller.xml', ['-s', MAIN, '-d', '2500', '-m', '1'], { timeout: 20 });
      agent = await phone.done;
      assert.equal(caller.code, 0, `the caller's scenario:\n${ctx()}`);
      assert.equal(agent.code, 0, `the phone rang and was cancelled:\n${ctx()}`);
      assert.match(agent.trace, /CANCEL sip:/, 'a CANCEL reached the phone');
      assert.match(agent.trace, /X-Hotline-Call: \d+/);
      const ended = await waitFor(async () => (await srv.events('call.ended'))[0], 10000, 'call.ended');
      assert.equal(ended.payload.by, 'caller', JSON.stringify(ended.payload));
      const story = callStory(await srv.events('call.'), ended.payload.call);
      const types = story.map((e) => e.type);
      for (const t of ['call.started', 'call.queued', 'call.ringing'])
        assert.ok(types.includes(t), `${t} in ${types}`);
      assert.ok(!types.includes('call.answered'), types.join());
      assert.equal(story.find((e) => e.type === 'call.ringing').payload.username, ANN.user);
      const task = story.find((e) => e.type === 'call.queued').payload.task;
      const tt = await waitFor(async () => {
        const t = (await srv.taskEvents(task)).map((e) => e.type);
        return t.includes('task.abandoned') && t;
      }, 10000, 'task.abandoned').catch((e) => { throw new Error(`${e.message}\n${ctx()}`); });
      assert.ok(tt.includes('task.offered'), tt.join());
      assert.ok(!tt.includes('task.accepted'), tt.join());
      assert.equal(types.filter((x) => x === 'call.ringing').length, 1, `the phone rang once: ${types}`);
      // the agent is free again (not left holding an offer)
      const st = await waitFor(async () => {
        const s = (await srv.annApi.get(`/api/v1/agents/${srv.ids.agent}/state`)).json;
        return s.state === 'available' && s;
      }, 5000, 'the agent available again').catch(async (e) => {
        throw new Error(`${e.message}: ${(await srv.annApi.get(`/api/v1/agents/${srv.ids.agent}/state`)).text}`);
      });
      assert.equal(st.state, 'available');
      // docs/VOICE.md: a caller who hangs up while ringing abandons the task, which
      // withdraws the offer (task.offer_withdrawn, not task.rejected).
      // It is not the agent's miss (ROUTING.md: misses send the agent away).
      await t.test('the caller\'s hang-up is not counted as the agent declining', async () => {
        assert.deepEqual({
          events: tt.filter((x) => x.startsWith('task.')),
          misses: st.misses,
          desktopOffers: srv.annWs.msgs.filter((m) => m.type === 'offer' && m.task?.id === task).length,
        }, { events: ['task.created', 'task.offered', 'task.offer_withdrawn', 'task.abandoned'], misses: 0, desktopOffers: 1 });
      });
    } finally {
      phone?.kill();
      await srv.close();
    }
  });

test('SIPp: the phone declines an offer with 486, the task is offered again, the phone answers and is bridged',
  { skip: !haveSipp && 'sipp (sip-tester) not installed' }, async () => {
    const srv = await voiceServer();
    let phone, caller, agent;
    const ctx = () => `${show('agent phone', agent)}${show('caller', caller)}\n--- server log:\n${srv.log.slice(-5000)}`;
    try {
      phone = await agentPhone(srv, 'voice_agent_busy.xml', { calls: 2, timeout: 30 });
      await srv.available();
      caller = await sipp(srv, 'voice_caller.xml', ['-s', MAIN, '-d', '6000', '-m', '1'], { timeout: 20 });
      agent = await phone.done;
      assert.equal(caller.code, 0, `the caller's scenario:\n${ctx()}`);
      assert.equal(agent.code, 0, `486, then 200 and the server's BYE:\n${ctx()}`);
      assert.equal((agent.trace.match(/^INVITE sip:/gm) || []).length, 2, 'two INVITEs reached the phone');
      const ended = await waitFor(async () => (await srv.events('call.ended'))[0], 10000, 'call.ended');
      assert.equal(ended.payload.by, 'caller', JSON.stringify(ended.payload));
      const story = callStory(await srv.events('call.'), ended.payload.call);
      const types = story.map((e) => e.type);
      const noAnswer = story.filter((e) => e.type === 'call.no_answer').map((e) => e.payload.code);
      assert.deepEqual(noAnswer, [486], `call.no_answer codes (${types})`);
      assert.equal(types.filter((t) => t === 'call.ringing').length, 2, types.join());
      assert.ok(types.indexOf('call.no_answer') < types.indexOf('call.answered'), types.join());
      assert.equal(story.find((e) => e.type === 'call.answered').payload.username, ANN.user);
      assert.ok(ended.payload.talk_ms > 1000, `talked: ${JSON.stringify(ended.payload)}`);
      const task = story.find((e) => e.type === 'call.queued').payload.task;
      const tt = await waitFor(async () => {
        const t = (await srv.taskEvents(task)).map((e) => e.type);
        return t.includes('task.completed') && t;
      }, 10000, 'task.completed').catch((e) => { throw new Error(`${e.message}\n${ctx()}`); });
      assert.ok(tt.filter((t) => t === 'task.offered').length >= 2, tt.join());
      assert.ok(tt.includes('task.rejected'), `a declined offer is task.rejected: ${tt}`);
      assert.ok(tt.indexOf('task.rejected') < tt.indexOf('task.accepted'), tt.join());
      assert.ok(!tt.includes('task.abandoned'), tt.join());
    } finally {
      phone?.kill();
      await srv.close();
    }
  });

test('SIPp: REFER from the agent\'s phone blind-transfers the caller to a second queue\'s number',
  { skip: !haveSipp && 'sipp (sip-tester) not installed' }, async (t) => {
    const srv = await voiceServer();
    let phone, caller, agent;
    const ctx = () => `${show('agent phone', agent)}${show('caller', caller)}\n--- server log:\n${srv.log.slice(-5000)}`;
    try {
      phone = await agentPhone(srv, 'voice_agent_refer.xml', { args: ['-key', 'refer_to', SECOND], timeout: 30 });
      await srv.available();
      caller = await sipp(srv, 'voice_caller.xml', ['-s', MAIN, '-d', '7000', '-m', '1'], { timeout: 20 });
      agent = await phone.done;
      assert.equal(caller.code, 0, `the caller's scenario:\n${ctx()}`);
      assert.equal(agent.code, 0, `200, REFER answered 202, then the server's BYE:\n${ctx()}`);
      const ended = await waitFor(async () => (await srv.events('call.ended'))[0], 10000, 'call.ended');
      assert.equal(ended.payload.by, 'caller', JSON.stringify(ended.payload));
      const story = callStory(await srv.events('call.'), ended.payload.call);
      const types = story.map((e) => e.type);
      const xfer = story.find((e) => e.type === 'call.transferred');
      assert.ok(xfer, `call.transferred in ${types}\n${ctx()}`);
      assert.equal(xfer.payload.target, `queue:${srv.ids.second}`);
      const queued = story.filter((e) => e.type === 'call.queued').map((e) => e.payload);
      assert.deepEqual(queued.map((q) => q.queue), [srv.ids.phone, srv.ids.second], types.join());
      assert.notEqual(queued[0].task, queued[1].task, 'a new task on the second queue');
      assert.ok(types.indexOf('call.answered') < types.indexOf('call.transferred'), types.join());
      assert.ok(types.indexOf('call.transferred') < types.lastIndexOf('call.queued'), types.join());
      // the first task: accepted, completed, the agent in wrap-up
      const first = await waitFor(async () => {
        const t = (await srv.taskEvents(queued[0].task)).map((e) => e.type);
        return t.includes('task.wrapup_started') && t;
      }, 10000, 'the first task in wrap-up').catch((e) => { throw new Error(`${e.message}\n${ctx()}`); });
      for (const t of ['task.created', 'task.offered', 'task.accepted', 'task.completed'])
        assert.ok(first.includes(t), `${t} in ${first}`);
      // the second: created on Second; abandoned when the caller hung up
      const second = await waitFor(async () => {
        const t = await srv.taskEvents(queued[1].task);
        return t.some((e) => e.type === 'task.abandoned') && t;
      }, 10000, 'the second task abandoned');
      const created = second.find((e) => e.type === 'task.created');
      assert.ok(created, second.map((e) => e.type).join());
      assert.equal(created.queue, srv.ids.second);
      assert.equal(created.payload.channel, 'voice');
      const creates = (await srv.events('task.created')).map((e) => e.queue);
      assert.deepEqual(creates, [srv.ids.phone, srv.ids.second]);
      // talk time is the time bridged with the agent (about 1.5 s), not the
      // time queued on Second afterwards (about 5.5 s)
      await t.test('talk_ms after a blind transfer to a queue counts only the bridged time', async () => {
        assert.ok(ended.payload.talk_ms < 4000, JSON.stringify(ended.payload));
      });
    } finally {
      phone?.kill();
      await srv.close();
    }
  });
