// Voice menus, prompts and recording (docs/VOICE.md "Numbers, menus,
// trunks"): the real server on 127.0.0.1 with baresip phones.
//   - the main path of the issue: a caller dials the service number, hears
//     the spoken greeting, presses 1 (in-band DTMF in the caller's audio),
//     waits in the queue, the agent's phone answers, each side hears the
//     other's tone, the caller hangs up; every step is an event and the
//     queue's recording holds both tones;
//   - no choice: the greeting is repeated `retries` times, then goodbye;
//   - a closed queue: the closed message, then the server hangs up;
//   - waiting: the position is announced (spoken) between the music.
// Skips without baresip.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer, freePort, login, client } from '../lib/server.mjs';
import { waitFor } from '../lib/wait.mjs';
import { baresip, haveBaresip, writeSipAccounts, readWav, toneWindows, recording } from '../lib/baresip.mjs';

const ANN = { user: 'ann', pass: 'ann-sip-pass-1' };
const CAROL = { user: 'carol', pass: 'carol-sip-pass-2' };
const MENU = '6000', STRICT = '6001', NIGHT = '6002', WAIT = '6003';
const AGENT_HZ = 600, CALLER_HZ = 1000;
const skip = !haveBaresip && 'baresip not installed';

let srv, api, dataDir, work, ids = {};

// An 8 kHz mono 16-bit WAV from float samples in [-1, 1].
function wav(samples) {
  const b = Buffer.alloc(44 + samples.length * 2);
  b.write('RIFF', 0, 'latin1'); b.writeUInt32LE(36 + samples.length * 2, 4); b.write('WAVEfmt ', 8, 'latin1');
  b.writeUInt32LE(16, 16); b.writeUInt16LE(1, 20); b.writeUInt16LE(1, 22); b.writeUInt32LE(8000, 24);
  b.writeUInt32LE(16000, 28); b.writeUInt16LE(2, 32); b.writeUInt16LE(16, 34); b.write('data', 36, 'latin1');
  b.writeUInt32LE(samples.length * 2, 40);
  samples.forEach((x, i) => b.writeInt16LE(Math.round(Math.max(-1, Math.min(1, x)) * 32767), 44 + i * 2));
  return b;
}
const silence = (s) => new Array(Math.round(s * 8000)).fill(0);
const tone = (s, ...hz) => Array.from({ length: Math.round(s * 8000) },
  (_, i) => hz.reduce((a, f) => a + 0.25 * Math.sin((2 * Math.PI * f * i) / 8000), 0));
// DTMF 1 = 697 Hz + 1209 Hz
const DTMF_1 = [697, 1209];

// Every event of type prefix after an event id (paged by next_after).
async function eventsAfter(after, type = '') {
  const out = [];
  for (;;) {
    const r = await api.get(`/api/v1/events?after=${after}&limit=200${type ? `&type=${type}` : ''}`);
    assert.equal(r.status, 200, r.text);
    out.push(...r.json.items);
    if (!r.json.items.length || !r.json.next_after) return out;
    after = r.json.next_after;
  }
}
const callEvents = async (call, since) => (await eventsAfter(since, 'call.')).filter((e) => e.payload.call === call);

// The first call started after `since` (an event id): its call id.
async function newCall(since) {
  const e = await waitFor(async () => (await eventsAfter(since, 'call.started'))[0], 20000, 'call.started');
  return e.payload.call;
}
const lastId = async () => {
  const items = await eventsAfter(0);
  return items.length ? items[items.length - 1].id : 0;
};

// Seconds of audio above a whisper in a recording (speech or music).
function loudSeconds({ s, rate }, from = 0, to = Infinity) {
  const N = rate / 10;
  let n = 0;
  for (let w = Math.floor(from * rate); w + N <= Math.min(s.length, to * rate); w += N) {
    let e = 0;
    for (let i = w; i < w + N; i++) e += s[i] * s[i];
    if (Math.sqrt(e / N) > 300) n++;
  }
  return n / 10;
}

