// The call API (docs/API.md "Calls and recordings"): the queue's voice
// fields, GET/POST /api/v1/calls, hold/resume/transfer/hangup with their
// permissions (the call's agent, another agent, a supervisor), validation,
// 404s, 503 without SIP; recordings (list, one, audio) from a real call
// recorded on a queue with voice_recording on: baresip as the agent's phone
// (auto-answer, 600 Hz) and as the caller (1000 Hz). Every REST response is
// checked against the served OpenAPI document. The real-call tests skip
// without baresip.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, unlinkSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer, freePort, login, client } from '../lib/server.mjs';
import { loadContract } from '../lib/openapi.mjs';
import { checkedClient } from '../lib/checked.mjs';
import { waitFor } from '../lib/wait.mjs';
import { baresip, haveBaresip, writeSipAccounts, writeVoiceNumbers, readWav, toneWindows } from '../lib/baresip.mjs';

const ANN = { user: 'ann', pass: 'ann-sip-pass-1', web: 'ann-web-password-1' };
const BOB = { user: 'bob', pass: 'bob-sip-pass-1', web: 'bob-web-password-1' };
const CAROL = { user: 'carol', pass: 'carol-sip-pass-2' };
const NUMBER = '5000';
const AGENT_HZ = 600, CALLER_HZ = 1000;

let srv, contract, admin, sup, ann, bob, noagent, work, ids = {};

async function mkUser(username, role, password) {
  const r = await admin.post('/api/v1/users', { username, role, password });
  assert.equal(r.status, 201, r.text);
  return r.json.id;
}

before(async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'hotline-calls-'));
  work = mkdtempSync(join(tmpdir(), 'hotline-calls-peers-'));
  writeSipAccounts(dataDir, [ANN, BOB, CAROL]);
  const sipPort = await freePort();
  srv = await startServer({ dataDir, args: ['--sip-port', String(sipPort)] });
  srv.sipPort = sipPort;
  contract = await loadContract(srv.base);
  const a = await login(srv.base);
  admin = checkedClient(srv.base, a.token, contract);
  const q = await admin.post('/api/v1/queues', { name: 'Phone', channels: ['voice'], offer_timeout_seconds: 20,
    wrap_up_seconds: 0, voice_recording: true, voice_announce_s: 0 });
  assert.equal(q.status, 201, q.text);
  ids.queue = q.json.id;
  ids.annUser = await mkUser(ANN.user, 'agent', ANN.web);
  ids.bobUser = await mkUser(BOB.user, 'agent', BOB.web);
  ids.supUser = await mkUser('sue', 'supervisor', 'sue-web-password-1');
  await mkUser('nora', 'agent', 'nora-web-password-1');
  for (const [name, user, key] of [['Ann', ids.annUser, 'ann'], ['Bob', ids.bobUser, 'bob']]) {
    const r = await admin.post('/api/v1/agents', { name, user_id: user, capacity: { voice: 1 }, queues: [ids.queue] });
    assert.equal(r.status, 201, r.text);
    ids[key] = r.json.id;
  }
  writeVoiceNumbers(dataDir, [[NUMBER, ids.queue]]);
  await waitFor(() => /1 service number\(s\) from/.test(srv.log), 10000, 'the service numbers loaded');
  sup = checkedClient(srv.base, (await login(srv.base, 'sue', 'sue-web-password-1')).token, contract);
  ann = checkedClient(srv.base, (await login(srv.base, ANN.user, ANN.web)).token, contract);
  bob = checkedClient(srv.base, (await login(srv.base, BOB.user, BOB.web)).token, contract);
  noagent = checkedClient(srv.base, (await login(srv.base, 'nora', 'nora-web-password-1')).token, contract);
  await waitFor(async () => (await ann.get(`/api/v1/agents/${ids.ann}/state`)).status === 200);
});

after(async () => {
  const st = await srv.stop();
  rmSync(work, { recursive: true, force: true });
  srv.cleanup();
  assert.equal(st.code, 0);
});

