// Process-level behaviour: graceful SIGTERM, config errors, first start,
// the user command, login throttling.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer, login, client, BIN, freePort } from '../lib/server.mjs';

test('SIGTERM with requests in flight: answered, then exit 0 within 5 s', async () => {
  const srv = await startServer();
  const { token } = await login(srv.base);
  const api = client(srv.base, token);
  const inflight = Array.from({ length: 50 }, (_, i) => api.post('/api/v1/skills', { name: `term ${i}` }).catch(() => null));
  await new Promise((r) => setTimeout(r, 5));
  const t0 = Date.now();
  const status = await srv.stop('SIGTERM');
  const took = Date.now() - t0;
  assert.equal(status.code, 0, srv.log);
  assert.ok(took < 5000, `took ${took} ms`);
  assert.match(srv.log, /stopped cleanly/);
  const results = await Promise.all(inflight);
  // Whatever was acknowledged is there after a restart.
  const acked = results.filter((r) => r && r.status === 201).map((r) => r.json.name);
  const again = await startServer({ dataDir: srv.dataDir });
  const { token: t2 } = await login(again.base);
  const names = (await client(again.base, t2).get('/api/v1/skills?limit=200')).json.items.map((s) => s.name);
  for (const n of acked) assert.ok(names.includes(n), n);
  await again.stop();
  again.cleanup();
});

test('a config error names the file, the line and what was expected', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'hotline-cfg-'));
  const cfg = join(dir, 'bad.conf');
  writeFileSync(cfg, '[http]\nport = 8080\nprot = 9\n');
  const r = spawnSync(BIN, ['serve', '--config', cfg, '--data', dir], { encoding: 'utf8' });
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, new RegExp(`${cfg}:3: unknown key 'prot' in \\[http\\]`));
  writeFileSync(cfg, '[http]\nport = eighty\n');
  const r2 = spawnSync(BIN, ['serve', '--config', cfg, '--data', dir], { encoding: 'utf8' });
  assert.notEqual(r2.status, 0);
  assert.match(r2.stderr, new RegExp(`${cfg}:2: port: expected a number from 0 to 65535`));
  writeFileSync(cfg, '[http\n');
  const r3 = spawnSync(BIN, ['serve', '--config', cfg], { encoding: 'utf8' });
  assert.match(r3.stderr, new RegExp(`${cfg}:1: expected '\\[section\\]'`));
  const r4 = spawnSync(BIN, ['serve', '--http-port', 'x'], { encoding: 'utf8' });
  assert.equal(r4.status, 2);
  rmSync(dir, { recursive: true, force: true });
});

test('a valid config file is used, flags override it', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'hotline-cfg-'));
  const port = await freePort();
  const cfg = join(dir, 'ok.conf');
  writeFileSync(cfg, `# test\n[server]\ndata = ${dir}/data\n[http]\nport = 1\nbind = 127.0.0.1\n[sip]\nport = 0\n`);
  const srv = await startServer({ dataDir: `${dir}/data`, port, args: ['--config', cfg, '--http-port', String(port)] });
  assert.equal((await fetch(`${srv.base}/healthz`)).status, 200);
  await srv.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('first start without HOTLINE_ADMIN_PASSWORD prints a generated password once', async () => {
  const srv = await startServer({ env: { HOTLINE_ADMIN_PASSWORD: '' } });
  const m = srv.log.match(/user 'admin', password '([A-Za-z0-9_-]+)'/);
  assert.ok(m, srv.log);
  await login(srv.base, 'admin', m[1]);
  await srv.stop();
  const again = await startServer({ dataDir: srv.dataDir, env: { HOTLINE_ADMIN_PASSWORD: '' } });
  assert.doesNotMatch(again.log, /password '/);
  await again.stop();
  again.cleanup();
});

test('hotline user add and passwd', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'hotline-user-'));
  const env = { ...process.env, HOTLINE_PASSWORD: 'bob-password-1', HOTLINE_ADMIN_PASSWORD: 'x-admin-password' };
  const add = spawnSync(BIN, ['user', 'add', 'bob', 'supervisor', '--data', dir], { env, encoding: 'utf8' });
  assert.equal(add.status, 0, add.stderr);
  const dup = spawnSync(BIN, ['user', 'add', 'bob', 'agent', '--data', dir], { env, encoding: 'utf8' });
  assert.equal(dup.status, 1);
  assert.match(dup.stderr, /exists already/);
  const pw = spawnSync(BIN, ['user', 'passwd', 'bob', '--data', dir], { env: { ...env, HOTLINE_PASSWORD: 'bob-password-2' }, encoding: 'utf8' });
  assert.equal(pw.status, 0, pw.stderr);
  const srv = await startServer({ dataDir: dir });
  const s = await login(srv.base, 'bob', 'bob-password-2');
  assert.equal(s.user.role, 'supervisor');
  await srv.stop();
  srv.cleanup();
  const v = spawnSync(BIN, ['version'], { encoding: 'utf8' });
  assert.match(v.stdout, /^hotline \d+\.\d+\.\d+/);
});

