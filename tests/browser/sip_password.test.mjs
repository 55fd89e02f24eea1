// Browser test of the users page's "SIP password" action (web/admin/sip.js):
// a real hotline server and Debian's Chromium (playwright-core). An admin
// opens the dialog for a user, is told when the repeat differs or the
// password is too short, sets it (GET /api/v1/users/{id}/sip_password then
// says set, and DATA/sip_accounts has the user's HA1), and removes it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync, existsSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer, login, client, ADMIN_PASSWORD } from '../lib/server.mjs';
import { launchBrowser } from '../lib/browser.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const SIP_PASS = 'erin-phone-pass-1';

let server;
let browser;
let page;
let api;
let erin;
const pageErrors = [];
const dialogs = [];

before(async () => {
  server = await startServer({ args: ['--web', join(root, 'web')] });
  const s = await login(server.base);
  api = client(server.base, s.token);
  const r = await api.post('/api/v1/users', { username: 'erin', role: 'agent', display_name: 'Erin',
    password: 'erin-web-password' });
  assert.equal(r.status, 201, r.text);
  erin = r.json;
  browser = await launchBrowser();
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: 'en-US' });
  page = await context.newPage();
  page.setDefaultTimeout(10000);
  page.on('dialog', (d) => {
    dialogs.push(`${d.type()}: ${d.message()}`);
    d.dismiss().catch(() => {});
  });
  page.on('pageerror', (e) => pageErrors.push(e.message));
});

after(async () => {
  if (browser) await browser.close();
  if (server) {
    await server.stop();
    server.cleanup();
  }
});

async function step(t, name, fn) {
  await t.test(name, async () => {
    try {
      await fn();
    } catch (e) {
      const file = `/tmp/hotline-sippw-failure-${name.replace(/\W+/g, '-')}.png`;
      await page.screenshot({ path: file, fullPage: true }).catch(() => {});
      e.message += `\n(screenshot: ${file})\nserver log tail:\n${server.log.slice(-2000)}`;
      throw e;
    }
  });
}

const state = async () => (await api.get(`/api/v1/users/${erin.id}/sip_password`)).json;
const md5 = (s) => createHash('md5').update(s).digest('hex');
const accounts = () => {
  const f = join(server.dataDir, 'sip_accounts');
  return existsSync(f) ? readFileSync(f, 'utf8') : '';
};

test('users page: SIP password', async (t) => {
  const dlg = page.locator('dialog.sip-dialog');
  const pw = () => dlg.getByLabel('New SIP password', { exact: true });
  const again = () => dlg.getByLabel('Repeat the SIP password', { exact: true });

  await step(t, 'logs in and opens the dialog from the users list', async () => {
    await page.goto(`${server.base}/`);
    await page.getByLabel('Username', { exact: true }).fill('admin');
    await page.getByLabel('Password', { exact: true }).fill(ADMIN_PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('button', { name: 'Log out' }).waitFor();
    await page.locator('nav.sidenav').getByRole('link', { name: 'Users', exact: true }).click();
    await page.getByRole('heading', { level: 1, name: 'Users', exact: true }).waitFor();
    const row = page.locator('table.list tbody tr', { has: page.getByRole('link', { name: 'erin', exact: true }) });
    await row.getByRole('button', { name: 'SIP password of erin' }).click();
    await dlg.waitFor();
    await dlg.getByRole('heading', { name: 'SIP password of erin' }).waitFor();
    await dlg.getByText('No SIP password is set.').waitFor();
    assert.equal(await dlg.getByRole('button', { name: 'Remove' }).isDisabled(), true);
    assert.deepEqual(await state(), { set: false });
  });

  await step(t, 'a short password and a different repeat are shown next to the fields', async () => {
    await pw().fill('short');
    await again().fill('short');
    await dlg.getByRole('button', { name: 'Set', exact: true }).click();
    await dlg.getByText('Use 8 to 128 characters.').waitFor();
    assert.equal(await pw().getAttribute('aria-invalid'), 'true');
    await pw().fill(SIP_PASS);
    await again().fill(`${SIP_PASS}x`);
    await dlg.getByRole('button', { name: 'Set', exact: true }).click();
    await dlg.getByText('The two passwords are not the same.').waitFor();
    assert.equal(await again().getAttribute('aria-invalid'), 'true');
    assert.deepEqual(await state(), { set: false }, 'nothing was sent');
  });

  await step(t, 'sets the password', async () => {
    await again().fill(SIP_PASS);
    await dlg.getByRole('button', { name: 'Set', exact: true }).click();
    await dlg.getByText('The SIP password of erin is set.', { exact: false }).waitFor();
    await dlg.getByText('A SIP password is set.').waitFor();
    assert.equal(await pw().inputValue(), '', 'the inputs are cleared');
    assert.equal(await again().inputValue(), '');
    assert.deepEqual(await state(), { set: true });
    assert.ok(accounts().includes(`erin:hotline:${md5(`erin:hotline:${SIP_PASS}`)}\n`), accounts());
  });

  await step(t, 'reopening shows it set; Remove takes it away', async () => {
    await dlg.getByRole('button', { name: 'Close' }).click();
    await dlg.waitFor({ state: 'detached' });
    const row = page.locator('table.list tbody tr', { has: page.getByRole('link', { name: 'erin', exact: true }) });
    await row.getByRole('button', { name: 'SIP password of erin' }).click();
    await dlg.getByText('A SIP password is set.').waitFor();
    await dlg.getByRole('button', { name: 'Remove' }).click();
    await dlg.getByText('No SIP password is set.').waitFor();
    assert.deepEqual(await state(), { set: false });
    assert.ok(!accounts().includes('erin:'), accounts());
    await dlg.getByRole('button', { name: 'Close' }).click();
    await dlg.waitFor({ state: 'detached' });
    assert.deepEqual(pageErrors, []);
    assert.deepEqual(dialogs, []);
  });
});