test('queues have voice fields with defaults, and voice_moh is a file name under DATA/prompts', async () => {
  const r = await admin.post('/api/v1/queues', { name: 'Plain', channels: ['voice'] });
  assert.equal(r.status, 201, r.text);
  assert.equal(r.json.voice_recording, false);
  assert.equal(r.json.voice_announce_s, 30);
  assert.equal(r.json.voice_moh, '');
  assert.equal(r.json.voice_closed_text, '');
  const bad = async (body, field) => {
    const x = await admin.post('/api/v1/queues', { name: `Bad ${field} ${Math.random()}`, ...body });
    assert.equal(x.status, 422, x.text);
    assert.equal(x.json.field, field, x.text);
  };
  await bad({ voice_moh: '../secret.wav' }, 'voice_moh');
  await bad({ voice_moh: '/etc/passwd' }, 'voice_moh');
  await bad({ voice_moh: 'a b.wav' }, 'voice_moh');
  await bad({ voice_moh: 'x'.repeat(121) }, 'voice_moh');
  await bad({ voice_announce_s: 3601 }, 'voice_announce_s');
  await bad({ voice_announce_s: -1 }, 'voice_announce_s');
  await bad({ voice_closed_text: 'x'.repeat(251) }, 'voice_closed_text');
  await bad({ voice_recording: 'yes' }, 'voice_recording');
  const ok = await admin.post('/api/v1/queues', { name: 'Music', channels: ['voice'], voice_moh: 'music/jazz.wav',
    voice_announce_s: 0, voice_closed_text: 'Vi har stängt. Ring i morgon!' });
  assert.equal(ok.status, 201, ok.text);
  assert.equal(ok.json.voice_moh, 'music/jazz.wav');
  assert.equal(ok.json.voice_announce_s, 0);
});

test('calls: validation, permissions without a call, 404s', async () => {
  const anon = await client(srv.base).get('/api/v1/calls');
  assert.equal(anon.status, 401);
  for (const c of [admin, sup, ann, bob]) {
    const l = await c.get('/api/v1/calls');
    assert.equal(l.status, 200, l.text);
    assert.ok(Array.isArray(l.json.items));
  }
  const bad = async (c, path, body, field) => {
    const r = await c.post(path, body);
    assert.equal(r.status, 422, `${path} ${JSON.stringify(body)}: ${r.text}`);
    assert.equal(r.json.field, field, r.text);
  };
  await bad(ann, '/api/v1/calls', {}, 'number');
  await bad(ann, '/api/v1/calls', { number: '' }, 'number');
  await bad(ann, '/api/v1/calls', { number: '12a4' }, 'number');
  await bad(ann, '/api/v1/calls', { number: '1'.repeat(33) }, 'number');
  await bad(ann, '/api/v1/calls', { number: 5551234 }, 'number');
  await bad(ann, '/api/v1/calls', { number: '555', from: 'x' }, 'from');
  await bad(ann, '/api/v1/calls/1/transfer', {}, 'target');
  await bad(ann, '/api/v1/calls/1/transfer', { target: 'bogus' }, 'target');
  await bad(ann, '/api/v1/calls/1/transfer', { target: 'queue:abc' }, 'target');
  await bad(ann, '/api/v1/calls/1/transfer', { target: 'agent:Bad Name' }, 'target');
  await bad(ann, '/api/v1/calls/1/transfer', { target: 'number:12-34' }, 'target');
  await bad(ann, '/api/v1/calls/1/hangup', { why: 1 }, 'why');
  // no such call
  for (const v of ['hangup', 'hold', 'resume']) {
    const r = await sup.post(`/api/v1/calls/424242/${v}`, {});
    assert.equal(r.status, 404, `${v}: ${r.text}`);
  }
  const tr = await sup.post('/api/v1/calls/424242/transfer', { target: `queue:${ids.queue}` });
  assert.equal(tr.status, 404, tr.text);
  const raw = client(srv.base, (await login(srv.base)).token);
  assert.equal((await raw.post('/api/v1/calls/abc/hangup', {})).status, 404);
  assert.equal((await raw.post('/api/v1/calls/12/unknown', {})).status, 404);
  // click to dial needs an agent record
  const na = await noagent.post('/api/v1/calls', { number: '5551234' });
  assert.equal(na.status, 403, na.text);
  // recordings that do not exist
  assert.equal((await sup.get('/api/v1/recordings/999999')).status, 404);
  assert.equal((await sup.get('/api/v1/recordings/999999/audio')).status, 404);
  const badq = await sup.get('/api/v1/recordings?limit=0');
  assert.equal(badq.status, 422);
  assert.equal(badq.json.field, 'limit');
  const list = await ann.get('/api/v1/recordings');
  assert.equal(list.status, 200, list.text);
  assert.deepEqual(list.json.items, []);
  assert.equal(list.json.next_after, null);
});

