// Starts a real build/hotline on 127.0.0.1 with a fresh data directory, for
// black-box and browser tests. The binary comes from $HOTLINE_BIN (scripts/
// test-all points it at the sanitized build) or build/hotline.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import net from 'node:net';
import dgram from 'node:dgram';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const BIN = process.env.HOTLINE_BIN || join(root, 'build', 'hotline');
export const ADMIN_PASSWORD = 'admin-test-password-1';

// A free port below the kernel's ephemeral range (32768 and up), so that
// outgoing connections of other programs (a load test) cannot take it
// between this check and the server's bind; startServer retries anyway.
// A port free for both TCP and UDP on 127.0.0.1 (SIP listens on both), in
// 10000-16299: below the server's RTP ports (16384-32767) and the kernel's
// ephemeral range (32768-60999), so a call's media or a client's outgoing
// connection cannot take it between this check and its use.
const bindOk = (port) => Promise.all([
  new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  }),
  new Promise((resolve) => {
    const u = dgram.createSocket('udp4');
    u.once('error', () => { u.close(); resolve(false); });
    u.bind(port, '127.0.0.1', () => u.close(() => resolve(true)));
  }),
]).then(([t, u]) => t && u);

export async function freePort() {
  for (let i = 0; i < 100; i++) {
    const port = 10000 + Math.floor(Math.random() * 6300);
    if (await bindOk(port)) return port;
  }
  throw new Error('no free port');
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Start a server. opts.dataDir reuses a directory (restart after kill);
// opts.args adds command-line arguments; opts.env adds environment.
export async function startServer(opts = {}) {
  // A port freePort() handed out can be taken by someone else before the
  // server binds it (busy shared machines): pick another and try again.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startServerOnce(opts);
    } catch (e) {
      if (opts.port || attempt >= 4 || !/could not start the HTTP server/.test(String(e.message))) throw e;
    }
  }
}

async function startServerOnce(opts) {
  const dataDir = opts.dataDir || mkdtempSync(join(tmpdir(), 'hotline-test-'));
  const port = opts.port || (await freePort());
  const args = ['serve', '--data', dataDir, '--http-port', String(port),
    '--bind', '127.0.0.1', '--sip-port', '0', ...(opts.args || [])];
  const env = { ...process.env, HOTLINE_ADMIN_PASSWORD: ADMIN_PASSWORD,
    ASAN_OPTIONS: 'detect_leaks=1:abort_on_error=0', ...(opts.env || {}) };
  const proc = spawn(BIN, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  proc.stdout.on('data', (d) => { log += d; });
  proc.stderr.on('data', (d) => { log += d; });
  let expectKill = false;
  const exited = new Promise((resolve) => proc.on('exit', (code, signal) => {
    // A crash or sanitizer report shows up in the test output with its log.
    if (!expectKill && (signal || code !== 0)) {
      process.stderr.write(`\n--- hotline exited with ${signal || code}; its log:\n${log}\n---\n`);
    }
    resolve({ code, signal });
  }));
  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 15000;
  for (;;) {
    if (proc.exitCode !== null || proc.signalCode !== null) {
      throw new Error(`hotline exited early:\n${log}`);
    }
    try {
      const r = await fetch(`${base}/healthz`);
      if (r.ok) break;
    } catch { /* not up yet */ }
    if (Date.now() > deadline) {
      proc.kill('SIGKILL');
      throw new Error(`hotline did not become healthy in 15 s:\n${log}`);
    }
    await sleep(50);
  }
  const server = {
    base, port, dataDir, proc, exited,
    get log() { return log; },
    // Graceful stop; resolves with the exit status.
    async stop(signal = 'SIGTERM') {
      if (signal === 'SIGKILL') expectKill = true;
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      return exited;
    },
    kill9() { expectKill = true; proc.kill('SIGKILL'); return exited; },
    cleanup() { rmSync(dataDir, { recursive: true, force: true }); },
  };
  return server;
}

// Log in and return {token, csrf, cookie, user}.
export async function login(base, username = 'admin', password = ADMIN_PASSWORD) {
  const r = await fetch(`${base}/api/v1/auth/login`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password }),
  });
  if (r.status !== 200) throw new Error(`login failed: ${r.status} ${await r.text()}`);
  const body = await r.json();
  const cookie = (r.headers.get('set-cookie') || '').split(';')[0];
  return { token: body.token, csrf: body.csrf_token, cookie, user: body.user };
}

// A small client bound to a bearer token.
export function client(base, token) {
  const call = async (method, path, body, headers = {}) => {
    const h = { ...headers };
    if (token) h.authorization = `Bearer ${token}`;
    let payload;
    if (body !== undefined) {
      h['content-type'] = h['content-type'] || 'application/json';
      payload = typeof body === 'string' || body instanceof Uint8Array ? body : JSON.stringify(body);
    }
    const r = await fetch(base + path, { method, headers: h, body: payload });
    const text = await r.text();
    let json;
    try { json = text ? JSON.parse(text) : undefined; } catch { json = undefined; }
    return { status: r.status, headers: r.headers, text, json };
  };
  return {
    get: (p, h) => call('GET', p, undefined, h),
    post: (p, b, h) => call('POST', p, b, h),
    put: (p, b, h) => call('PUT', p, b, h),
    del: (p, h) => call('DELETE', p, undefined, h),
    raw: call,
  };
}
