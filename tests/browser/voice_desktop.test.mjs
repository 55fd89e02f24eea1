// Browser test of phone calls on the agent desktop and the supervisor view:
// a real hotline with SIP on loopback, Debian's Chromium (playwright-core),
// baresip as the agent's phone (registered as ann, answered through its
// ctrl_tcp "accept") and as a caller (carol). The voice offer shows the
// caller and says to answer on the phone (no Accept button); once the phone
// answers, the current-call panel shows "Talking" with a running timer and
// the offer is gone; the supervisor sees the call in the Calls panel; Hang
// up on the desktop ends the call on both phones (CALL_CLOSED on both
// baresips) and the panels empty; the recording (the queue records) is in
// the agent's and the supervisor's lists and loads in the <audio> player.
// Skips without baresip or Chromium.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer, freePort, login, client } from '../lib/server.mjs';
import { launchBrowser } from '../lib/browser.mjs';
import { baresip, haveBaresip, writeSipAccounts, writeVoiceNumbers } from '../lib/baresip.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const T = 20000;
const ANN = { user: 'ann', pass: 'ann-sip-pass-1', web: 'ann-web-password-1' };
const CAROL = { user: 'carol', pass: 'carol-sip-pass-2' };
const NUMBER = '5000';
const haveChromium = existsSync(process.env.CHROMIUM || '/usr/bin/chromium');
const skip = !haveBaresip ? 'baresip not installed' : !haveChromium ? 'chromium not installed' : false;

let server, api, browser, work, ids = {};
const pageErrors = [];

async function newPage(name) {
  const context = await browser.newContext({ viewport: { width: 1400, height: 1100 }, locale: 'en-US' });
  const page = await context.newPage();
  page.setDefaultTimeout(T);
  page.on('pageerror', (e) => pageErrors.push(`${name}: ${e.message}`));
  return page;
}

async function uiLogin(page, username, password, heading) {
  await page.goto(`${server.base}/`);
  await page.getByLabel('Username', { exact: true }).fill(username);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { level: 1, name: heading }).waitFor();
}

