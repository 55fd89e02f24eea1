// Trunks with credentials (docs/VOICE.md "Security choices": "Trunks with
// credentials", "No toll fraud"): the real server on 127.0.0.1, whose
// DATA/voice_trunks does NOT list 127.0.0.1, so every INVITE from SIPp here
// must carry a digest.
//   - a provider's trunk that authenticates with an account of its own
//     (`provider` in DATA/sip_accounts): an INVITE to a service number with
//     the caller's number as the From user is challenged (401), sent again
//     with provider's digest, answered and queued with that caller id; the
//     same with a wrong password gets 403 and makes no call;
//   - the same account cannot borrow a caller id for a call out: provider's
//     digest with From +46700000001 to an outside number gets 403 and
//     nothing reaches the outbound trunk (a UDP socket listening there);
//     provider calling out as itself is refused too while it has no
//     registered phone (an account made for a provider's inbound trunk never
//     dials out), and gets through once it has registered (the control);
//   - an outbound trunk that challenges (`outbound 127.0.0.1:PORT carrier
//     s3cret-pass`): SIPp (tests/sipp/trunkauth_uas.xml) answers the first
//     INVITE 401 (realm "carrier"), checks the digest of the second with
//     verifyauth and answers it; click to dial from an agent whose phone
//     (baresip) auto-answers; hang-up from the API. With a wrong password in
//     the trunks file the carrier refuses the digest (403) and the call ends
//     without being answered.
// Each test has a fresh server. Every SIPp run is bounded by -m, -timeout
// and a kill timer; baresip by -t and a kill timer. Skips without sipp (and
// baresip where a phone is needed).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import dgram from 'node:dgram';
import { mkdtempSync, writeFileSync, readFileSync, existsSync, rmSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer, freePort, login, client } from '../lib/server.mjs';
import { waitFor, sleep } from '../lib/wait.mjs';
import { baresip, haveBaresip, writeSipAccounts } from '../lib/baresip.mjs';
import { run, sipp, freeUdpPort, show } from '../lib/sipp.mjs';

const SIPP_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', 'sipp');
const ANN = { user: 'ann', pass: 'ann-sip-pass-1', web: 'ann-web-password-1' };
const PROVIDER = { user: 'provider', pass: 'provider-sip-pass-1' };
const MAIN = '7000';              // queue "Phone"
const CUSTOMER = '+46700000001';  // the caller id the provider's trunk passes on
const OUTSIDE = '5550100';        // dialled from the desktop
const BORROWED = '5550199';       // an outside number called with a borrowed caller id
const CARRIER = { user: 'carrier', pass: 's3cret-pass' }; // tests/sipp/trunkauth_uas.xml checks these
const have = (bin) => spawnSync('sh', ['-c', `command -v ${bin}`]).status === 0;
const haveSipp = have('sipp');
const noSipp = !haveSipp && 'sipp (sip-tester) not installed';
const noPhone = noSipp || (!haveBaresip && 'baresip not installed');

// the messages of a -trace_msg log
const messages = (trace) => trace.split(/-{20,}/);

// SIPp's [authentication] signs its digest for sip:HOST:PORT unless told
// the Request-URI (-auth_uri); the server checks that it matches.
const authArgs = (srv, number, user, pass) => ['-s', number, '-au', user, '-ap', pass,
  '-auth_uri', `${number}@127.0.0.1:${srv.sipPort}`];

