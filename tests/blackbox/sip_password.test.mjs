// SIP passwords set through the API (src/api/api_sip.c, docs/API.md, docs/VOICE.md
// "Configuring a phone"): PUT/DELETE/GET /api/v1/users/{id}/sip_password write
// the user's line of DATA/sip_accounts (htdigest), which the voice module
// re-reads; a real phone (SIPp, tests/sipp) then registers with the password.
// Every response is checked against the served OpenAPI document.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync, readFileSync, rmSync, chmodSync, statSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer, freePort, login } from '../lib/server.mjs';
import { loadContract } from '../lib/openapi.mjs';
import { checkedClient } from '../lib/checked.mjs';
import { waitFor } from '../lib/wait.mjs';

const SIPP_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', 'sipp');
const REALM = 'hotline';
const md5 = (s) => createHash('md5').update(s).digest('hex');
const ha1 = (user, pass) => md5(`${user}:${REALM}:${pass}`);
const have = (bin) => spawnSync('sh', ['-c', `command -v ${bin}`]).status === 0;
const BOB_LINE = `bob:${REALM}:${ha1('bob', 'bob-sip-pass-2')}\n`;
const HEAD = `# accounts written by hand: keep this comment\n${BOB_LINE}`;

// A server whose DATA/sip_accounts already holds a comment and bob's line;
// with sip, SIP on a free port (startServer puts --sip-port 0 first; the
// last one wins).
async function server({ sip = false } = {}) {
  const dataDir = mkdtempSync(join(tmpdir(), 'hotline-sippw-'));
  writeFileSync(join(dataDir, 'sip_accounts'), HEAD);
  chmodSync(join(dataDir, 'sip_accounts'), 0o600);
  const sipPort = sip ? await freePort() : 0;
  const srv = await startServer({ dataDir, args: sip ? ['--sip-port', String(sipPort)] : [] });
  srv.sipPort = sipPort;
  srv.accounts = () => readFileSync(join(dataDir, 'sip_accounts'), 'utf8');
  const contract = await loadContract(srv.base);
  const admin = await login(srv.base);
  srv.contract = contract;
  srv.admin = admin;
  srv.api = checkedClient(srv.base, admin.token, contract);
  return srv;
}

async function mkUser(srv, username, role = 'agent') {
  const r = await srv.api.post('/api/v1/users', { username, role, password: `${username}-web-password` });
  assert.equal(r.status, 201, r.text);
  return r.json.id;
}

const problem = (r, status, field) => {
  assert.equal(r.status, status, r.text);
  assert.match(r.headers.get('content-type'), /^application\/problem\+json/);
  if (field !== undefined) assert.equal(r.json.field, field, r.text);
};

function run(cmd, args, timeoutMs, opts = {}) {
  return new Promise((resolve) => {
    const c = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
    let out = '';
    c.stdout.on('data', (d) => { out += d; });
    c.stderr.on('data', (d) => { out += d; });
    const t = setTimeout(() => c.kill('SIGKILL'), timeoutMs);
    c.on('exit', (code, signal) => { clearTimeout(t); resolve({ code, signal, out }); });
  });
}

