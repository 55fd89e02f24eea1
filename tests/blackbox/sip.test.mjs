// SIP black-box tests (docs/VOICE.md): the real server on 127.0.0.1 against
// raw UDP/TCP requests, SIPp scenarios (tests/sipp), baresip as a phone and
// sipvicious as an attacker. Phone accounts are an htdigest file in the
// data directory (DATA/sip_accounts). Tests that need a peer tool skip when
// it is not installed (scripts/deps test installs them).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import net from 'node:net';
import { mkdtempSync, writeFileSync, readFileSync, mkdirSync, rmSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer, freePort } from '../lib/server.mjs';

const SIPP_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', 'sipp');
const REALM = 'hotline';
const ALICE = { user: 'alice', pass: 'alice-sip-pass-1' };
const BOB = { user: 'bob', pass: 'bob-sip-pass-2' };
const md5 = (s) => createHash('md5').update(s).digest('hex');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const have = (bin) => spawnSync('sh', ['-c', `command -v ${bin}`]).status === 0;

// A server with SIP on a free port and an accounts file for alice and bob;
// with tls, a self-signed certificate for 127.0.0.1 (DATA/sip_tls.pem) and
// TLS on the SIP port + 1 (srv.caFile is the certificate to trust).
// startServer puts `--sip-port 0` first; main.c takes the last of repeated
// flags, so the port given here wins.
async function sipServer({ tls = false } = {}) {
  const dataDir = mkdtempSync(join(tmpdir(), 'hotline-sip-'));
  let caFile;
  if (tls) {
    const r = spawnSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dataDir, 'key.pem'),
      '-out', join(dataDir, 'cert.pem'), '-days', '2', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1']);
    assert.equal(r.status, 0, `openssl: ${r.stderr}`);
    caFile = join(dataDir, 'cert.pem');
    writeFileSync(join(dataDir, 'sip_tls.pem'), readFileSync(caFile, 'latin1') + readFileSync(join(dataDir, 'key.pem'), 'latin1'));
    chmodSync(join(dataDir, 'sip_tls.pem'), 0o600);
  }
  const accounts = [ALICE, BOB].map((a) => `${a.user}:${REALM}:${md5(`${a.user}:${REALM}:${a.pass}`)}\n`).join('');
  writeFileSync(join(dataDir, 'sip_accounts'), `# test accounts\n${accounts}`);
  chmodSync(join(dataDir, 'sip_accounts'), 0o600);
  const sipPort = await freePort();
  const srv = await startServer({ dataDir, args: ['--sip-port', String(sipPort)] });
  srv.sipPort = sipPort;
  srv.caFile = caFile;
  return srv;
}

function parse(text) {
  const [head] = text.split('\r\n\r\n');
  const lines = head.split('\r\n');
  const m = /^SIP\/2\.0 (\d{3}) (.*)$/.exec(lines[0]) || [];
  const headers = {};
  for (const l of lines.slice(1)) {
    const i = l.indexOf(':');
    if (i < 0) continue;
    const k = l.slice(0, i).trim().toLowerCase();
    (headers[k] ||= []).push(l.slice(i + 1).trim());
  }
  return { code: Number(m[1]), reason: m[2], headers, text };
}