before(async () => {
  if (!haveBaresip) return;
  dataDir = mkdtempSync(join(tmpdir(), 'hotline-ivr-'));
  work = mkdtempSync(join(tmpdir(), 'hotline-ivr-peers-'));
  writeSipAccounts(dataDir, [ANN, CAROL]);
  const sipPort = await freePort();
  srv = await startServer({ dataDir, args: ['--sip-port', String(sipPort)] });
  srv.sipPort = sipPort;
  api = client(srv.base, (await login(srv.base)).token);
  const mk = async (body) => {
    const r = await api.post('/api/v1/queues', { channels: ['voice'], offer_timeout_seconds: 20, wrap_up_seconds: 0, ...body });
    assert.equal(r.status, 201, r.text);
    return r.json.id;
  };
  ids.sales = await mk({ name: 'Sales', voice_recording: true, voice_announce_s: 20 });
  ids.support = await mk({ name: 'Support' });
  const ymd = (d) => d.toISOString().slice(0, 10);
  ids.night = await mk({ name: 'Night', language: 'sv', business_hours: { timezone: 'UTC',
    weekly: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'].map((day) => ({ day, open: '00:00', close: '24:00' })),
    holidays: [-1, 0, 1].map((k) => ({ date: ymd(new Date(Date.now() + k * 86400000)), name: 'off' })) } });
  ids.wait = await mk({ name: 'Waiting', language: 'de', voice_announce_s: 4 });
  const u = await api.post('/api/v1/users', { username: ANN.user, role: 'agent', password: 'ann-web-password-1' });
  assert.equal(u.status, 201, u.text);
  const ag = await api.post('/api/v1/agents', { name: 'Ann', user_id: u.json.id, capacity: { voice: 1 },
    queues: [ids.sales, ids.support] });
  assert.equal(ag.status, 201, ag.text);
  ids.agent = ag.json.id;
  ids.ann = client(srv.base, (await login(srv.base, ANN.user, 'ann-web-password-1')).token);
  writeFileSync(join(dataDir, 'voice_menus'), [
    '# the menus of the test', '[main]', 'language = en',
    'greeting = Welcome to the Hotline test. For sales, press 1. For support, press 2.',
    `1 = queue:${ids.sales}`, `2 = queue:${ids.support}`, 'timeout = 5', 'retries = 1', '',
    '[strict]', 'language = hu', 'greeting = Kérjük, válasszon.', `1 = queue:${ids.support}`,
    'timeout = 1', 'retries = 1', ''].join('\n'));
  writeFileSync(join(dataDir, 'voice_numbers'),
    `${MENU} menu:main\n${STRICT} menu:strict\n${NIGHT} queue:${ids.night}\n${WAIT} queue:${ids.wait}\n`);
  await waitFor(() => /4 service number\(s\) from/.test(srv.log) && /2 menu\(s\) from/.test(srv.log), 10000,
    'numbers and menus loaded');
});

after(async () => {
  if (!haveBaresip) return;
  const st = await srv.stop();
  rmSync(work, { recursive: true, force: true });
  srv.cleanup();
  assert.equal(st.code, 0);
});

test('menu → digit 1 (in-band) → queue → agent: both sides hear each other, events and a recording',
  { skip }, async () => {
    const agent = await baresip({ work, sipPort: srv.sipPort, name: 'agent', user: ANN.user, pass: ANN.pass,
      hz: AGENT_HZ, answer: true, register: true, seconds: 45 });
    await waitFor(() => /ann registered sip:/.test(srv.log), 15000, 'the agent\'s phone registered');
    const st = await ids.ann.put(`/api/v1/agents/${ids.agent}/state`, { state: 'available' });
    assert.equal(st.status, 200, st.text);
    // the caller's audio: 3 s of listening, the key 1 (in-band), 1 s of
    // silence, then 12 s of its tone; the call ends with the file
    const src = join(work, 'caller.wav');
    writeFileSync(src, wav([...silence(3), ...tone(0.15, ...DTMF_1), ...silence(1), ...tone(12, CALLER_HZ)]));
    const since = await lastId();
    const caller = await baresip({ work, sipPort: srv.sipPort, name: 'caller', user: CAROL.user, pass: CAROL.pass,
      source: src, dial: MENU, seconds: 30 });
    const call = await newCall(since);
    await caller.done;
    const evs = await waitFor(async () => {
      const e = await callEvents(call, since);
      return e.some((x) => x.type === 'call.recorded') && e;
    }, 20000, 'call.recorded').catch((e) => { throw new Error(`${e.message}\n${caller.out.slice(-2000)}\n${srv.log.slice(-4000)}`); });
    const types = evs.map((e) => e.type);
    const order = ['call.started', 'call.menu', 'call.digit', 'call.queued', 'call.ringing', 'call.answered',
      'call.ended'];
    assert.deepEqual(types.filter((t) => order.includes(t)), order, types.join());
    const digit = evs.find((e) => e.type === 'call.digit');
    assert.equal(digit.payload.digit, '1');
    assert.equal(digit.payload.source, 'inband');
    assert.equal(evs.find((e) => e.type === 'call.queued').payload.queue, ids.sales);
    assert.equal(evs.find((e) => e.type === 'call.ended').payload.by, 'caller');
    // the greeting was spoken before the digit
    const heard = recording(caller);
    assert.ok(loudSeconds(heard, 0, 3) >= 1, `the caller heard the greeting (${loudSeconds(heard, 0, 3)} s)`);
    // bridged both ways
    const a = toneWindows(recording(agent), CALLER_HZ), c = toneWindows(heard, AGENT_HZ);
    assert.ok(a >= 10, `the agent heard the caller's ${CALLER_HZ} Hz (${a} windows)`);
    assert.ok(c >= 10, `the caller heard the agent's ${AGENT_HZ} Hz (${c} windows)`);
    // the recording: both directions mixed, 8 kHz
    const recEv = evs.find((e) => e.type === 'call.recorded');
    const files = readdirSync(join(dataDir, 'recordings'));
    assert.ok(files.includes(recEv.payload.file), `${recEv.payload.file} in ${files}`);
    const rec = readWav(join(dataDir, 'recordings', recEv.payload.file));
    assert.equal(rec.rate, 8000);
    assert.ok(recEv.payload.duration_ms >= 5000, JSON.stringify(recEv.payload));
    assert.ok(toneWindows(rec, CALLER_HZ, 0.2) >= 10, 'the recording holds the caller');
    assert.ok(toneWindows(rec, AGENT_HZ, 0.2) >= 10, 'the recording holds the agent');
    assert.equal(recEv.agent, ids.agent);
    await agent.done;
    await ids.ann.put(`/api/v1/agents/${ids.agent}/state`, { state: 'offline' });
  });

