// The staffing calculator page: the figures it shows are the server's, the
// chart is drawn, and Erlang A asks for patience.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { chromium } from 'playwright-core';
import { startServer, login, client, ADMIN_PASSWORD } from '../lib/server.mjs';

const webDir = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'web');
let srv, browser;
before(async () => {
  srv = await startServer({ args: ['--web', webDir] });
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu',
    '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'] });
});
after(async () => { await browser?.close(); await srv.stop(); srv.cleanup(); });

test('the staffing calculator shows the server\'s answer and a chart', async () => {
  const page = await (await browser.newContext({ locale: 'en-US' })).newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(srv.base + '/');
  await page.getByLabel('Username').fill('admin');
  await page.getByLabel('Password').fill(ADMIN_PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('link', { name: 'Staffing' }).click();
  await page.getByLabel('Contacts per interval').fill('360');
  await page.getByLabel('Interval (minutes)').fill('30');
  await page.getByLabel('Average handle time (seconds)').fill('240');
  await page.getByLabel('Answer within (seconds)').fill('15');
  await page.getByLabel('Service-level goal (%)').fill('80');
  await page.getByLabel('Shrinkage (%)').fill('30');
  assert.equal(await page.getByLabel('Average patience (seconds)').isVisible(), false);
  await page.getByRole('button', { name: 'Calculate' }).click();
  const row = page.locator('#wfm-figures tr', { hasText: 'Agents on the phones' });
  await row.waitFor();

  const { token } = await login(srv.base);
  const want = (await client(srv.base, token).post('/api/v1/wfm/erlang', {
    model: 'c', calls: 360, period_seconds: 1800, aht_seconds: 240, sl_seconds: 15, target_sl: 0.8, shrinkage: 0.3,
  })).json;
  assert.equal((await row.locator('td').textContent()).trim(), String(want.result.agents));
  const sched = page.locator('#wfm-figures tr', { hasText: 'Agents to schedule' });
  assert.equal((await sched.locator('td').textContent()).trim(), String(want.scheduled_agents));
  const pts = await page.locator('svg.chart polyline.curve').getAttribute('points');
  assert.ok(pts.split(' ').length >= 10);
  assert.equal(await page.locator('svg.chart circle.answer-dot').count(), 1);

  await page.getByLabel('Model').selectOption('a');
  assert.equal(await page.getByLabel('Average patience (seconds)').isVisible(), true);
  await page.getByLabel('Average patience (seconds)').fill('60');
  await page.getByRole('button', { name: 'Calculate' }).click();
  await page.locator('#wfm-figures tr', { hasText: 'Abandoned' }).waitFor();
  assert.deepEqual(errors, []);
});