// A raw SIP peer on UDP or TCP. request() returns the final response to
// one request (provisional ones skipped), matched by Call-ID and CSeq.
async function peer(srv, transport = 'udp') {
  const got = [];
  let sock, port;
  if (transport === 'udp') {
    sock = dgram.createSocket('udp4');
    await new Promise((r) => sock.bind(0, '127.0.0.1', r));
    sock.on('message', (m) => got.push(parse(m.toString('latin1'))));
    port = sock.address().port;
  } else {
    sock = net.connect(srv.sipPort, '127.0.0.1');
    await new Promise((r, j) => { sock.once('connect', r); sock.once('error', j); });
    let buf = '';
    sock.on('data', (d) => {
      buf += d.toString('latin1');
      for (let i; (i = buf.indexOf('\r\n\r\n')) >= 0;) { got.push(parse(buf.slice(0, i + 4))); buf = buf.slice(i + 4); }
    });
    sock.on('error', () => {});
    port = sock.localPort;
  }
  const tp = transport.toUpperCase();
  const send = (raw) => (transport === 'udp'
    ? sock.send(Buffer.from(raw, 'latin1'), srv.sipPort, '127.0.0.1') : sock.write(Buffer.from(raw, 'latin1')));
  const wait = async (pred, ms = 3000) => {
    const end = Date.now() + ms;
    for (;;) {
      const i = got.findIndex(pred);
      if (i >= 0) return got.splice(i, 1)[0];
      if (Date.now() > end) return null;
      await sleep(10);
    }
  };
  let n = 0;
  const p = {
    port, got, send, wait,
    build({ method = 'REGISTER', user = 'alice', ruri, callId, cseq = 1, contact, expires, auth, headers = [], body = '' }) {
      ruri ||= method === 'REGISTER' ? `sip:127.0.0.1:${srv.sipPort}` : `sip:${user}@127.0.0.1:${srv.sipPort}`;
      const h = [`${method} ${ruri} SIP/2.0`,
        `Via: SIP/2.0/${tp} 127.0.0.1:${port};rport;branch=z9hG4bK${randomBytes(6).toString('hex')}`,
        'Max-Forwards: 70', `From: <sip:${user}@127.0.0.1>;tag=${randomBytes(4).toString('hex')}`,
        `To: <sip:${user}@127.0.0.1>`, `Call-ID: ${callId}`, `CSeq: ${cseq} ${method}`];
      if (contact) h.push(`Contact: ${contact}`);
      if (expires !== undefined) h.push(`Expires: ${expires}`);
      if (auth) h.push(`Authorization: ${auth}`);
      h.push(...headers, `Content-Length: ${Buffer.byteLength(body, 'latin1')}`);
      return `${h.join('\r\n')}\r\n\r\n${body}`;
    },
    async request(o, ms) {
      o.callId ||= `c${++n}-${randomBytes(4).toString('hex')}`;
      send(p.build(o));
      return wait((r) => r.code >= 200 && r.headers['call-id']?.[0] === o.callId &&
        r.headers.cseq?.[0] === `${o.cseq ?? 1} ${o.method || 'REGISTER'}`, ms);
    },
    // REGISTER answered with a challenge, then with digest credentials.
    async register({ user = 'alice', pass, authUser = user, contact, expires, callId, cseq = 1, mangle }) {
      callId ||= `r${++n}-${randomBytes(4).toString('hex')}`;
      const ch = await p.request({ user, callId, cseq, contact, expires });
      assert.equal(ch?.code, 401, `challenge: ${ch?.text}`);
      const www = ch.headers['www-authenticate'][0];
      const nonce = /nonce="([^"]+)"/.exec(www)[1];
      const uri = `sip:127.0.0.1:${srv.sipPort}`;
      const nc = '00000001', cnonce = randomBytes(4).toString('hex');
      const ha1 = md5(`${authUser}:${REALM}:${pass}`), ha2 = md5(`REGISTER:${uri}`);
      let response = md5(`${ha1}:${nonce}:${nc}:${cnonce}:auth:${ha2}`);
      let auth = `Digest username="${authUser}", realm="${REALM}", nonce="${nonce}", uri="${uri}", ` +
        `response="${response}", algorithm=MD5, qop=auth, nc=${nc}, cnonce="${cnonce}"`;
      if (mangle) auth = mangle(auth, { nonce, response });
      const res = await p.request({ user, callId, cseq: cseq + 1, contact, expires, auth });
      return { res, auth, callId, cseq: cseq + 1, nonce, www };
    },
    close() { transport === 'udp' ? sock.close() : sock.destroy(); },
  };
  return p;
}

const contactsOf = (r) => (r.headers.contact || []);

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

