// Helpers for tests that use baresip (baresip-core) as SIP phones against
// the real server on 127.0.0.1: the phone accounts file, a bounded baresip
// process with its own config (ausine tone source, sndfile recording of what
// it hears, ctrl_tcp for commands and events), and WAV analysis (a Goertzel
// filter). The same as tests/blackbox/voice_call.test.mjs uses, shared.
//
//   const p = await baresip({ work, sipPort, name: 'agent', user, pass, hz: 600,
//                             answer: true, register: true, seconds: 40 });
//   await p.ctrl.waitEvent('CALL_ESTABLISHED');   // ctrl_tcp events
//   await p.ctrl.command('hangup');
//   await p.done;                                  // {code, signal}
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { writeFileSync, readFileSync, readdirSync, mkdirSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import net from 'node:net';
import { freePort } from './server.mjs';

export const REALM = 'hotline';
export const haveBaresip = spawnSync('sh', ['-c', 'command -v baresip']).status === 0;
export const md5 = (s) => createHash('md5').update(s).digest('hex');

// DATA/sip_accounts (htdigest) for [{user, pass}], mode 600.
export function writeSipAccounts(dataDir, accounts) {
  const f = join(dataDir, 'sip_accounts');
  writeFileSync(f, accounts.map((a) => `${a.user}:${REALM}:${md5(`${a.user}:${REALM}:${a.pass}`)}\n`).join(''));
  chmodSync(f, 0o600);
}

// DATA/voice_numbers: [[number, queueId], ...].
export function writeVoiceNumbers(dataDir, numbers) {
  writeFileSync(join(dataDir, 'voice_numbers'), `# number queue\n${numbers.map(([n, q]) => `${n} ${q}`).join('\n')}\n`);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// A ctrl_tcp connection (netstring-framed JSON): events as they come, and
// commands answered by their response.
function ctrlClient(port) {
  const c = { events: [], responses: [], sock: null, buf: Buffer.alloc(0) };
  const parse = () => {
    for (;;) {
      const colon = c.buf.indexOf(0x3a);
      if (colon < 0) return;
      const len = Number(c.buf.subarray(0, colon).toString());
      if (!Number.isFinite(len) || c.buf.length < colon + 1 + len + 1) return;
      const body = c.buf.subarray(colon + 1, colon + 1 + len).toString();
      c.buf = c.buf.subarray(colon + 2 + len);
      let m;
      try { m = JSON.parse(body); } catch { continue; }
      if (m.event) c.events.push(m);
      else if (m.response) c.responses.push(m);
    }
  };
  c.connect = async () => {
    for (let i = 0; i < 100 && !c.sock; i++) {
      c.sock = await new Promise((resolve) => {
        const s = net.connect(port, '127.0.0.1');
        s.once('connect', () => resolve(s));
        s.once('error', () => resolve(null));
      });
      if (!c.sock) await sleep(50);
    }
    if (!c.sock) throw new Error(`baresip ctrl_tcp on ${port} did not answer`);
    c.sock.on('data', (d) => { c.buf = Buffer.concat([c.buf, d]); parse(); });
    c.sock.on('error', () => {});
  };
  c.command = async (command, params = '') => {
    if (!c.sock) await c.connect();
    const token = `t${Math.random().toString(36).slice(2)}`;
    const body = JSON.stringify({ command, params, token });
    c.sock.write(`${Buffer.byteLength(body)}:${body},`);
    const end = Date.now() + 5000;
    while (Date.now() < end) {
      const r = c.responses.find((x) => x.token === token);
      if (r) return r;
      await sleep(20);
    }
    throw new Error(`baresip did not answer ${command}`);
  };
  c.hasEvent = (type) => c.events.some((e) => e.type === type);
  c.waitEvent = async (type, ms = 15000) => {
    if (!c.sock) await c.connect();
    const end = Date.now() + ms;
    while (Date.now() < end) {
      const e = c.events.find((x) => x.type === type);
      if (e) return e;
      await sleep(20);
    }
    throw new Error(`baresip: no ${type} event in ${ms} ms (got ${c.events.map((e) => e.type).join(', ')})`);
  };
  c.close = () => { c.sock?.destroy(); };
  return c;
}

// A baresip process in work/name: bounded by -t and a kill timer. Returns
// {dir, out (its log so far), done (resolves at exit), ctrl (ctrl_tcp)}.
// source: a WAV file (8 kHz mono) to send instead of the hz tone (baresip's
// aufile: the call ends when the file ends).
export async function baresip({ work, sipPort, name, user, pass, hz, answer = false, manual = false,
  register = false, dial, seconds, source }) {
  const dir = join(work, name);
  mkdirSync(join(dir, 'rec'), { recursive: true });
  const lp = await freePort();
  const ctrl = await freePort();
  writeFileSync(join(dir, 'config'), [`sip_listen 127.0.0.1:${lp}`, 'net_interface 127.0.0.1',
    'audio_player alsa,null', 'audio_alert alsa,null',
    ...(source ? [`audio_source aufile,${source}`]
      : [`audio_source ausine,${hz}`, 'ausrc_srate 48000', 'ausrc_channels 2']),
    'module_path /usr/lib/baresip/modules', 'module g711.so', 'module alsa.so',
    'module ausine.so', ...(source ? ['module aufile.so'] : []), 'module sndfile.so', `snd_path ${join(dir, 'rec')}`, 'module ctrl_tcp.so',
    `ctrl_tcp_listen 127.0.0.1:${ctrl}`, 'module_tmp uuid.so', 'module_tmp account.so',
    'module_app menu.so', ''].join('\n'));
  writeFileSync(join(dir, 'accounts'), `<sip:${user}@127.0.0.1:${sipPort};transport=udp>;auth_pass=${pass};`
    + `${answer ? 'answermode=auto;' : manual ? 'answermode=manual;' : ''}regint=${register ? 600 : 0}\n`);
  const args = ['-f', dir, '-t', String(seconds)];
  if (dial) args.push('-e', `/dial sip:${dial}@127.0.0.1:${sipPort}`);
  const p = { dir, out: '', ctrl: ctrlClient(ctrl) };
  p.done = new Promise((resolve) => {
    const c = spawn('baresip', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    p.proc = c;
    c.stdout.on('data', (d) => { p.out += d; });
    c.stderr.on('data', (d) => { p.out += d; });
    const t = setTimeout(() => c.kill('SIGKILL'), (seconds + 15) * 1000);
    c.on('exit', (code, signal) => { clearTimeout(t); p.ctrl.close(); resolve({ code, signal }); });
  });
  // connect early so that no event is missed
  p.ctrl.connect().catch(() => {});
  return p;
}

// 16-bit PCM samples (first channel) and the rate of a WAV file (or buffer).
export function readWav(fileOrBuffer) {
  const b = Buffer.isBuffer(fileOrBuffer) ? fileOrBuffer : readFileSync(fileOrBuffer);
  let off = 12, rate = 8000, ch = 1, data;
  while (off + 8 <= b.length) {
    const id = b.toString('latin1', off, off + 4), len = b.readUInt32LE(off + 4);
    if (id === 'fmt ') { ch = b.readUInt16LE(off + 10); rate = b.readUInt32LE(off + 12); }
    if (id === 'data') { data = b.subarray(off + 8, Math.min(b.length, off + 8 + len)); break; }
    off += 8 + len + (len & 1);
  }
  const n = data ? Math.floor(data.length / (2 * ch)) : 0;
  const s = new Float64Array(n);
  for (let i = 0; i < n; i++) s[i] = data.readInt16LE(i * 2 * ch);
  return { s, rate };
}

// The number of 100 ms windows in which the tone at hz carries most of the
// window's energy (Goertzel power against the energy of a pure tone).
export function toneWindows({ s, rate }, hz, share = 0.5) {
  const N = Math.floor(rate / 10), coeff = 2 * Math.cos((2 * Math.PI * hz) / rate);
  let count = 0;
  for (let w = 0; w + N <= s.length; w += N) {
    let s1 = 0, s2 = 0, e = 0;
    for (let i = w; i < w + N; i++) {
      const x = s[i];
      const s0 = x + coeff * s1 - s2;
      s2 = s1; s1 = s0; e += x * x;
    }
    const p = s1 * s1 + s2 * s2 - coeff * s1 * s2;
    if (e > N * 100 * 100 && p / (e * N / 2) > share) count++;
  }
  return count;
}

// What a baresip process heard (its sndfile "-dec.wav" recording).
export function recording(p) {
  const f = readdirSync(join(p.dir, 'rec')).filter((x) => x.endsWith('-dec.wav'));
  return f.length ? readWav(join(p.dir, 'rec', f[0])) : { s: new Float64Array(0), rate: 8000 };
}