test('click to dial without a registered phone: 409', async () => {
  const r = await ann.post('/api/v1/calls', { number: '+4687654321' });
  assert.equal(r.status, 409, r.text);
  assert.match(r.json.detail, /phone/);
});

test('without SIP every call command answers 503', async () => {
  const s = await startServer();
  try {
    const c = await loadContract(s.base);
    const a = checkedClient(s.base, (await login(s.base)).token, c);
    assert.equal((await a.get('/api/v1/calls')).status, 503);
    assert.equal((await a.post('/api/v1/calls', { number: '555' })).status, 503);
    assert.equal((await a.post('/api/v1/calls/5/hangup', {})).status, 503);
    assert.equal((await a.post('/api/v1/calls/5/transfer', { target: 'number:555' })).status, 503);
    // the recordings are in the log: listed without SIP too
    assert.equal((await a.get('/api/v1/recordings')).status, 200);
  } finally {
    await s.stop();
    s.cleanup();
  }
});

test('a real call: agents see their own, hold and resume, others are refused, a supervisor hangs up; '
  + 'the recording is listed and served to the right people', { skip: !haveBaresip && 'baresip not installed' },
async () => {
  const phone = await baresip({ work, sipPort: srv.sipPort, name: 'ann-phone', user: ANN.user, pass: ANN.pass,
    hz: AGENT_HZ, answer: true, register: true, seconds: 60 });
  await waitFor(() => /ann registered sip:/.test(srv.log), 15000, 'the agent\'s phone registered');
  const st = await ann.put(`/api/v1/agents/${ids.ann}/state`, { state: 'available' });
  assert.equal(st.status, 200, st.text);
  const caller = await baresip({ work, sipPort: srv.sipPort, name: 'carol', user: CAROL.user, pass: CAROL.pass,
    hz: CALLER_HZ, dial: NUMBER, seconds: 50 });
  const diag = () => `\n--- server:\n${srv.log.slice(-4000)}\n--- phone:\n${phone.out.slice(-1500)}\n--- caller:\n${caller.out.slice(-1500)}`;
  try {
    const call = await waitFor(async () => {
      const r = await sup.get('/api/v1/calls');
      return r.status === 200 && r.json.items.find((c) => c.state === 'talking');
    }, 30000, 'the call talking').catch((e) => { throw new Error(e.message + diag()); });
    assert.equal(call.direction, 'inbound');
    assert.equal(call.agent, ids.ann);
    assert.equal(call.queue, ids.queue);
    assert.equal(call.caller, CAROL.user);
    assert.equal(call.recording, true);
    // Ann sees it, Bob does not
    assert.ok((await ann.get('/api/v1/calls')).json.items.some((c) => c.call === call.call));
    assert.ok(!(await bob.get('/api/v1/calls')).json.items.some((c) => c.call === call.call));
    // Bob may not touch it
    for (const v of ['hold', 'hangup']) {
      const r = await bob.post(`/api/v1/calls/${call.call}/${v}`, {});
      assert.equal(r.status, 403, r.text);
    }
    assert.equal((await bob.post(`/api/v1/calls/${call.call}/transfer`, { target: 'agent:bob' })).status, 403);
    // Ann holds and resumes
    const h = await ann.post(`/api/v1/calls/${call.call}/hold`, {});
    assert.equal(h.status, 200, h.text);
    assert.equal(h.json.call, call.call);
    await waitFor(async () => (await ann.get('/api/v1/calls')).json.items.find((c) => c.call === call.call)?.state === 'held',
      5000, 'held');
    const again = await ann.post(`/api/v1/calls/${call.call}/hold`, {});
    assert.ok([200, 409].includes(again.status), again.text);
    const rs = await ann.post(`/api/v1/calls/${call.call}/resume`, {});
    assert.equal(rs.status, 200, rs.text);
    await waitFor(async () => (await ann.get('/api/v1/calls')).json.items.find((c) => c.call === call.call)?.state === 'talking',
      5000, 'talking again');
    await new Promise((r) => setTimeout(r, 2500)); // some talk for the recording
    // the supervisor hangs up: both phones' calls close
    const hu = await sup.post(`/api/v1/calls/${call.call}/hangup`, {});
    assert.equal(hu.status, 200, hu.text);
    await phone.ctrl.waitEvent('CALL_CLOSED', 10000);
    await caller.ctrl.waitEvent('CALL_CLOSED', 10000);
    await waitFor(async () => !(await sup.get('/api/v1/calls')).json.items.some((c) => c.call === call.call), 5000,
      'the call gone from the list');
    assert.equal((await ann.post(`/api/v1/calls/${call.call}/hangup`, {})).status, 404);

    // the event log: the call's story and the audit of each command
    const evs = async (type) => (await admin.get(`/api/v1/events?type=${type}&limit=200`)).json.items;
    const ended = await waitFor(async () => (await evs('call.ended')).find((e) => e.payload.call === call.call), 10000,
      'call.ended');
    assert.equal(ended.payload.by, 'api');
    for (const t of ['call.started', 'call.queued', 'call.ringing', 'call.answered', 'call.held', 'call.resumed']) {
      assert.ok((await evs(t)).some((e) => e.payload.call === call.call), `${t} written`);
    }
    const audit = (await evs('call.hangup_requested')).find((e) => e.payload.call === call.call);
    assert.ok(audit, 'the hang-up is audited');
    assert.equal(audit.actor, ids.supUser);
    assert.equal(audit.agent, ids.ann);
    assert.equal(audit.interaction, call.task, 'the audit names the call\'s task');
    const holdAudit = (await evs('call.hold_requested')).find((e) => e.payload.call === call.call);
    assert.equal(holdAudit.actor, ids.annUser);

    // the recording
    const rec = await waitFor(async () => (await sup.get('/api/v1/recordings')).json.items.find((r) => r.call === call.call),
      15000, 'the recording listed').catch((e) => { throw new Error(e.message + diag()); });
    assert.equal(rec.agent_id, ids.ann);
    assert.equal(rec.queue_id, ids.queue);
    assert.equal(rec.caller, CAROL.user);
    assert.ok(rec.duration_ms > 1000, JSON.stringify(rec));
    assert.ok((await ann.get('/api/v1/recordings')).json.items.some((r) => r.id === rec.id), 'Ann sees her recording');
    assert.ok(!(await bob.get('/api/v1/recordings')).json.items.some((r) => r.id === rec.id), 'Bob does not');
    assert.equal((await sup.get(`/api/v1/recordings?call=${call.call}`)).json.items.length, 1);
    assert.equal((await sup.get(`/api/v1/recordings?call=${call.call + 1}`)).json.items.length, 0);
    assert.equal((await sup.get(`/api/v1/recordings?agent=${ids.bob}`)).json.items.length, 0);
    assert.equal((await ann.get(`/api/v1/recordings/${rec.id}`)).status, 200);
    assert.equal((await bob.get(`/api/v1/recordings/${rec.id}`)).status, 404);
    assert.equal((await bob.get(`/api/v1/recordings/${rec.id}/audio`)).status, 404);
    const au = await fetch(`${srv.base}/api/v1/recordings/${rec.id}/audio`,
      { headers: { authorization: `Bearer ${(await login(srv.base, ANN.user, ANN.web)).token}` } });
    assert.equal(au.status, 200);
    assert.equal(au.headers.get('content-type'), 'audio/wav');
    assert.equal(au.headers.get('content-disposition'), `attachment; filename="call-${call.call}.wav"`);
    assert.match(au.headers.get('x-content-type-options') || '', /nosniff/);
    const body = Buffer.from(await au.arrayBuffer());
    assert.equal(Number(au.headers.get('content-length')), body.length);
    assert.equal(body.length, rec.bytes);
    assert.equal(body.toString('latin1', 0, 4), 'RIFF');
    const wav = readWav(body);
    assert.ok(toneWindows(wav, CALLER_HZ, 0.2) >= 5, 'the caller is in the recording');
    assert.ok(toneWindows(wav, AGENT_HZ, 0.2) >= 5, 'the agent is in the recording');
    // the file gone: 404
    const f = join(srv.dataDir, 'recordings', rec.file);
    assert.ok(existsSync(f), f);
    unlinkSync(f);
    assert.equal((await sup.get(`/api/v1/recordings/${rec.id}/audio`)).status, 404);
  } finally {
    phone.proc?.kill('SIGTERM');
    caller.proc?.kill('SIGTERM');
    await phone.done;
    await caller.done;
  }
});