// SIPp as in tests/blackbox/sip.test.mjs: free local ports, one call.
async function sipp(srv, scenario, user, pass) {
  const dir = mkdtempSync(join(tmpdir(), 'hotline-sipp-'));
  try {
    const [lp, cp, mp] = [await freePort(), await freePort(), await freePort()];
    return await run('sipp', [`127.0.0.1:${srv.sipPort}`, '-sf', join(SIPP_DIR, scenario), '-t', 'u1',
      '-i', '127.0.0.1', '-p', String(lp), '-cp', String(cp), '-mp', String(mp), '-l', '1', '-nostdin',
      '-timeout', '10s', '-timeout_error', '-trace_err', '-s', user, '-au', user, '-ap', pass, '-m', '1'],
    20000, { cwd: dir });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// The voice module logs "N phone account(s)" each time it re-reads the file:
// wait for one after the log offset `from`.
const reloaded = (srv, from, n) => waitFor(() => new RegExp(`\\b${n} phone account\\(s\\)`).test(srv.log.slice(from)),
  5000, `the accounts file re-read with ${n} account(s)`);

test('SIP password: set through the API, a phone registers with it, a wrong one is refused, '
  + 'other lines survive, DELETE stops the next registration; nothing leaks',
{ skip: !have('sipp') && 'sipp (sip-tester) not installed' }, async () => {
  const srv = await server({ sip: true });
  const PASS = 'carol-SIP-pass-1 ä€';
  const PASS2 = 'carol-second-pass-2';
  try {
    const carol = await mkUser(srv, 'carol');
    const path = `/api/v1/users/${carol}/sip_password`;
    assert.deepEqual((await srv.api.get(path)).json, { set: false });

    let from = srv.log.length;
    const put = await srv.api.put(path, { password: PASS });
    assert.equal(put.status, 204, put.text);
    assert.equal(put.text, '');
    assert.deepEqual((await srv.api.get(path)).json, { set: true });
    // The file: the comment and bob's line as they were, carol's line added;
    // mode 0600, no temporary file left.
    assert.equal(srv.accounts(), `${HEAD}carol:${REALM}:${ha1('carol', PASS)}\n`);
    assert.equal(statSync(join(srv.dataDir, 'sip_accounts')).mode & 0o777, 0o600);
    assert.equal(existsSync(join(srv.dataDir, 'sip_accounts.tmp')), false);
    await reloaded(srv, from, 2);

    // A real phone registers with it (and lists and removes its binding).
    const ok = await sipp(srv, 'register.xml', 'carol', PASS);
    assert.equal(ok.code, 0, `register with the password set through the API:\n${ok.out.slice(-1500)}`);
    assert.match(srv.log, /carol registered sip:/);
    // The wrong password: challenged, then 403.
    const bad = await sipp(srv, 'register_wrong.xml', 'carol', 'not-the-password');
    assert.equal(bad.code, 0, `a wrong password is refused:\n${bad.out.slice(-1500)}`);

    // Replacing it keeps one line for carol, in place.
    from = srv.log.length;
    assert.equal((await srv.api.put(path, { password: PASS2 })).status, 204);
    assert.equal(srv.accounts(), `${HEAD}carol:${REALM}:${ha1('carol', PASS2)}\n`);
    await reloaded(srv, from, 2);
    const ok2 = await sipp(srv, 'register.xml', 'carol', PASS2);
    assert.equal(ok2.code, 0, `register with the new password:\n${ok2.out.slice(-1500)}`);

    // DELETE: the line goes, the rest stays, the next registration is refused.
    from = srv.log.length;
    const del = await srv.api.del(path);
    assert.equal(del.status, 204, del.text);
    assert.equal(srv.accounts(), HEAD);
    assert.deepEqual((await srv.api.get(path)).json, { set: false });
    problem(await srv.api.del(path), 404);
    await reloaded(srv, from, 1);
    const gone = await sipp(srv, 'register_wrong.xml', 'carol', PASS2);
    assert.equal(gone.code, 0, `after DELETE the phone is refused (403):\n${gone.out.slice(-1500)}`);

    // The audit trail: who and which user, never the secret.
    const ev = await srv.api.get('/api/v1/events?type=user.sip_password&limit=200');
    assert.equal(ev.status, 200);
    assert.deepEqual(ev.json.items.map((e) => e.type),
      ['user.sip_password_set', 'user.sip_password_set', 'user.sip_password_removed']);
    for (const e of ev.json.items) {
      assert.deepEqual(e.payload, { id: carol });
      assert.equal(e.actor, srv.admin.user.id);
    }
    const all = (await srv.api.get('/api/v1/events?limit=200')).text;
    const secrets = [PASS, PASS2, JSON.stringify(PASS).slice(1, -1), ha1('carol', PASS), ha1('carol', PASS2)];
    for (const s of secrets) {
      assert.ok(!all.includes(s), `the event log holds ${s}`);
      assert.ok(!srv.log.includes(s), `the server log holds ${s}`);
    }
  } finally {
    assert.equal((await srv.stop()).code, 0);
    srv.cleanup();
  }
});

test('SIP password: admins only, validation, unknown users', async () => {
  const srv = await server();
  try {
    const dave = await mkUser(srv, 'dave');
    const sup = await mkUser(srv, 'sam', 'supervisor');
    const path = `/api/v1/users/${dave}/sip_password`;
    // Non-admins: 403 for reading, setting and removing, their own included.
    for (const [name, id] of [['dave', dave], ['sam', sup]]) {
      const s = await login(srv.base, name, `${name}-web-password`);
      const c = checkedClient(srv.base, s.token, srv.contract);
      const own = `/api/v1/users/${id}/sip_password`;
      for (const p of [path, own]) {
        problem(await c.get(p), 403);
        problem(await c.put(p, { password: 'password-123' }), 403);
        problem(await c.del(p), 403);
      }
    }
    // Unknown users and ids that are not ids.
    problem(await srv.api.get('/api/v1/users/9999/sip_password'), 404);
    problem(await srv.api.put('/api/v1/users/9999/sip_password', { password: 'password-123' }), 404);
    problem(await srv.api.del('/api/v1/users/9999/sip_password'), 404);
    problem(await srv.api.get('/api/v1/users/abc/sip_password'), 404);
    problem(await srv.api.del(path), 404); // dave has none yet

    // Validation: 422 naming the field.
    const bad = [
      [{ password: 'seven77' }, 'password'],
      [{ password: 'x'.repeat(129) }, 'password'],
      [{ password: 'ä'.repeat(129) }, 'password'],
      [{ password: 'with\u0001control' }, 'password'],
      [{ password: 'with\ttab-char' }, 'password'],
      [{ password: 'with\nnewline' }, 'password'],
      [{ password: 'with\u0000nul-char' }, 'password'],
      [{ password: 'with\u007fdelete' }, 'password'],
      [{ password: 'with\u0085c1-ctrl' }, 'password'],
      [{ password: 12345678 }, 'password'],
      [{ password: null }, 'password'],
      [{}, 'password'],
      [{ password: 'password-123', extra: 1 }, 'extra'],
    ];
    for (const [body, field] of bad) problem(await srv.api.put(path, body), 422, field);
    problem(await srv.api.put(path, ['password-123']), 422);
    problem(await srv.api.put(path, 'not json'), 400);
    problem(await srv.api.put(path, '{"password": "\\ud800 lone surrogate"}'), 400);
    problem(await srv.api.put(path, new Uint8Array([...Buffer.from('{"password":"abc'), 0xff, 0xfe,
      ...Buffer.from('defgh"}')])), 400);
    assert.deepEqual((await srv.api.get(path)).json, { set: false });
    assert.equal(srv.accounts(), HEAD, 'nothing was written');

    // The limits themselves are fine, counted in characters, not bytes.
    for (const pw of ['8 chars!', 'x'.repeat(128), 'ä'.repeat(8), '€'.repeat(128), 'pass: with colon #']) {
      const r = await srv.api.put(path, { password: pw });
      assert.equal(r.status, 204, `${JSON.stringify(pw)}: ${r.text}`);
      assert.equal(srv.accounts(), `${HEAD}dave:${REALM}:${ha1('dave', pw)}\n`);
    }
    assert.equal(statSync(join(srv.dataDir, 'sip_accounts')).mode & 0o777, 0o600);
  } finally {
    assert.equal((await srv.stop()).code, 0);
    srv.cleanup();
  }
});

test('SIP password: 20 concurrent PUTs for 20 users all end up in the file; a file without a final newline', async () => {
  const srv = await server();
  try {
    const users = [];
    for (let i = 1; i <= 20; i++) {
      const name = `agent${String(i).padStart(2, '0')}`;
      users.push({ name, id: await mkUser(srv, name), pass: `sip-pass-of-${name}` });
    }
    const rs = await Promise.all(users.map((u) =>
      srv.api.put(`/api/v1/users/${u.id}/sip_password`, { password: u.pass })));
    assert.deepEqual(rs.map((r) => r.status), users.map(() => 204), rs.map((r) => r.text).join('\n'));
    const text = srv.accounts();
    assert.ok(text.startsWith(HEAD), `the comment and bob's line first:\n${text}`);
    const lines = text.slice(HEAD.length).split('\n');
    assert.equal(lines.pop(), '', 'ends with a newline');
    assert.deepEqual(lines.sort(), users.map((u) => `${u.name}:${REALM}:${ha1(u.name, u.pass)}`).sort());
    const states = await Promise.all(users.map((u) => srv.api.get(`/api/v1/users/${u.id}/sip_password`)));
    assert.ok(states.every((r) => r.json.set === true));

    // Concurrent removals of half of them keep the others.
    const half = users.filter((_, i) => i % 2 === 0);
    const ds = await Promise.all(half.map((u) => srv.api.del(`/api/v1/users/${u.id}/sip_password`)));
    assert.ok(ds.every((r) => r.status === 204));
    const left = srv.accounts().slice(HEAD.length).split('\n').filter(Boolean).sort();
    assert.deepEqual(left, users.filter((_, i) => i % 2 === 1)
      .map((u) => `${u.name}:${REALM}:${ha1(u.name, u.pass)}`).sort());

    // A hand-edited file whose last line has no newline: kept, then ours.
    writeFileSync(join(srv.dataDir, 'sip_accounts'), `${HEAD}# last line, no newline`);
    const u = users[0];
    assert.equal((await srv.api.put(`/api/v1/users/${u.id}/sip_password`, { password: u.pass })).status, 204);
    assert.equal(srv.accounts(), `${HEAD}# last line, no newline\n${u.name}:${REALM}:${ha1(u.name, u.pass)}\n`);
    for (const x of users) assert.ok(!srv.log.includes(x.pass), 'no password in the log');
  } finally {
    assert.equal((await srv.stop()).code, 0);
    srv.cleanup();
  }
});
