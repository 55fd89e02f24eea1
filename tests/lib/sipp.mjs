// SIPp (Debian sip-tester) runs against the real server on 127.0.0.x, for
// the voice black-box tests: free local ports (SIPp binds its SIP port, a
// control port and the media port plus 2 for video), one bounded run of a
// scenario in tests/sipp with -trace_msg/-trace_err kept for the failure
// message, and show() to print them.
//
//   const r = await sipp(srv, 'voice_caller.xml', ['-s', '7000', '-d', '3000', '-m', '1']);
//   assert.equal(r.code, 0, show('caller', r));
import { spawn } from 'node:child_process';
import dgram from 'node:dgram';
import net from 'node:net';
import { mkdtempSync, readFileSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

export const SIPP_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', 'sipp');

// A bounded child process; handle.kill() stops it early. Resolves with
// {code, signal, out}.
export function run(cmd, args, timeoutMs, opts = {}, handle = {}) {
  return new Promise((resolve) => {
    const c = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
    let out = '';
    c.stdout.on('data', (d) => { out += d; });
    c.stderr.on('data', (d) => { out += d; });
    handle.kill = () => { if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL'); };
    const t = setTimeout(() => c.kill('SIGKILL'), timeoutMs);
    c.on('exit', (code, signal) => { clearTimeout(t); resolve({ code, signal, out }); });
  });
}

const bindable = (make) => new Promise((resolve) => {
  const s = make();
  s.once('error', () => resolve(false));
  s.once('listening', () => s.close(() => resolve(true)));
});
// Whether port can be bound on ip for UDP (0: any port, i.e. whether ip exists).
export const udpFree = (port, ip) => bindable(() => { const s = dgram.createSocket('udp4'); s.bind(port, ip); return s; });
const tcpFree = (port, ip) => bindable(() => net.createServer().listen(port, ip));

// n consecutive ports free for UDP (and the first for TCP too) on ip; not =
// a port (chosen, not bound yet) the block must not contain. Below the
// server's RTP range (16384-32767) and the kernel's ephemeral range.
export async function sippPorts(n, not = 0, ip = '127.0.0.1') {
  for (let i = 0; i < 100; i++) {
    const base = 10000 + 4 * Math.floor(Math.random() * 1500);
    let ok = (not < base || not >= base + n) && await tcpFree(base, ip);
    for (let k = 0; ok && k < n; k++) ok = await udpFree(base + k, ip);
    if (ok) return base;
  }
  throw new Error('no free ports for SIPp');
}

// A port free for UDP with its next two (e.g. a SIPp trunk's own port).
export const freeUdpPort = () => sippPorts(3);

// One SIPp run of scenario against the server from ip: local SIP, control
// and media ports are free ones unless port is given (a phone answering on
// the port it registered from); a run that could not bind is tried again
// (up to 3 times). Resolves with {code, signal, out, trace (-trace_msg),
// errors (-trace_err)}.
export async function sipp(srv, scenario, args,
  { port, ip = '127.0.0.1', timeout = 20, limit = 1, transport = 'u1', handle } = {}) {
  for (let attempt = 1; ; attempt++) {
    const r = await sippOnce(srv, scenario, args, { port, ip, timeout, limit, transport, handle });
    if (attempt >= 3 || r.trace || !/Unable to bind|Address already in use/.test(r.errors + r.out)) return r;
  }
}

async function sippOnce(srv, scenario, args, { port, ip, timeout, limit, transport, handle }) {
  const dir = mkdtempSync(join(tmpdir(), 'hotline-sipp-'));
  try {
    const lp = port || await sippPorts(1, 0, ip), mp = await sippPorts(6, lp, ip), cp = mp + 4;
    const msgs = join(dir, 'messages.log'), errs = join(dir, 'errors.log');
    const r = await run('sipp', [`127.0.0.1:${srv.sipPort}`, '-sf', join(SIPP_DIR, scenario), '-t', transport,
      '-i', ip, '-p', String(lp), '-cp', String(cp), '-mp', String(mp), '-l', String(limit), '-nostdin',
      '-timeout', `${timeout}s`, '-timeout_error', '-trace_err', '-error_file', errs,
      '-trace_msg', '-message_file', msgs, ...args], (timeout + 10) * 1000, { cwd: dir }, handle || {});
    r.trace = existsSync(msgs) ? readFileSync(msgs, 'latin1') : '';
    r.errors = existsSync(errs) ? readFileSync(errs, 'latin1') : '';
    return r;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// A run's output, errors and messages, for an assertion's message.
export const show = (name, r) => `--- ${name}: exit ${r?.code}${r?.signal ? ` (${r.signal})` : ''}\n${(r?.out || '').slice(-1500)}\n` +
  `--- ${name} errors:\n${(r?.errors || '').slice(-2000)}\n--- ${name} messages:\n${(r?.trace || '').slice(-6000)}\n`;
