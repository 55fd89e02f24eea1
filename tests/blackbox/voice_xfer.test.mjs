// Transfers and hold from the phones, driven by SIPp (docs/VOICE.md "Calls"
// step 5): the real server on 127.0.0.1, the customer coming in through a
// trunk (DATA/voice_trunks lists 127.0.0.1: no digest) to a queue's number,
// the phones played by SIPp. Scenarios in tests/sipp/xfer_*.xml:
//   - attended transfer: agent A (ann) answers the customer (xfer_a1.xml),
//     consults colleague B (bob) with an internal call from a second line
//     (xfer_a2.xml, a fixed Call-ID; B's phone is xfer_b.xml), then sends a
//     REFER on the customer's call whose Refer-To carries Replaces naming
//     the consultation call: B now talks to the customer, both of A's legs
//     get a BYE, the customer's hang-up reaches B;
//   - hold from the agent's phone: a re-INVITE with a=sendonly (answered
//     recvonly; the customer sees the server's BYE when the phone hangs up:
//     xfer_caller.xml), or a=inactive, then a=sendrecv (xfer_hold.xml).
// The phones of the attended transfer run on 127.0.0.2: a request from a
// trunk address is a trunk's (VOICE.md step 1: a username is a target only
// for a registered phone, not for a trunk), so A's consultation call could
// not come from 127.0.0.1 (it gets 403). No media checks. Every SIPp run is bounded by -m,
// -timeout and a kill timer. Each test has a fresh server. Skips without sipp.
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
import { run, sipp, sippPorts, show, udpFree } from '../lib/sipp.mjs';