async function sipp(srv, scenario, args, { transport = 'u1', timeoutMs = 20000 } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'hotline-sipp-'));
  try {
    // local SIP, control and media ports: free ones, not SIPp's fixed defaults
    const [lp, cp, mp] = [await freePort(), await freePort(), await freePort()];
    const r = await run('sipp', [`127.0.0.1:${srv.sipPort}`, '-sf', join(SIPP_DIR, scenario), '-t', transport,
      '-i', '127.0.0.1', '-p', String(lp), '-cp', String(cp), '-mp', String(mp), '-l', '1', '-nostdin', '-timeout', '10s',
      '-timeout_error', '-trace_err', ...args], timeoutMs, { cwd: dir });
    return r;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('SIP: OPTIONS on UDP and TCP, other methods refused, no dialog to end', async () => {
  const srv = await sipServer();
  const u = await peer(srv, 'udp'), t = await peer(srv, 'tcp');
  try {
    for (const p of [u, t]) {
      const o = await p.request({ method: 'OPTIONS', user: 'service' });
      assert.equal(o?.code, 200, 'OPTIONS');
      assert.match(o.headers.allow[0], /REGISTER/);
      assert.equal((await p.request({ method: 'SUBSCRIBE', user: 'service' }))?.code, 501);
      assert.equal((await p.request({ method: 'BYE', user: 'service' }))?.code, 481);
    }
  } finally {
    u.close(); t.close();
    assert.equal((await srv.stop()).code, 0);
    srv.cleanup();
  }
});

test('SIP registrar: challenge, right password binds, query lists, bad expiry, replay, un-register', async () => {
  const srv = await sipServer();
  const p = await peer(srv, 'udp');
  const contact = `<sip:alice@127.0.0.1:${p.port}>`;
  try {
    // challenged, not refused, without credentials
    const { res, callId, cseq, www } = await p.register({ pass: ALICE.pass, contact, expires: 300 });
    assert.match(www, /^Digest realm="hotline", nonce="[0-9a-f]{48}", algorithm=MD5, qop="auth"/);
    assert.equal(res?.code, 200, res?.text);
    assert.deepEqual(contactsOf(res), [`<sip:alice@127.0.0.1:${p.port}>;expires=300`]);
    // the same request again (same Call-ID and CSeq): a replay, refused
    const again = await p.register({ pass: ALICE.pass, contact, expires: 300, callId, cseq: cseq - 1 });
    assert.equal(again.res?.code, 400, 'replayed CSeq');
    // a query (no Contact) lists the binding; expiry above the maximum is capped
    const q = await p.register({ pass: ALICE.pass, callId, cseq: cseq + 1 });
    assert.equal(q.res?.code, 200);
    assert.equal(contactsOf(q.res).length, 1);
    const capped = await p.register({ pass: ALICE.pass, contact, expires: 99999, callId, cseq: cseq + 3 });
    assert.match(contactsOf(capped.res)[0], /;expires=3600$/);
    // too brief
    const brief = await p.register({ pass: ALICE.pass, contact, expires: 30, callId, cseq: cseq + 5 });
    assert.equal(brief.res?.code, 423);
    assert.equal(brief.res.headers['min-expires'][0], '60');
    // a second phone of the same user, then un-register one, then all
    const other = `<sip:alice@127.0.0.1:9;transport=tcp>`;
    const two = await p.register({ pass: ALICE.pass, contact: `${other};expires=120`, callId, cseq: cseq + 7 });
    assert.equal(contactsOf(two.res).length, 2);
    const one = await p.register({ pass: ALICE.pass, contact, expires: 0, callId, cseq: cseq + 9 });
    assert.deepEqual(contactsOf(one.res), [`${other};expires=120`]);
    const none = await p.register({ pass: ALICE.pass, contact: '*', expires: 0, callId, cseq: cseq + 11 });
    assert.equal(none.res?.code, 200);
    assert.equal(contactsOf(none.res).length, 0);
    // a wrong password: 403; the digest username must be the To user
    const wrong = await p.register({ pass: 'not-the-password', contact, expires: 300 });
    assert.equal(wrong.res?.code, 403);
    const bobForAlice = await p.register({ user: 'alice', authUser: 'bob', pass: BOB.pass, contact, expires: 300 });
    assert.equal(bobForAlice.res?.code, 403, 'bob may not register alice');
    // over TCP: the flow is TCP
    const t = await peer(srv, 'tcp');
    const tc = await t.register({ user: 'bob', pass: BOB.pass, contact: `<sip:bob@127.0.0.1:${t.port};transport=tcp>`, expires: 120 });
    assert.equal(tc.res?.code, 200);
    assert.equal(contactsOf(tc.res).length, 1);
    t.close();
    await sleep(100);
    assert.match(srv.log, /bob registered sip:bob@127\.0\.0\.1:\d+;transport=tcp from 127\.0\.0\.1:\d+ \(TCP\)/);
  } finally {
    p.close();
    assert.equal((await srv.stop()).code, 0);
    srv.cleanup();
  }
});

test('SIP registrar: repeated failures throttle the source (503 Retry-After); OPTIONS still answered', async () => {
  const srv = await sipServer();
  const p = await peer(srv, 'udp');
  const contact = `<sip:alice@127.0.0.1:${p.port}>`;
  try {
    // nonces that are not ours get a fresh challenge and are not counted
    for (let i = 0; i < 6; i++) {
      const f = await p.register({ pass: ALICE.pass, contact, expires: 300,
        mangle: (a, { nonce }) => a.replace(nonce, `${nonce.slice(0, 16)}${'0'.repeat(32)}`) });
      assert.equal(f.res?.code, 401, 'forged nonce');
      assert.doesNotMatch(f.res.headers['www-authenticate'][0], /stale/);
    }
    // an unknown user is answered like a wrong password
    const unknown = await p.register({ user: 'mallory', pass: 'x', contact, expires: 300 });
    assert.equal(unknown.res?.code, 403);
    for (let i = 0; i < 4; i++)
      assert.equal((await p.register({ pass: `guess-${i}`, contact, expires: 300 })).res?.code, 403);
    // blocked now: even the right password, and even a first REGISTER
    const blocked = await p.request({ callId: 'blocked-1', contact, expires: 300 });
    assert.equal(blocked?.code, 503);
    assert.ok(Number(blocked.headers['retry-after'][0]) > 50, 'Retry-After about a minute');
    assert.equal((await p.request({ method: 'INVITE', user: 'alice' }))?.code, 503);
    assert.equal((await p.request({ method: 'OPTIONS', user: 'service' }))?.code, 200);
    assert.match(srv.log, /127\.0\.0\.1: 5 failed attempts; blocked for 60 s/);
  } finally {
    p.close();
    assert.equal((await srv.stop()).code, 0);
    srv.cleanup();
  }
});

test('SIP: malformed requests get 400/413 or are dropped, and the server keeps answering', async () => {
  const srv = await sipServer();
  const p = await peer(srv, 'udp');
  try {
    // truncated: Content-Length says more than the datagram holds
    let raw = p.build({ method: 'OPTIONS', user: 'service', callId: 'trunc' }).replace('Content-Length: 0', 'Content-Length: 500');
    p.send(raw);
    assert.equal((await p.wait((r) => r.headers['call-id']?.[0] === 'trunc'))?.code, 400);
    // CSeq method not the request's
    raw = p.build({ method: 'OPTIONS', user: 'service', callId: 'cseq' }).replace('CSeq: 1 OPTIONS', 'CSeq: 1 INVITE');
    p.send(raw);
    assert.equal((await p.wait((r) => r.headers['call-id']?.[0] === 'cseq'))?.code, 400);
    // a body over 16 KiB (libre reads 8 KiB of a datagram: truncated, 400)
    p.send(p.build({ method: 'MESSAGE', user: 'service', callId: 'big', body: 'x'.repeat(20000),
      headers: ['Content-Type: text/plain'] }));
    const big = await p.wait((r) => r.headers['call-id']?.[0] === 'big', 1500);
    assert.ok(!big || big.code === 413 || big.code === 400, `oversized: ${big?.code}`);
    // junk, half a request, an oversized header block, a bad Contact
    p.send(Buffer.from('\x00\xff\x13not sip at all'));
    p.send('REGISTER sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:1;branch=z9hG4bKx\r\nCSe');
    p.send(p.build({ method: 'OPTIONS', user: 'service', callId: 'hdr', headers: [`X-Long: ${'y'.repeat(60000)}`] }));
    const bad = await p.register({ pass: ALICE.pass, contact: '<mailto:alice@example.com>', expires: 300 });
    assert.equal(bad.res?.code, 400, 'non-SIP Contact');
    const star = await p.register({ pass: ALICE.pass, contact: '*', expires: 300 });
    assert.equal(star.res?.code, 400, '* without Expires: 0');
    // and over TCP a garbage stream does not hurt the next connection
    const s = net.connect(srv.sipPort, '127.0.0.1');
    await new Promise((r) => s.once('connect', r));
    s.on('error', () => {});
    s.write(`INVITE sip:x@y SIP/2.0\r\nContent-Length: 99999999\r\n\r\n${'z'.repeat(70000)}`);
    await sleep(200);
    s.destroy();
    const t = await peer(srv, 'tcp');
    assert.equal((await t.request({ method: 'OPTIONS', user: 'service' }))?.code, 200);
    // over TCP the whole body arrives, so its size is what is refused
    assert.equal((await t.request({ method: 'MESSAGE', user: 'service', body: 'x'.repeat(20000),
      headers: ['Content-Type: text/plain'] }))?.code, 413);
    t.close();
    assert.equal((await p.request({ method: 'OPTIONS', user: 'service' }))?.code, 200);
    assert.equal((await fetch(`${srv.base}/healthz`)).status, 200);
  } finally {
    p.close();
    assert.equal((await srv.stop()).code, 0);
    srv.cleanup();
  }
});

test('SIPp: register, query and un-register over UDP and TCP; a wrong password is refused; an INVITE to an outside number is refused',
  { skip: !have('sipp') && 'sipp (sip-tester) not installed' }, async () => {
    const srv = await sipServer();
    try {
      for (const tp of ['u1', 't1']) {
        const r = await sipp(srv, 'register.xml', ['-s', ALICE.user, '-au', ALICE.user, '-ap', ALICE.pass, '-m', '1'], { transport: tp });
        assert.equal(r.code, 0, `register over ${tp}:\n${r.out.slice(-1500)}`);
      }
      const w = await sipp(srv, 'register_wrong.xml', ['-s', ALICE.user, '-au', ALICE.user, '-ap', 'wrong-password', '-m', '1']);
      assert.equal(w.code, 0, `wrong password answered 403:\n${w.out.slice(-1500)}`);
      const inv = await sipp(srv, 'invite_outside.xml', ['-s', '900046701234567', '-m', '1']);
      assert.equal(inv.code, 0, `INVITE refused with 403:\n${inv.out.slice(-1500)}`);
      assert.doesNotMatch(srv.log, /900046701234567/, 'the number went nowhere');
    } finally {
      assert.equal((await srv.stop()).code, 0);
      srv.cleanup();
    }
  });

test('baresip registers with the right password over UDP, TCP and TLS, and un-registers on exit',
  { skip: !(have('baresip') && have('openssl')) && 'baresip (baresip-core) or openssl not installed' }, async () => {
    const srv = await sipServer({ tls: true });
    const dir = mkdtempSync(join(tmpdir(), 'hotline-baresip-'));
    try {
      for (const tp of ['udp', 'tcp', 'tls']) {
        const cfgDir = join(dir, tp);
        mkdirSync(cfgDir);
        // baresip also binds TLS on its SIP port + 1: keep two free ports apart
        const lp = await freePort();
        writeFileSync(join(cfgDir, 'config'), [`sip_listen 127.0.0.1:${lp}`, 'net_interface 127.0.0.1',
          'audio_player alsa,null', 'audio_alert alsa,null', 'audio_source ausine,440', 'ausrc_srate 48000',
          'ausrc_channels 2', 'module_path /usr/lib/baresip/modules', 'module g711.so', 'module alsa.so',
          'module ausine.so', 'module_tmp uuid.so', 'module_tmp account.so', `sip_cafile ${srv.caFile}`, ''].join('\n'));
        const port = tp === 'tls' ? srv.sipPort + 1 : srv.sipPort;
        writeFileSync(join(cfgDir, 'accounts'),
          `<sip:alice@127.0.0.1:${port};transport=${tp}>;auth_pass=${ALICE.pass};regint=600\n`);
        const r = await run('baresip', ['-f', cfgDir, '-t', '3'], 10000);
        assert.match(r.out, new RegExp(`alice@127\\.0\\.0\\.1: \\{0/${tp.toUpperCase()}/v4\\} 200 OK \\(Hotline [^)]*\\) \\[1 binding\\]`), r.out);
        await sleep(200);
        const re = new RegExp(`alice registered sip:alice-[^ ]+ from 127\\.0\\.0\\.1:\\d+ \\(${tp.toUpperCase()}\\)`);
        assert.match(srv.log, re);
      }
      assert.equal((srv.log.match(/alice unregistered/g) || []).length, 3, 'un-registered on exit');
    } finally {
      rmSync(dir, { recursive: true, force: true });
      assert.equal((await srv.stop()).code, 0);
      srv.cleanup();
    }
  });

test('sipvicious: svwar finds no extension, svcrack finds no password and is throttled',
  { skip: !(have('svwar') && have('svcrack')) && 'sipvicious not installed' }, async () => {
    const srv = await sipServer();
    const dir = mkdtempSync(join(tmpdir(), 'hotline-sipvicious-'));
    try {
      const env = { ...process.env, HOME: dir }; // sipvicious keeps sessions under ~/.sipvicious
      const ext = join(dir, 'ext.txt');
      writeFileSync(ext, 'alice\nbob\ncarol\n100\n101\n1000\nadmin\n');
      for (const extra of [[], ['--force']]) { // (INVITE scans count as failures)
        const w = await run('svwar', ['-d', ext, '-p', String(srv.sipPort), '-b', '127.0.0.1',
          '-P', String(await freePort()), '-t', '0.05', ...extra, '127.0.0.1'], 30000, { env });
        assert.doesNotMatch(w.out, /\|\s*(alice|bob)\s*\|/, `svwar ${extra}: ${w.out}`);
      }
      // Control: with the password third in the list svcrack finds it, so the
      // tool does work against this server ...
      const words = join(dir, 'words.txt');
      writeFileSync(words, `1234\nsecret\n${BOB.pass}\n`);
      const found = await run('svcrack', ['-u', 'bob', '-d', words, '-p', String(srv.sipPort), '-b', '127.0.0.1',
        '-P', String(await freePort()), '-t', '0.05', '127.0.0.1'], 30000, { env });
      assert.match(found.out, new RegExp(BOB.pass), `control run: ${found.out}`);
      // ... but with it tenth, the throttle stops it after five failures.
      writeFileSync(words, ['1234', 'password', 'alice', '0000', 'secret', '1111', 'letmein', 'qwerty', '12345',
        ALICE.pass, '9999'].join('\n') + '\n');
      const crack = await run('svcrack', ['-u', 'alice', '-d', words, '-p', String(srv.sipPort), '-b', '127.0.0.1',
        '-P', String(await freePort()), '-t', '0.05', '127.0.0.1'], 40000, { env });
      assert.doesNotMatch(crack.out, new RegExp(ALICE.pass), crack.out);
      assert.match(srv.log, /127\.0\.0\.1: 5 failed attempts; blocked for 60 s/);
      const p = await peer(srv, 'udp');
      assert.equal((await p.request({ callId: 'after-crack', contact: '<sip:alice@127.0.0.1:1>', expires: 60 }))?.code, 503);
      p.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
      assert.equal((await srv.stop()).code, 0);
      srv.cleanup();
    }
  });
