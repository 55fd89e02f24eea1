// Browser test of the admin UI: a real hotline server on loopback and
// Debian's Chromium driven by playwright-core. Covers login (wrong and
// right password), creating a skill and a queue through the forms (nested
// fields included), HTML in names shown as literal text (no script runs),
// editing (version goes up), a version conflict, field errors (422) shown
// next to the field, and logout.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer, login, client, ADMIN_PASSWORD } from '../lib/server.mjs';
import { launchBrowser } from '../lib/browser.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const XSS = '<img src=x onerror=alert(1)>';

let server;
let browser;
let page;
let api;             // bearer-token client, to check what the UI stored
const dialogs = [];  // any alert/confirm/prompt is a failure
const pageErrors = [];

before(async () => {
  server = await startServer({ args: ['--web', join(root, 'web')] });
  const s = await login(server.base);
  api = client(server.base, s.token);
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

// Run one step; on failure keep a screenshot and the server log tail.
async function step(t, name, fn) {
  await t.test(name, async () => {
    try {
      await fn();
    } catch (e) {
      const file = `/tmp/hotline-admin-failure-${name.replace(/\W+/g, '-')}.png`;
      await page.screenshot({ path: file, fullPage: true }).catch(() => {});
      e.message += `\n(screenshot: ${file})\nserver log tail:\n${server.log.slice(-2000)}`;
      throw e;
    }
  });
}

const byLabel = (text) => page.getByLabel(text, { exact: true });
const listLink = (name) => page.locator('table.list tbody th a').filter({ hasText: name });
const row = (name) => page.locator('table.list tbody tr', {
  has: page.getByRole('link', { name, exact: true }),
});

async function openList(title) {
  await page.locator('nav.sidenav').getByRole('link', { name: title, exact: true }).click();
  await page.getByRole('heading', { level: 1, name: title, exact: true }).waitFor();
}

// The error text shown for an input: the element its aria-describedby
// names that has class field-error.
async function fieldError(input) {
  await page.waitForFunction((el) => el.getAttribute('aria-invalid') === 'true', await input.elementHandle());
  const ids = (await input.getAttribute('aria-describedby')).split(' ');
  for (const id of ids) {
    const el = page.locator(`[id="${id}"].field-error`);
    if (await el.count()) {
      assert.equal(await el.isVisible(), true, 'the field error is visible');
      return (await el.textContent()).trim();
    }
  }
  throw new Error('no field error is attached to the input');
}

test('admin UI', async (t) => {
  let skillId;

  await step(t, 'wrong password shows the server detail', async () => {
    await page.goto(`${server.base}/`);
    await byLabel('Username').fill('admin');
    await byLabel('Password').fill('not-the-password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    const alert = page.locator('.login-card [role="alert"]');
    await alert.waitFor();
    assert.match(await alert.textContent(), /wrong username or password/i);
  });

  await step(t, 'logs in through the form', async () => {
    await byLabel('Password').fill(ADMIN_PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('button', { name: 'Log out' }).waitFor();
    await page.getByRole('heading', { level: 1, name: 'Queues' }).waitFor();
    const nav = await page.locator('nav.sidenav').textContent();
    for (const s of ['Users', 'Agents', 'Skills', 'Teams', 'Queues', 'Customers', 'Agent desktop', 'Supervisor']) {
      assert.ok(nav.includes(s), `nav has ${s}`);
    }
  });

  await step(t, 'creates a skill', async () => {
    await openList('Skills');
    await page.getByRole('link', { name: 'New skill' }).click();
    await byLabel('Name').fill('Billing');
    await byLabel('Description').fill('Invoices and payments');
    await page.getByRole('button', { name: 'Create' }).click();
    await page.getByRole('heading', { level: 1, name: 'Skills' }).waitFor();
    await listLink('Billing').waitFor();
    assert.match(await page.locator('[role="status"]').first().textContent(), /Created “Billing”/);
    assert.equal(await row('Billing').locator('td.version').textContent(), '1');
    const r = await api.get('/api/v1/skills');
    const sk = r.json.items.find((x) => x.name === 'Billing');
    assert.equal(sk.description, 'Invoices and payments');
    skillId = sk.id;
  });

  await step(t, 'creates a queue with nested fields', async () => {
    await openList('Queues');
    await page.getByRole('link', { name: 'New queue' }).click();
    await byLabel('Name').fill('Support');
    await byLabel('Email').uncheck();
    await byLabel('Routing strategy').selectOption('best_skill');
    await page.getByRole('button', { name: 'Add skill' }).click();
    await byLabel('Skill, row 1').selectOption({ label: 'Billing' });
    await byLabel('Minimum level (1–5), row 1').fill('2');
    await byLabel('Percent answered').fill('90');
    await page.getByRole('button', { name: 'Add opening hours' }).click();
    await byLabel('Day, row 1').selectOption('tue');
    await page.getByRole('button', { name: 'Add holiday' }).click();
    await byLabel('Date, row 1').fill('2026-12-24');
    await byLabel('Holiday name, row 1').fill('Christmas Eve');
    await page.getByRole('button', { name: 'Create' }).click();
    await page.getByRole('heading', { level: 1, name: 'Queues' }).waitFor();
    await listLink('Support').waitFor();
    const cells = await row('Support').locator('td').allTextContents();
    assert.ok(cells.includes('Voice, Chat, Messaging'), cells.join(' | '));
    assert.ok(cells.includes('90 % in 20 s'), cells.join(' | '));

    const q = (await api.get('/api/v1/queues')).json.items.find((x) => x.name === 'Support');
    assert.deepEqual(q.channels, ['voice', 'chat', 'messaging']);
    assert.equal(q.strategy, 'best_skill');
    assert.deepEqual(q.required_skills, [{ skill_id: skillId, min_level: 2 }]);
    assert.deepEqual(q.service_level, { percent: 90, seconds: 20 });
    assert.deepEqual(q.business_hours.weekly, [{ day: 'tue', open: '08:00', close: '17:00' }]);
    assert.deepEqual(q.business_hours.holidays, [{ date: '2026-12-24', name: 'Christmas Eve' }]);
    assert.equal(q.business_hours.timezone, 'UTC');
  });

  await step(t, 'markup in a name is shown as text and never runs', async () => {
    await page.getByRole('link', { name: 'New queue' }).click();
    await byLabel('Name').fill(XSS);
    await byLabel('Description').fill('<b>bold?</b><script>alert(2)</script>');
    await page.getByRole('button', { name: 'Create' }).click();
    await page.getByRole('heading', { level: 1, name: 'Queues' }).waitFor();
    const link = listLink(XSS);
    await link.waitFor();
    assert.equal(await link.textContent(), XSS);
    // The flash message carries the name too.
    assert.ok((await page.locator('[role="status"]').first().textContent()).includes(XSS));
    // Open its form: the heading and the input carry the same literal text.
    await link.click();
    await page.getByRole('heading', { level: 1, name: `Edit queue: ${XSS}` }).waitFor();
    assert.equal(await byLabel('Name').inputValue(), XSS);
    // The delete confirmation (an in-page <dialog>) shows it as text too.
    await page.getByRole('button', { name: 'Delete' }).click();
    const dlg = page.locator('dialog.confirm');
    await dlg.waitFor();
    assert.ok((await dlg.textContent()).includes(XSS));
    await dlg.getByRole('button', { name: 'Cancel' }).click();
    await dlg.waitFor({ state: 'detached' });
    await page.getByRole('link', { name: 'Back to Queues' }).click();
    await listLink(XSS).waitFor();
    await page.waitForTimeout(300); // give a broken image's onerror time to fire
    assert.equal(await page.locator('img[src="x"]').count(), 0);
    assert.equal(await page.locator('b, script:not([src])').count(), 0);
    assert.deepEqual(dialogs, []);
  });

  await step(t, 'creates a user (role, write-only password) and an agent with nested rows', async () => {
    await openList('Users');
    await page.getByRole('link', { name: 'New user' }).click();
    await byLabel('Username').fill('anna');
    await byLabel('Display name').fill('Anna Svensson');
    await byLabel('Role').selectOption('agent');
    await byLabel('Language').selectOption('sv');
    await byLabel('Password').fill('anna-password-1');
    await page.getByRole('button', { name: 'Create' }).click();
    await listLink('anna').waitFor();
    const anna = await login(server.base, 'anna', 'anna-password-1');
    assert.equal(anna.user.role, 'agent');
    assert.equal(anna.user.language, 'sv');
    assert.equal(anna.user.password, undefined);

    await openList('Agents');
    await page.getByRole('link', { name: 'New agent' }).click();
    await byLabel('Name').fill('Anna S.');
    await byLabel('User').selectOption({ label: 'anna' });
    await page.getByRole('button', { name: 'Add skill' }).click();
    await byLabel('Skill, row 1').selectOption({ label: 'Billing' });
    await byLabel('Level (1–5), row 1').fill('4');
    await page.getByRole('button', { name: 'Add language' }).click();
    await page.getByRole('button', { name: 'Add language' }).click();
    await byLabel('Language, row 2').selectOption('sv');
    await page.getByRole('button', { name: 'Remove Languages row 1' }).click();
    await byLabel('Chat').fill('5');
    await byLabel('Support').check();
    await page.getByRole('button', { name: 'Create' }).click();
    await listLink('Anna S.').waitFor();
    assert.ok((await row('Anna S.').textContent()).includes('Billing (4)'));
    const ag = (await api.get('/api/v1/agents')).json.items.find((x) => x.name === 'Anna S.');
    const support = (await api.get('/api/v1/queues')).json.items.find((x) => x.name === 'Support');
    assert.equal(ag.user_id, anna.user.id);
    assert.equal(ag.team_id, null);
    assert.deepEqual(ag.skills, [{ skill_id: skillId, level: 4 }]);
    assert.deepEqual(ag.languages, ['sv']);
    assert.deepEqual(ag.capacity, { voice: 1, chat: 5, email: 5, messaging: 5 });
    assert.deepEqual(ag.queues, [support.id]);
  });

  await step(t, 'lists page by page', async () => {
    for (let i = 1; i <= 55; i++) {
      const r = await api.post('/api/v1/teams', { name: `Team ${String(i).padStart(2, '0')}` });
      assert.equal(r.status, 201, r.text);
    }
    await openList('Teams');
    await listLink('Team 50').waitFor();
    assert.equal(await page.locator('table.list tbody tr').count(), 50);
    await page.getByRole('link', { name: 'Next page' }).click();
    await listLink('Team 55').waitFor();
    assert.equal(await page.locator('table.list tbody tr').count(), 5);
    assert.equal(await page.getByRole('link', { name: 'Next page' }).count(), 0);
    await page.getByRole('link', { name: 'Previous page' }).click();
    await listLink('Team 01').waitFor();
  });

  await step(t, 'edits a skill and the version goes up', async () => {
    await openList('Skills');
    await listLink('Billing').click();
    await page.getByRole('heading', { level: 1, name: 'Edit skill: Billing' }).waitFor();
    assert.equal(await page.locator('p.meta').getAttribute('data-version'), '1');
    await byLabel('Name').fill('Billing and payments');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByRole('heading', { level: 1, name: 'Skills' }).waitFor();
    await listLink('Billing and payments').waitFor();
    assert.equal(await row('Billing and payments').locator('td.version').textContent(), '2');
    const r = await api.get(`/api/v1/skills/${skillId}`);
    assert.equal(r.json.version, 2);
    assert.equal(r.json.name, 'Billing and payments');
  });

  await step(t, 'a version conflict reloads the record', async () => {
    await listLink('Billing and payments').click();
    await page.getByRole('heading', { level: 1, name: 'Edit skill: Billing and payments' }).waitFor();
    // Someone else saves in between.
    const cur = (await api.get(`/api/v1/skills/${skillId}`)).json;
    const r = await api.put(`/api/v1/skills/${skillId}`, { ...cur, description: 'changed elsewhere' });
    assert.equal(r.status, 200, r.text);
    await byLabel('Description').fill('my change');
    await page.getByRole('button', { name: 'Save' }).click();
    const alert = page.locator('main [role="alert"]');
    await alert.waitFor();
    assert.match(await alert.textContent(), /Someone else changed this/);
    await page.waitForFunction(() => document.querySelector('p.meta')?.dataset.version === '3');
    assert.equal(await byLabel('Description').inputValue(), 'changed elsewhere');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByRole('heading', { level: 1, name: 'Skills' }).waitFor();
    assert.equal(await row('Billing and payments').locator('td.version').textContent(), '4');
  });

  await step(t, 'a 422 field error is shown next to the field', async () => {
    await page.getByRole('link', { name: 'New skill' }).click();
    await page.getByRole('button', { name: 'Create' }).click(); // empty name
    const name = byLabel('Name');
    assert.match(await fieldError(name), /1 to 100 characters/);
    assert.match(await page.locator('main [role="alert"]').textContent(), /correct the marked field/);
    await name.fill('x'.repeat(101));
    await page.getByRole('button', { name: 'Create' }).click();
    await page.waitForFunction(() => !document.querySelector('[aria-invalid="true"]'), null, { timeout: 2000 })
      .catch(() => {}); // cleared and shown again
    assert.match(await fieldError(name), /1 to 100 characters/);
    // Still on the form, nothing stored.
    assert.equal(await page.getByRole('heading', { level: 1, name: 'New skill' }).count(), 1);
    const r = await api.get('/api/v1/skills');
    assert.equal(r.json.items.length, 1);
  });

  await step(t, 'a nested field error lands on the nested input', async () => {
    await openList('Queues');
    await page.getByRole('link', { name: 'New queue' }).click();
    await byLabel('Name').fill('Nested');
    await page.getByRole('button', { name: 'Add opening hours' }).click();
    await page.getByRole('button', { name: 'Add opening hours' }).click();
    await byLabel('Closes (HH:MM), row 2').fill('25:99');
    await page.getByRole('button', { name: 'Create' }).click();
    assert.match(await fieldError(byLabel('Closes (HH:MM), row 2')), /HH:MM/);
    assert.equal(await byLabel('Closes (HH:MM), row 1').getAttribute('aria-invalid'), null);
  });

  await step(t, 'logout returns to the login page', async () => {
    await page.getByRole('button', { name: 'Log out' }).click();
    await byLabel('Username').waitFor();
    assert.equal(new URL(page.url()).hash, '#/login');
    await page.getByText('You have logged out.').waitFor();
    const status = await page.evaluate(async () => (await fetch('/api/v1/auth/me')).status);
    assert.equal(status, 401);
    // A protected page now leads to the login form.
    await page.goto(`${server.base}/#/admin/skills`);
    await byLabel('Password').waitFor();
  });

  assert.deepEqual(dialogs, [], 'no JavaScript dialog appeared');
  assert.deepEqual(pageErrors, [], 'no uncaught errors in the page');
});

// Its own server: the lockout would refuse the other test's logins.
test('repeated failed logins show the 429 detail', async () => {
  const srv = await startServer({ args: ['--web', join(root, 'web')] });
  const context = await browser.newContext({ locale: 'en-US' });
  const p = await context.newPage();
  try {
    await p.goto(`${srv.base}/`);
    await p.getByLabel('Username', { exact: true }).fill('admin');
    const alert = p.locator('.login-card [role="alert"]');
    let text = '';
    for (let i = 0; i < 12 && !/too many/i.test(text); i++) {
      await p.getByLabel('Password', { exact: true }).fill(`wrong-${i}`);
      await p.getByRole('button', { name: 'Sign in' }).click(); // clears the old notice at once
      await alert.waitFor();
      text = (await alert.textContent()) || '';
    }
    assert.match(text, /too many failed logins/i);
    assert.match(text, /wait about \d+ min|wait \d+ s/);
  } finally {
    await context.close();
    await srv.stop();
    srv.cleanup();
  }
});