test('no choice: the greeting is replayed, then goodbye and the server hangs up', { skip }, async () => {
  const since = await lastId();
  const caller = await baresip({ work, sipPort: srv.sipPort, name: 'silent', user: CAROL.user, pass: CAROL.pass,
    hz: CALLER_HZ, dial: STRICT, seconds: 40 });
  const call = await newCall(since);
  const evs = await waitFor(async () => {
    const e = await callEvents(call, since);
    return e.some((x) => x.type === 'call.ended') && e;
  }, 35000, 'call.ended');
  const end = evs.find((e) => e.type === 'call.ended');
  assert.equal(end.payload.by, 'system');
  assert.equal(end.payload.reason, 'no choice');
  assert.ok(evs.some((e) => e.type === 'call.menu_failed'));
  assert.ok(!evs.some((e) => e.type === 'call.queued'));
  await caller.done;
  assert.match(caller.out, /terminated|closed/i);
  assert.ok(loudSeconds(recording(caller)) >= 1.5, 'greeting and goodbye were spoken');
});

test('a queue closed by its business hours: the closed message (Swedish), then hang-up', { skip }, async () => {
  const since = await lastId();
  const caller = await baresip({ work, sipPort: srv.sipPort, name: 'night', user: CAROL.user, pass: CAROL.pass,
    hz: CALLER_HZ, dial: NIGHT, seconds: 30 });
  const call = await newCall(since);
  const evs = await waitFor(async () => {
    const e = await callEvents(call, since);
    return e.some((x) => x.type === 'call.ended') && e;
  }, 25000, 'call.ended');
  assert.ok(evs.some((e) => e.type === 'call.closed'), evs.map((e) => e.type).join());
  assert.equal(evs.find((e) => e.type === 'call.ended').payload.reason, 'closed');
  await caller.done;
  assert.ok(loudSeconds(recording(caller)) >= 1, 'the closed message was spoken');
});

test('waiting in a queue: music, and the position announced every few seconds', { skip }, async () => {
  const since = await lastId();
  const caller = await baresip({ work, sipPort: srv.sipPort, name: 'waiting', user: CAROL.user, pass: CAROL.pass,
    hz: CALLER_HZ, dial: WAIT, seconds: 14 });
  const call = await newCall(since);
  await caller.done;
  const evs = await waitFor(async () => {
    const e = await callEvents(call, since);
    return e.some((x) => x.type === 'call.ended') && e;
  }, 15000, 'call.ended');
  const ann = evs.filter((e) => e.type === 'call.announced');
  assert.ok(ann.length >= 2, `announcements: ${ann.length}`);
  assert.equal(ann[0].payload.position, 1);
  const heard = recording(caller);
  assert.ok(loudSeconds(heard) >= 8, `music and speech fill the wait (${loudSeconds(heard)} s of ${heard.s.length / 8000})`);
  const task = evs.find((e) => e.type === 'call.queued').payload.task;
  const types = (await eventsAfter(since, 'task.')).filter((e) => e.interaction === task).map((e) => e.type);
  assert.ok(types.includes('task.abandoned'), types.join());
});