before(async () => {
  if (skip) return;
  const dataDir = mkdtempSync(join(tmpdir(), 'hotline-voice-ui-'));
  work = mkdtempSync(join(tmpdir(), 'hotline-voice-ui-peers-'));
  writeSipAccounts(dataDir, [ANN, CAROL]);
  const sipPort = await freePort();
  server = await startServer({ dataDir, args: ['--web', join(root, 'web'), '--sip-port', String(sipPort)] });
  server.sipPort = sipPort;
  api = client(server.base, (await login(server.base)).token);
  const q = await api.post('/api/v1/queues', { name: 'Phone line', channels: ['voice'], offer_timeout_seconds: 30,
    wrap_up_seconds: 0, voice_announce_s: 0, voice_recording: true });
  assert.equal(q.status, 201, q.text);
  ids.queue = q.json.id;
  const u = await api.post('/api/v1/users', { username: ANN.user, role: 'agent', password: ANN.web });
  assert.equal(u.status, 201, u.text);
  const s = await api.post('/api/v1/users', { username: 'sue', role: 'supervisor', password: 'sue-web-password-1' });
  assert.equal(s.status, 201, s.text);
  const ag = await api.post('/api/v1/agents', { name: 'Ann Agent', user_id: u.json.id, capacity: { voice: 1 },
    queues: [ids.queue] });
  assert.equal(ag.status, 201, ag.text);
  ids.agent = ag.json.id;
  writeVoiceNumbers(dataDir, [[NUMBER, ids.queue]]);
  const end = Date.now() + 10000;
  while (!/1 service number\(s\) from/.test(server.log) && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
  browser = await launchBrowser();
});

after(async () => {
  if (skip) return;
  await browser?.close();
  const st = await server.stop();
  rmSync(work, { recursive: true, force: true });
  server.cleanup();
  assert.equal(st.code, 0);
});

test('a phone call on the agent desktop: offer, talking with a timer, the supervisor sees it, hang up from the desktop',
  { skip }, async () => {
    const ann = await newPage('ann');
    const sue = await newPage('sue');
    await uiLogin(ann, ANN.user, ANN.web, 'Agent desktop');
    await uiLogin(sue, 'sue', 'sue-web-password-1', 'Supervisor');
    await ann.locator('#current-call').getByText('No call right now.').waitFor();
    await sue.locator('#live-calls').waitFor();

    const phone = await baresip({ work, sipPort: server.sipPort, name: 'ann-phone', user: ANN.user, pass: ANN.pass,
      hz: 600, manual: true, register: true, seconds: 60 });
    let caller;
    try {
      const deadline = Date.now() + 15000;
      while (!/ann registered sip:/.test(server.log) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      assert.match(server.log, /ann registered sip:/);
      await ann.getByRole('button', { name: 'Available', exact: true }).click();
      await ann.locator('#my-state[data-state="available"]').waitFor();

      caller = await baresip({ work, sipPort: server.sipPort, name: 'carol', user: CAROL.user, pass: CAROL.pass,
        hz: 1000, dial: NUMBER, seconds: 50 });
      // the offer: the caller, the queue, answer on the phone; no Accept here
      const offer = ann.locator('.offer-card.offer-voice');
      await offer.waitFor();
      await offer.getByText('From carol').waitFor();
      await offer.getByText('Phone line').waitFor();
      await offer.getByText('Answer on your phone.').waitFor();
      assert.equal(await offer.getByRole('button', { name: 'Accept' }).count(), 0);
      assert.equal(await offer.getByRole('button', { name: 'Reject' }).count(), 1);

      // the phone rings; answering it connects the call
      await phone.ctrl.waitEvent('CALL_INCOMING', T);
      const acc = await phone.ctrl.command('accept');
      assert.ok(acc.ok !== false, JSON.stringify(acc));
      await phone.ctrl.waitEvent('CALL_ESTABLISHED', T);

      const callCard = ann.locator('#current-call .call-card[data-state="talking"]');
      await callCard.waitFor();
      await callCard.getByText('carol').waitFor();
      await callCard.getByText('Talking').waitFor();
      await callCard.locator('.call-queue', { hasText: 'Phone line' }).waitFor();
      await offer.waitFor({ state: 'detached' });
      const timer = callCard.locator('.call-timer');
      const t1 = (await timer.textContent()).trim();
      assert.match(t1, /^\d+:\d\d$/);
      await ann.waitForFunction((before) => {
        const el = document.querySelector('#current-call .call-card .call-timer');
        return el && el.textContent.trim() !== before;
      }, t1, { timeout: 5000 });

      // the supervisor's Calls panel
      const row = sue.locator('#live-calls tbody tr[data-state="talking"]');
      await row.waitFor();
      await row.getByText('carol').waitFor();
      await row.getByText('Ann Agent').waitFor();
      await row.getByText('Phone line').waitFor();

      // hang up from the desktop: both phones' calls close
      await callCard.getByRole('button', { name: 'Hang up' }).click();
      await phone.ctrl.waitEvent('CALL_CLOSED', T);
      await caller.ctrl.waitEvent('CALL_CLOSED', T);
      await ann.locator('#current-call .call-card').waitFor({ state: 'detached' });
      await ann.locator('#current-call').getByText('No call right now.').waitFor();
      await sue.locator('#live-calls tbody tr[data-call]').first().waitFor({ state: 'detached' });

      // the recording: in Ann's own list and the supervisor's, playable (the
      // page's Content-Security-Policy allows media from the server)
      for (const [p, list] of [[ann, '#my-recordings'], [sue, '#recordings']]) {
        const rec = p.locator(`${list} tbody tr[data-recording]`).first();
        await rec.waitFor();
        await rec.getByText('carol').waitFor();
        const dl = rec.getByRole('link', { name: /Download the recording of call/ });
        assert.match(await dl.getAttribute('href'), /^\/api\/v1\/recordings\/\d+\/audio$/);
        const duration = await p.evaluate(async (sel) => {
          const a = document.querySelector(`${sel} tbody tr[data-recording] audio`);
          a.preload = 'auto';
          a.load();
          await new Promise((resolve, reject) => {
            a.addEventListener('loadedmetadata', resolve, { once: true });
            a.addEventListener('error', () => reject(new Error(`audio error ${a.error && a.error.code}`)), { once: true });
            setTimeout(() => reject(new Error('audio did not load')), 10000);
          });
          return a.duration;
        }, list);
        assert.ok(duration > 0.5, `the recording plays (${duration} s)`);
      }
      assert.deepEqual(pageErrors, []);
    } catch (e) {
      for (const [who, p] of [['ann', ann], ['sue', sue]]) {
        await p.screenshot({ path: `/tmp/hotline-voice-desktop-${who}.png`, fullPage: true }).catch(() => {});
      }
      e.message += `\n(screenshots: /tmp/hotline-voice-desktop-*.png)\nserver log tail:\n${server.log.slice(-3000)}`
        + `\nphone:\n${phone.out.slice(-1000)}`;
      throw e;
    } finally {
      phone.proc?.kill('SIGTERM');
      caller?.proc?.kill('SIGTERM');
      await phone.done;
      await caller?.done;
    }
  });