const SIPP_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', 'sipp');
const REALM = 'hotline';
const ANN = { user: 'ann', pass: 'ann-sip-pass-1' }; // agent A's phone
const BOB = { user: 'bob', pass: 'bob-sip-pass-1' }; // colleague B's phone (no agent)
const MAIN = '6000'; // queue "Phone": ann's queue
const PHONE_IP = '127.0.0.2'; // the phones of the attended transfer (not the trunk's address)
const CONSULT = 'consult-1234@127.0.0.1'; // the consultation call's Call-ID
const md5 = (s) => createHash('md5').update(s).digest('hex');
const have = (bin) => spawnSync('sh', ['-c', `command -v ${bin}`]).status === 0;
const haveSipp = have('sipp');
const pct = (s) => s.replace(/[^A-Za-z0-9\-_.!~*'()]/g, (ch) => `%${ch.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`);

// A child process bounded by a kill timer; handle.kill() stops it early.

// A server with: ann (agent user, SIP account), bob (SIP account only),
// queue Phone (ann's; 20 s offers, 30 s wrap-up) on MAIN, and 127.0.0.1 as
// a trunk.
async function voiceServer() {
  const dataDir = mkdtempSync(join(tmpdir(), 'hotline-voice-xfer-'));
  writeFileSync(join(dataDir, 'sip_accounts'),
    [ANN, BOB].map((a) => `${a.user}:${REALM}:${md5(`${a.user}:${REALM}:${a.pass}`)}\n`).join(''));
  chmodSync(join(dataDir, 'sip_accounts'), 0o600);
  const sipPort = await freePort();
  const srv = await startServer({ dataDir, args: ['--sip-port', String(sipPort)] });
  srv.sipPort = sipPort;
  try {
    const admin = await login(srv.base);
    const api = client(srv.base, admin.token);
    const q1 = await api.post('/api/v1/queues', { name: 'Phone', channels: ['voice'], offer_timeout_seconds: 20,
      wrap_up_seconds: 30 });
    assert.equal(q1.status, 201, q1.text);
    const u = await api.post('/api/v1/users', { username: ANN.user, role: 'agent', password: 'ann-web-password-1' });
    assert.equal(u.status, 201, u.text);
    const ag = await api.post('/api/v1/agents', { name: 'Ann', user_id: u.json.id, capacity: { voice: 1 },
      queues: [q1.json.id] });
    assert.equal(ag.status, 201, ag.text);
    writeFileSync(join(dataDir, 'voice_trunks'), '# the SIPp customer\n127.0.0.1\n', { mode: 0o600 });
    writeFileSync(join(dataDir, 'voice_numbers'), `# number target\n${MAIN} ${q1.json.id}\n`);
    await waitFor(() => /1 service number\(s\) from/.test(srv.log) && /1 trunk address\(es\)/.test(srv.log),
      10000, 'the voice files loaded');
    const ann = await login(srv.base, ANN.user, 'ann-web-password-1');
    const annWs = await openJsonWs(`ws://127.0.0.1:${srv.port}/api/v1/events?token=${ann.token}`);
    const annApi = client(srv.base, ann.token);
    await waitFor(async () => (await annApi.get(`/api/v1/agents/${ag.json.id}/state`)).status === 200);
    const events = async (type) => (await api.get(`/api/v1/events?type=${type}&limit=200`)).json.items;
    const taskEvents = async (id) => (await api.get(`/api/v1/events?interaction=${id}&limit=200`)).json.items;
    const calls = async () => {
      const r = await api.get('/api/v1/calls');
      assert.equal(r.status, 200, r.text);
      return r.json.items;
    };
    return Object.assign(srv, {
      api, annApi, annWs, events, taskEvents, calls,
      ids: { phone: q1.json.id, agent: ag.json.id },
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

// A phone of account acc on ip: registers from a port (voice_register.xml),
// then the answering scenario runs on that same port (the server rings the
// flow the phone registered from). Resolves once registered; .done is the
// uas run, .kill() ends it.
async function phone(srv, acc, scenario, { args = [], timeout = 40, ip = '127.0.0.1' } = {}) {
  const port = await sippPorts(1, 0, ip);
  const reg = await sipp(srv, 'voice_register.xml', ['-s', acc.user, '-au', acc.user, '-ap', acc.pass, '-m', '1'],
    { port, ip, timeout: 10 });
  assert.equal(reg.code, 0, `${acc.user}'s phone registered:\n${show('register', reg)}`);
  const ipRe = ip.replace(/\./g, '\\.');
  await waitFor(() => new RegExp(`${acc.user} registered sip:${acc.user}@${ipRe}:${port}`).test(srv.log), 5000,
    `${acc.user}'s registration in the log`);
  const handle = {};
  const p = { port, kill: () => handle.kill?.() };
  p.done = sipp(srv, scenario, ['-s', acc.user, '-m', '1', ...args], { port, ip, timeout, handle });
  await sleep(300); // SIPp binds its port
  return p;
}

// The events (of a type=call. listing) of one call, in order.
const callStory = (evs, call) => evs.filter((e) => e.payload?.call === call);
const callIdOf = (msg) => (msg.match(/^Call-ID:\s*(\S+)/mi) || [])[1];
// The SIP messages of a -trace_msg log, each with its direction.
const sipMessages = (trace) => trace.split(/^-{5,}.*$/m).map((m) => m.trim()).filter(Boolean)
  .map((m) => ({ dir: (m.match(/^\w+ message (sent|received)/i) || [])[1] || '', text: m }));

const canPhoneIp = await udpFree(0, PHONE_IP);

test('SIPp: attended transfer: A consults B, then REFER with Replaces on the customer\'s call bridges the customer to B',
  { skip: (!haveSipp && 'sipp (sip-tester) not installed') || (!canPhoneIp && `cannot bind ${PHONE_IP}`) },
  async (t) => {
    const srv = await voiceServer();
    let a1p, bp, a2, a1, b, caller;
    const ctx = () => `${show('A1 (call 1)', a1)}${show('A2 (consultation)', a2)}${show('B', b)}` +
      `${show('customer', caller)}\n--- server log:\n${srv.log.slice(-6000)}`;
    try {
      bp = await phone(srv, BOB, 'xfer_b.xml', { ip: PHONE_IP, timeout: 40 });
      // A1 talks for 5 s after answering, then REFERs: by then the
      // consultation call (started once call 1 is answered) is up
      a1p = await phone(srv, ANN, 'xfer_a1.xml', { ip: PHONE_IP, timeout: 40,
        args: ['-d', '5000', '-key', 'target', BOB.user, '-key', 'replaces', pct(`${CONSULT};to-tag=x;from-tag=y`)] });
      await srv.available();
      const callerDone = sipp(srv, 'voice_caller.xml', ['-s', MAIN, '-d', '11000', '-m', '1'], { timeout: 40 })
        .then((r) => { caller = r; return r; });
      const a1Done = a1p.done.then((r) => { a1 = r; return r; });
      const bDone = bp.done.then((r) => { b = r; return r; });
      const fail = (e) => { throw new Error(`${e.message}\n${ctx()}`); };
      // call 1 answered by ann
      const ans1 = await waitFor(async () => (await srv.events('call.answered')).find((e) => e.payload.username === ANN.user),
        10000, 'call 1 answered by ann').catch(fail);
      const call1 = ans1.payload.call;
      // A's second line calls bob
      const a2Done = sipp(srv, 'xfer_a2.xml', ['-s', BOB.user, '-key', 'me', ANN.user, '-au', ANN.user, '-ap', ANN.pass,
        '-cid_str', CONSULT, '-auth_uri', `${BOB.user}@127.0.0.1:${srv.sipPort}`, '-m', '1'], { ip: PHONE_IP, timeout: 30 }).then((r) => { a2 = r; return r; });
      const ans2 = await waitFor(async () => (await srv.events('call.answered'))
        .find((e) => e.payload.call !== call1 && e.payload.username === BOB.user), 8000, 'the consultation call answered')
        .catch(fail);
      const call2 = ans2.payload.call;
      // the transfer; while the customer and B talk, one call is listed
      await waitFor(async () => (await srv.events('call.transferred')).length, 10000, 'call.transferred').catch(fail);
      const listed = await waitFor(async () => {
        const l = await srv.calls();
        return l.length === 1 && l;
      }, 3000, 'only call 1 listed after the transfer').catch(fail);
      await Promise.all([callerDone, a1Done, a2Done, bDone]);
      assert.equal(b.code, 0, `B answered, stayed through the transfer and got the BYE:\n${ctx()}`);
      assert.equal(a1.code, 0, `A1: 200, REFER answered 202, then the server's BYE:\n${ctx()}`);
      assert.equal(a2.code, 0, `A2: the consultation call, then the server's BYE:\n${ctx()}`);
      assert.equal(caller.code, 0, `the customer's scenario:\n${ctx()}`);
      assert.equal(listed[0].call, call1, JSON.stringify(listed));
      assert.equal(listed[0].username, BOB.user, JSON.stringify(listed));
      assert.equal(listed[0].state, 'talking', JSON.stringify(listed));

      // call 1: answered by ann, transferred (attended) to bob, answered by
      // bob, ended by the customer
      await waitFor(async () => (await srv.events('call.ended')).length >= 2, 10000, 'both calls ended').catch(fail);
      const all = await srv.events('call.');
      const story1 = callStory(all, call1);
      const types1 = story1.map((e) => e.type);
      assert.deepEqual(types1.filter((x) => ['call.started', 'call.queued', 'call.answered', 'call.transferred',
        'call.ended'].includes(x)), ['call.started', 'call.queued', 'call.answered', 'call.transferred', 'call.answered',
        'call.ended'], `${types1}\n${ctx()}`);
      const xfer = story1.find((e) => e.type === 'call.transferred');
      assert.equal(xfer.payload.target, `attended:${BOB.user}`, JSON.stringify(xfer.payload));
      const answers1 = story1.filter((e) => e.type === 'call.answered').map((e) => e.payload.username);
      assert.deepEqual(answers1, [ANN.user, BOB.user]);
      const ended1 = story1.find((e) => e.type === 'call.ended');
      assert.equal(ended1.payload.by, 'caller', JSON.stringify(ended1.payload));
      assert.equal(story1.find((e) => e.type === 'call.started').payload.number, MAIN);
      // talk time spans both agents: ann (about 5 s), then bob (about 6 s)
      assert.ok(ended1.payload.talk_ms > 8000, JSON.stringify(ended1.payload));

      // call 2: ann -> bob, ended by the transfer
      const story2 = callStory(all, call2);
      const types2 = story2.map((e) => e.type);
      const started2 = story2.find((e) => e.type === 'call.started');
      assert.ok(started2, types2.join());
      assert.equal(started2.payload.caller, ANN.user, JSON.stringify(started2.payload));
      assert.equal(started2.payload.number, BOB.user, JSON.stringify(started2.payload));
      assert.equal(story2.find((e) => e.type === 'call.ringing')?.payload.username, BOB.user, types2.join());
      const ended2 = story2.find((e) => e.type === 'call.ended');
      assert.ok(ended2, `call 2 ended: ${types2}\n${ctx()}`);
      assert.equal(ended2.payload.reason, 'transferred', JSON.stringify(ended2.payload));
      assert.equal(ended2.payload.by, 'agent', JSON.stringify(ended2.payload));
      assert.ok(!types2.includes('call.queued'), `an internal call has no task: ${types2}`);
      // order: the consultation answered before the transfer; call 2 ended
      // by it, before the customer hung up
      const seq = (e) => all.indexOf(e);
      assert.ok(seq(ans2) < seq(xfer), 'consultation answered, then transferred');
      assert.ok(seq(xfer) < seq(ended2) && seq(ended2) < seq(ended1), all.map((e) => `${e.type}@${e.payload.call}`).join());

      // SIP: A1 got 202, then a BYE on call 1; A2 a BYE on the consultation
      // call; B one INVITE (no re-INVITE: its leg moved as it was) and, at
      // the end, a BYE in the same dialog
      assert.match(a1.trace, /^REFER sip:/m);
      assert.match(a1.trace, /Refer-To: <sip:bob@127\.0\.0\.1\?Replaces=consult-1234%40127\.0\.0\.1%3Bto-tag%3Dx%3Bfrom-tag%3Dy>/);
      assert.match(a1.trace, /^SIP\/2\.0 202/m);
      assert.match(a1.trace, /^BYE sip:/m);
      assert.match(a2.trace, /^BYE sip:/m);
      assert.ok(a2.trace.includes(`Call-ID: ${CONSULT}`), 'A2 used the fixed Call-ID');
      const bIn = sipMessages(b.trace).filter((m) => /^(INVITE|BYE) sip:/m.test(m.text));
      assert.deepEqual(bIn.map((m) => m.text.match(/^(INVITE|BYE) /m)[1]), ['INVITE', 'BYE'], b.trace.slice(-4000));
      assert.equal(callIdOf(bIn[1].text), callIdOf(bIn[0].text), 'B\'s BYE is in the dialog it answered');

      // A's task: accepted, completed, wrap-up
      const task = story1.find((e) => e.type === 'call.queued').payload.task;
      const tt = await waitFor(async () => {
        const x = (await srv.taskEvents(task)).map((e) => e.type);
        return x.includes('task.wrapup_started') && x;
      }, 10000, 'ann\'s task in wrap-up').catch(fail);
      for (const x of ['task.created', 'task.offered', 'task.accepted', 'task.completed'])
        assert.ok(tt.includes(x), `${x} in ${tt}`);
      assert.ok(!tt.includes('task.abandoned'), tt.join());
      assert.ok(tt.indexOf('task.completed') < tt.indexOf('task.wrapup_started'), tt.join());

      await t.test('no call is left once the customer hung up', async () => {
        assert.deepEqual(await waitFor(async () => (await srv.calls()).length === 0 && [], 5000, 'no calls'), []);
      });
    } finally {
      a1p?.kill();
      bp?.kill();
      await srv.close();
    }
  });

// Hold from the agent's phone with a re-INVITE whose SDP says dir
// (sendonly: RFC 3264 8.4's hold; inactive), then resume with sendrecv, then
// the phone hangs up. While it runs, GET /api/v1/calls is polled.
async function holdFromPhone(dir) {
  const srv = await voiceServer();
  let ap, agent, caller;
  const ctx = () => `${show('agent phone', agent)}${show('customer', caller)}\n--- server log:\n${srv.log.slice(-5000)}`;
  const fail = (e) => { throw new Error(`${e.message}\n${ctx()}`); };
  try {
    // answer, 1.5 s talking, hold for 3 s, resume, 1 s, BYE
    ap = await phone(srv, ANN, 'xfer_hold.xml', { args: ['-key', 'hold_dir', dir, '-d', '3000'], timeout: 30 });
    await srv.available();
    const callerDone = sipp(srv, 'xfer_caller.xml', ['-s', MAIN, '-m', '1'], { timeout: 30 })
      .then((r) => { caller = r; return r; });
    let running = true;
    const agentDone = ap.done.then((r) => { agent = r; running = false; return r; });
    const ans = await waitFor(async () => (await srv.events('call.answered'))[0], 10000, 'call.answered').catch(fail);
    const call = ans.payload.call;
    // the call's listed state, every 100 ms until the phone's scenario ends
    const states = [];
    while (running) {
      const st = (await srv.calls()).find((c) => c.call === call)?.state;
      if (st && st !== states[states.length - 1]) states.push(st);
      await sleep(100);
    }
    await agentDone;
    await callerDone;
    assert.equal(agent.code, 0, `hold answered recvonly/inactive, resume sendrecv, BYE:\n${ctx()}`);
    assert.equal(caller.code, 0, `the customer got the server's BYE after the agent's:\n${ctx()}`);
    // the server's answers: recvonly (or inactive) to the hold, sendrecv to the resume
    const oks = sipMessages(agent.trace).filter((m) => m.dir === 'received' && /^SIP\/2\.0 200/m.test(m.text) &&
      /^CSeq:\s*\d+ INVITE/mi.test(m.text));
    assert.equal(oks.length, 2, agent.trace.slice(-6000));
    assert.match(oks[0].text, /^a=(recvonly|inactive)\s*$/m, oks[0].text);
    assert.doesNotMatch(oks[0].text, /^a=(sendrecv|sendonly)\s*$/m, oks[0].text);
    assert.match(oks[1].text, /^a=sendrecv\s*$/m, oks[1].text);
    const ended = await waitFor(async () => (await srv.events('call.ended'))[0], 10000, 'call.ended').catch(fail);
    assert.equal(ended.payload.by, 'agent', JSON.stringify(ended.payload));
    const story = callStory(await srv.events('call.'), call);
    const types = story.map((e) => e.type);
    const task = story.find((e) => e.type === 'call.queued').payload.task;
    const tt = await waitFor(async () => {
      const x = (await srv.taskEvents(task)).map((e) => e.type);
      return x.includes('task.completed') && x;
    }, 10000, 'task.completed').catch(fail);
    assert.ok(tt.includes('task.accepted'), tt.join());
    // docs/VOICE.md step 5: hold "from either phone (a re-INVITE with
    // sendonly/inactive)": call.held / call.resumed {by}, state held
    assert.deepEqual({
      events: types.filter((x) => ['call.answered', 'call.held', 'call.resumed', 'call.ended'].includes(x)),
      by: story.filter((e) => e.type === 'call.held' || e.type === 'call.resumed').map((e) => e.payload.by),
      states,
    }, {
      events: ['call.answered', 'call.held', 'call.resumed', 'call.ended'],
      by: ['agent', 'agent'],
      states: ['talking', 'held', 'talking'],
    }, `a=${dir} from the agent's phone`);
  } finally {
    ap?.kill();
    await srv.close();
  }
}

test('SIPp: hold from the agent\'s phone: re-INVITE a=sendonly (answered recvonly), then a=sendrecv',
  { skip: !haveSipp && 'sipp (sip-tester) not installed' }, () => holdFromPhone('sendonly'));

test('SIPp: hold from the agent\'s phone: re-INVITE a=inactive (answered inactive), then a=sendrecv',
  { skip: !haveSipp && 'sipp (sip-tester) not installed' }, () => holdFromPhone('inactive'));