test('repeated failed logins slow down, then lock the source out with 429', async () => {
  const srv = await startServer();
  const anon = client(srv.base);
  const statuses = [];
  let retryAfter = null;
  for (let i = 0; i < 10; i++) {
    const t0 = Date.now();
    const r = await anon.post('/api/v1/auth/login', { username: 'admin', password: `wrong-${i}` });
    statuses.push([r.status, Date.now() - t0]);
    if (r.status === 429) retryAfter = r.headers.get('retry-after');
  }
  assert.deepEqual(statuses.map((s) => s[0]), [401, 401, 401, 401, 401, 401, 401, 401, 401, 429]);
  assert.ok(statuses[5][1] >= 400, `6th failure answered after ${statuses[5][1]} ms`);
  assert.ok(Number(retryAfter) > 0);
  // Locked: even the right password is refused for now.
  const locked = await anon.post('/api/v1/auth/login', { username: 'admin', password: 'admin-test-password-1' });
  assert.equal(locked.status, 429);
  await srv.stop();
  srv.cleanup();
});

test('SIP: OPTIONS answered 200 on all addresses, other requests 501, junk ignored', async () => {
  const dgram = await import('node:dgram');
  const sock = dgram.createSocket('udp4');
  await new Promise((r) => sock.bind(0, '127.0.0.1', r));
  const sipPort = await freePort();
  // No --bind for SIP: the default listens on every interface address.
  const srv = await startServer({ args: ['--sip-port', String(sipPort)] });
  const replies = [];
  sock.on('message', (m) => replies.push(m.toString()));
  const send = (meth, extra = '') => sock.send(Buffer.from(
    `${meth} sip:service@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:${sock.address().port};branch=z9hG4bK${meth}${extra}\r\n` +
    `From: <sip:t@x>;tag=1\r\nTo: <sip:service@127.0.0.1>\r\nCall-ID: ${meth}${extra}@x\r\nCSeq: 1 ${meth}\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n`),
  sipPort, '127.0.0.1');
  try {
    // SIP opens after HTTP (and after the voice module's prompt service
    // starts): wait for it, since a datagram sent earlier is simply lost
    const up = Date.now() + 15000;
    while (!/SIP \(UDP, TCP\) on port/.test(srv.log) && Date.now() < up) await new Promise((r) => setTimeout(r, 20));
    sock.send(Buffer.from('\x00\xffnot sip at all'), sipPort, '127.0.0.1');
    send('OPTIONS');
    send('SUBSCRIBE'); // REGISTER belongs to the registrar now (tests/blackbox/sip.test.mjs)
    const end = Date.now() + 5000;
    while (replies.length < 2 && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    const lines = replies.map((r) => r.split('\r\n')[0]).sort();
    assert.deepEqual(lines, ['SIP/2.0 200 OK', 'SIP/2.0 501 Not Implemented']);
    assert.equal((await fetch(`${srv.base}/healthz`)).status, 200);
  } finally {
    sock.close();
    assert.equal((await srv.stop()).code, 0);
    srv.cleanup();
  }
});