// A server with the accounts ann and provider in DATA/sip_accounts, ann as
// an agent of the queue Phone (offers last 20 s, no wrap-up), the number
// MAIN -> Phone, and DATA/voice_trunks as trunks(trunkPort) writes it (mode
// 600: it may hold a password); loaded is the trunks file's log line.
async function authServer({ trunks, loaded }) {
  const dataDir = mkdtempSync(join(tmpdir(), 'hotline-tauth-'));
  writeSipAccounts(dataDir, [ANN, PROVIDER]);
  let srv, sipPort;
  for (let attempt = 1; !srv; attempt++) {
    sipPort = await freeUdpPort();
    try {
      srv = await startServer({ dataDir, args: ['--sip-port', String(sipPort)] });
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
      wrap_up_seconds: 0 });
    assert.equal(q.status, 201, q.text);
    const u = await api.post('/api/v1/users', { username: ANN.user, role: 'agent', password: ANN.web });
    assert.equal(u.status, 201, u.text);
    const ag = await api.post('/api/v1/agents', { name: 'Ann', user_id: u.json.id, capacity: { voice: 1 },
      queues: [q.json.id] });
    assert.equal(ag.status, 201, ag.text);
    const tf = join(dataDir, 'voice_trunks');
    writeFileSync(tf, trunks(trunkPort));
    chmodSync(tf, 0o600);
    writeFileSync(join(dataDir, 'voice_numbers'), `# number target\n${MAIN} queue:${q.json.id}\n`);
    await waitFor(() => /1 service number\(s\) from/.test(srv.log) && loaded.test(srv.log) &&
      /2 phone account\(s\)/.test(srv.log), 10000, 'the voice files loaded')
      .catch((e) => { throw new Error(`${e.message}\n${srv.log.slice(-3000)}`); });
    const annApi = client(srv.base, (await login(srv.base, ANN.user, ANN.web)).token);
    await waitFor(async () => (await annApi.get(`/api/v1/agents/${ag.json.id}/state`)).status === 200);
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
    const work = mkdtempSync(join(tmpdir(), 'hotline-tauth-peers-'));
    return Object.assign(srv, {
      api, annApi, events, work,
      ids: { queue: q.json.id, agent: ag.json.id },
      callEvents: async (call) => (await events('call.')).filter((e) => e.payload?.call === call),
      async available() {
        const r = await annApi.put(`/api/v1/agents/${ag.json.id}/state`, { state: 'available' });
        assert.equal(r.status, 200, r.text);
      },
      // the agent's phone: baresip, registered, auto-answer, a 600 Hz tone
      async phone(seconds = 60) {
        const p = await baresip({ work, sipPort, name: `agent-${Date.now()}`, user: ANN.user, pass: ANN.pass,
          hz: 600, answer: true, register: true, seconds });
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

// A UDP socket on the outbound trunk's port that only records what arrives.
function listenTrunk(port) {
  return new Promise((resolve, reject) => {
    const s = dgram.createSocket('udp4');
    const got = [];
    s.on('message', (m, from) => got.push({ text: m.toString('latin1'), from }));
    s.once('error', reject);
    s.bind(port, '127.0.0.1', () => resolve({ got, close: () => new Promise((r) => s.close(r)) }));
  });
}

const types = (story) => story.map((e) => e.type);
const before = (list, a, b) => list.indexOf(a) >= 0 && list.indexOf(b) >= 0 && list.indexOf(a) < list.indexOf(b);

test('a provider\'s trunk by credentials: 401, the INVITE again with provider\'s digest, answered and queued with the caller\'s number; a wrong password gets 403 and no call',
  { skip: noSipp }, async () => {
    const srv = await authServer({ trunks: () => '# not 127.0.0.1: SIPp must authenticate\n10.255.255.1\n',
      loaded: /1 trunk address\(es\) from/ });
    let ok, bad;
    const ctx = () => `${show('provider', ok)}${show('wrong password', bad)}\n--- server log:\n${srv.log.slice(-5000)}`;
    try {
      ok = await sipp(srv, 'trunkauth_invite.xml', [...authArgs(srv, MAIN, PROVIDER.user, PROVIDER.pass),
        '-key', 'caller', CUSTOMER, '-d', '1500', '-m', '1'], { timeout: 20 });
      assert.equal(ok.code, 0, `401, then 200 for the digest, then BYE:\n${ctx()}`);
      const msgs = messages(ok.trace);
      const chal = msgs.find((m) => /SIP\/2\.0 401 /.test(m));
      assert.ok(chal, `challenged:\n${ctx()}`);
      assert.match(chal, /^WWW-Authenticate: *Digest .*realm="hotline"/m);
      const authed = msgs.find((m) => /^\s*INVITE sip:/m.test(m) && /^Authorization:/m.test(m));
      assert.ok(authed, 'the INVITE again, with the digest');
      assert.match(authed, /username="provider"/);
      assert.match(authed, new RegExp(`^From: <sip:\\${CUSTOMER}@`, 'm'), 'the From user is the caller\'s number');
      assert.ok(msgs.some((m) => /SIP\/2\.0 200 OK/.test(m) && /CSeq: *2 INVITE/.test(m)), `200 for the digest:\n${ctx()}`);
      const ended = await waitFor(async () => (await srv.events('call.ended'))[0], 10000, 'call.ended')
        .catch((e) => { throw new Error(`${e.message}\n${ctx()}`); });
      const call = ended.payload.call;
      const story = await srv.callEvents(call);
      const t = types(story);
      assert.ok(before(t, 'call.started', 'call.queued') && before(t, 'call.queued', 'call.ended'),
        `started, queued, ended: ${t}`);
      const started = story.find((e) => e.type === 'call.started').payload;
      assert.equal(started.caller, CUSTOMER, `the caller id is the From user, not the account: ${JSON.stringify(started)}`);
      assert.equal(started.number, MAIN);
      assert.equal(started.direction, 'inbound');
      assert.equal(story.find((e) => e.type === 'call.queued').payload.queue, srv.ids.queue);
      assert.equal(ended.payload.by, 'caller', JSON.stringify(ended.payload));

      // the same account, a wrong password: 403, no call
      bad = await sipp(srv, 'trunkauth_invite_refused.xml', [...authArgs(srv, MAIN, PROVIDER.user, 'not-the-password'),
        '-key', 'caller', CUSTOMER, '-m', '1'], { timeout: 10 });
      assert.equal(bad.code, 0, `401, then 403 for the wrong digest:\n${ctx()}`);
      assert.match(bad.trace, /SIP\/2\.0 403 Forbidden/);
      assert.doesNotMatch(bad.trace, /SIP\/2\.0 200 /);
      assert.match(srv.log, /INVITE for 'provider' from 127\.0\.0\.1[:\d]* refused: wrong credentials/);
      await sleep(500);
      assert.equal((await srv.events('call.started')).length, 1, 'the refused INVITE made no call');
    } finally {
      await srv.close();
    }
  });

test('an account cannot borrow a caller id for a call out, nor call out without a registered phone; a registered phone calling as itself gets through',
  { skip: noSipp }, async () => {
    const srv = await authServer({ trunks: (port) => `10.255.255.1\noutbound 127.0.0.1:${port}\n`,
      loaded: /1 trunk address\(es\) and an outbound trunk from/ });
    let borrowed, own, trunk;
    const ctx = () => `${show('borrowed caller id', borrowed)}${show('as itself', own)}` +
      `\n--- at the trunk:\n${(trunk?.got || []).map((g) => g.text).join('\n-----\n').slice(-3000)}` +
      `\n--- server log:\n${srv.log.slice(-5000)}`;
    try {
      trunk = await listenTrunk(srv.trunkPort);
      borrowed = await sipp(srv, 'trunkauth_invite_refused.xml', [...authArgs(srv, BORROWED, PROVIDER.user, PROVIDER.pass),
        '-key', 'caller', CUSTOMER, '-m', '1'], { timeout: 10 });
      assert.equal(borrowed.code, 0, `401, then 403 although the password is right:\n${ctx()}`);
      assert.match(borrowed.trace, /SIP\/2\.0 403 Forbidden/);
      assert.doesNotMatch(borrowed.trace, /SIP\/2\.0 (200|180|183) /);
      assert.match(srv.log, /INVITE for '\+46700000001' from 127\.0\.0\.1[:\d]* refused: wrong credentials/,
        'checked against the From user\'s account');
      await sleep(1000);
      assert.equal(trunk.got.length, 0, `nothing reached the outbound trunk:\n${ctx()}`);
      assert.equal((await srv.events('call.started')).length, 0, 'no call');

      // as itself, but with no registered phone: refused, nothing at the trunk
      const unreg = await sipp(srv, 'trunkauth_invite_refused.xml', [...authArgs(srv, BORROWED, PROVIDER.user, PROVIDER.pass),
        '-key', 'caller', PROVIDER.user, '-m', '1'], { timeout: 10 });
      assert.equal(unreg.code, 0, `as itself, unregistered: 401, then 403:\n${show('unregistered', unreg)}${ctx()}`);
      assert.match(srv.log, /a call out from 'provider', which has no registered phone, refused/);
      await sleep(500);
      assert.equal(trunk.got.length, 0, `nothing reached the outbound trunk:\n${ctx()}`);
      // the control: once registered, the same account calling out as itself
      // reaches the trunk
      const reg = await sipp(srv, 'voice_register.xml', ['-s', PROVIDER.user, '-au', PROVIDER.user, '-ap', PROVIDER.pass,
        '-m', '1'], { timeout: 10 });
      assert.equal(reg.code, 0, `provider registered:\n${show('register', reg)}`);
      own = await sipp(srv, 'trunkauth_invite.xml', [...authArgs(srv, BORROWED, PROVIDER.user, PROVIDER.pass),
        '-key', 'caller', PROVIDER.user, '-d', '1500', '-m', '1'], { timeout: 20 });
      assert.equal(own.code, 0, `as itself: 401, then 200:\n${ctx()}`);
      const inv = await waitFor(() => trunk.got.find((g) => /^INVITE sip:/.test(g.text)), 5000,
        'the INVITE at the trunk').catch((e) => { throw new Error(`${e.message}\n${ctx()}`); });
      assert.match(inv.text, new RegExp(`^INVITE sip:${BORROWED}@127\\.0\\.0\\.1:${srv.trunkPort} SIP/2\\.0`));
      assert.match(inv.text, /^From: .*<sip:provider@/m, 'the account\'s own caller id');
      const started = (await srv.events('call.started')).map((e) => e.payload);
      assert.equal(started.length, 1, JSON.stringify(started));
      assert.equal(started[0].caller, PROVIDER.user);
      assert.equal(started[0].number, BORROWED);
    } finally {
      await trunk?.close();
      await srv.close();
    }
  });

// Click to dial through a trunk that challenges; trunks(port) is the trunks
// file, good whether the carrier accepts the digest.
async function challengedDial(t0, password, good) {
  const srv = await authServer({ trunks: (port) => `# the carrier wants a digest\noutbound 127.0.0.1:${port} ${CARRIER.user} ${password}\n`,
    loaded: /0 trunk address\(es\) and an outbound trunk from/ });
  let agent, trunk, trunkRun;
  const ctx = () => `${show('carrier', trunk)}\n--- agent phone:\n${(agent?.out || '').slice(-1500)}` +
    `\n--- server log:\n${srv.log.slice(-6000)}`;
  try {
    assert.doesNotMatch(srv.log, /voice_trunks is readable by others/);
    agent = await srv.phone(60);
    trunkRun = sipp(srv, 'trunkauth_uas.xml', ['-d', '1000', '-m', '1'], { port: srv.trunkPort, timeout: good ? 30 : 10 });
    await sleep(300);
    const r = await srv.annApi.post('/api/v1/calls', { number: OUTSIDE });
    assert.equal(r.status, 201, `POST /api/v1/calls (click to dial): ${r.status} ${r.text}`);
    const call = r.json.call;
    if (good) {
      const answered = await waitFor(async () => (await srv.callEvents(call)).find((e) => e.type === 'call.answered'),
        15000, 'call.answered').catch(async (e) => { trunk = await trunkRun; throw new Error(`${e.message}\n${ctx()}`); });
      assert.equal(answered.payload.username, ANN.user);
      await sleep(1000);
      const hu = await srv.annApi.post(`/api/v1/calls/${call}/hangup`);
      assert.equal(hu.status, 200, hu.text);
      const ended = await waitFor(async () => (await srv.callEvents(call)).find((e) => e.type === 'call.ended'),
        5000, 'call.ended');
      assert.equal(ended.payload.by, 'api', JSON.stringify(ended.payload));
      trunk = await trunkRun;
      assert.equal(trunk.code, 0, `the carrier verified the digest, answered and got the BYE:\n${ctx()}`);
      assert.match(trunk.trace, /BYE sip:/);
    } else {
      const ended = await waitFor(async () => (await srv.callEvents(call)).find((e) => e.type === 'call.ended'),
        15000, 'call.ended').catch(async (e) => { trunk = await trunkRun; throw new Error(`${e.message}\n${ctx()}`); });
      t0.diagnostic(`call.ended ${JSON.stringify(ended.payload)}`);
      trunk = await trunkRun;
      assert.notEqual(trunk.code, 0, `the carrier refused the digest (its scenario fails):\n${ctx()}`);
      assert.match(trunk.trace, /SIP\/2\.0 403 Forbidden/, `the carrier sent 403:\n${ctx()}`);
      const t = types(await srv.callEvents(call));
      t0.diagnostic(`the call's events: ${t}`);
      assert.ok(!t.includes('call.answered'), `never answered: ${t}`);
      await agent.ctrl.waitEvent('CALL_CLOSED', 10000).catch((e) => { throw new Error(`${e.message}\n${ctx()}`); });
    }
    // the two INVITEs the carrier got: without, then with the digest
    const invites = messages(trunk.trace).filter((m) => /^\s*INVITE sip:/m.test(m));
    assert.equal(invites.length, 2, `two INVITEs:\n${ctx()}`);
    assert.match(invites[0], new RegExp(`INVITE sip:${OUTSIDE}@127\\.0\\.0\\.1:${srv.trunkPort} SIP/2\\.0`));
    assert.doesNotMatch(invites[0], /^Authorization:/m);
    assert.match(invites[1], /^Authorization: *Digest /m);
    assert.match(invites[1], /username="carrier"/);
    assert.match(invites[1], /realm="carrier"/);
    assert.match(invites[1], new RegExp(`uri="sip:${OUTSIDE}@127\\.0\\.0\\.1:${srv.trunkPort}"`));
    const callId = (m) => m.match(/^Call-ID: *(.+?)\r?$/m)?.[1];
    assert.equal(callId(invites[1]), callId(invites[0]), 'the same Call-ID');
    assert.ok(!srv.log.includes(password), 'the password is not logged');
    await stopPhone(agent);
  } finally {
    await stopPhone(agent);
    await trunkRun;
    await srv.close();
  }
}

test('an outbound trunk that challenges: click to dial, the carrier gets a good digest (verifyauth), answers; hang up from the API',
  { skip: noPhone }, (t0) => challengedDial(t0, CARRIER.pass, true));

test('an outbound trunk that challenges, a wrong password in voice_trunks: the carrier refuses the digest, the call ends unanswered',
  { skip: noPhone }, (t0) => challengedDial(t0, 'wrong-pass', false));
