// The staffing calculator page: the figures it shows are the server's, the
// chart is drawn, and Erlang A asks for patience.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { startServer, login, client, ADMIN_PASSWORD } from '../lib/server.mjs';
import { launchBrowser } from '../lib/browser.mjs';

const webDir = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'web');
let srv, browser;

before(async () => {
  srv = await startServer({ args: ['--web', webDir] });
  browser = await launchBrowser();
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

// ---- the workforce pages: forecast, staffing curve, schedule grid,
// adherence, simulator. Each draws its charts as SVG; no page logs an error.

async function signedIn() {
  const page = await (await browser.newContext({ locale: 'en-US', timezoneId: 'UTC' })).newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(srv.base + '/');
  await page.getByLabel('Username').fill('admin');
  await page.getByLabel('Password').fill(ADMIN_PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('link', { name: 'Staffing', exact: true }).waitFor();
  // from here on (the 401 of the logged-out boot is expected) no errors
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  return { page, errors };
}

let wfmData;
async function data() {
  if (wfmData) return wfmData;
  const { token } = await login(srv.base);
  const c = client(srv.base, token);
  const q = await c.post('/api/v1/queues', { name: 'Forecast queue', channels: ['chat'] });
  assert.equal(q.status, 201, q.text);
  wfmData = { queue: q.json.id }; /* made once, even if a later step fails */
  // the queue reaches routing through the event hook, a moment after its 201
  for (let i = 0; i < 3; i++) {
    let r;
    for (let tries = 0; tries < 100; tries++) {
      r = await c.post('/api/v1/tasks', { queue_id: q.json.id });
      if (r.status !== 422) break;
      await new Promise((res) => setTimeout(res, 50));
    }
    assert.equal(r.status, 201, r.text);
  }
  for (const name of ['Ada', 'Ben']) assert.equal((await c.post('/api/v1/agents', { name })).status, 201);
  wfmData = { queue: q.json.id };
  return wfmData;
}

test('the forecast page draws actual against forecast', async () => {
  await data();
  const { page, errors } = await signedIn();
  await page.getByRole('link', { name: 'Staffing', exact: true }).click();
  await page.getByRole('link', { name: 'Forecast' }).click();
  await page.locator('#fc-queue option', { hasText: 'Forecast queue' }).waitFor({ state: 'attached' });
  await page.getByLabel('Queue').selectOption({ label: 'Forecast queue' });
  await page.getByLabel('History (days)').fill('7');
  await page.getByRole('button', { name: 'Show forecast' }).click();
  await page.locator('svg#wfm-forecast-chart').waitFor();
  assert.ok(await page.locator('svg#wfm-forecast-chart polyline.actual, svg#wfm-forecast-chart circle.actual').count() >= 1);
  assert.ok(await page.locator('svg#wfm-forecast-chart polyline.forecast').count() >= 1);
  assert.equal(await page.locator('svg#wfm-aht-chart').count(), 1);
  assert.match(await page.locator('#wfm-forecast-figures').textContent(), /3 arrived/);
  assert.deepEqual(errors, []);
});

test('the staffing page draws agents per interval', async () => {
  await data();
  const { page, errors } = await signedIn();
  await page.goto(srv.base + '/#/wfm/staffing');
  await page.locator('#st-queue option', { hasText: 'Forecast queue' }).waitFor({ state: 'attached' });
  await page.getByLabel('Queue').selectOption({ label: 'Forecast queue' });
  await page.getByLabel('History (days)').fill('7');
  await page.getByRole('button', { name: 'Calculate' }).click();
  await page.locator('svg#wfm-staffing-chart').waitFor();
  assert.equal(await page.locator('svg#wfm-staffing-chart polyline.agents').count(), 1);
  assert.equal(await page.locator('svg#wfm-staffing-chart polyline.scheduled').count(), 1);
  assert.equal(await page.locator('svg#wfm-calls-chart').count(), 1);
  assert.deepEqual(errors, []);
});

test('the schedule page builds, draws and publishes a schedule; adherence shows it', async () => {
  await data();
  const { page, errors } = await signedIn();
  await page.goto(srv.base + '/#/wfm/schedule');
  await page.getByRole('checkbox', { name: 'Ada' }).waitFor();
  await page.getByLabel('Solver time limit (seconds)').fill('2');
  await page.getByRole('button', { name: 'Build schedule' }).click();
  await page.locator('svg#wfm-schedule-grid, .wfm-out .notice').first().waitFor();
  assert.equal(await page.locator('.wfm-out .notice').count(), 0, await page.locator('.wfm-out').textContent());
  assert.ok(await page.locator('svg#wfm-schedule-grid rect.shift').count() >= 2);
  assert.ok(await page.locator('svg#wfm-schedule-grid rect.break').count() >= 2);
  assert.equal(await page.locator('svg#wfm-coverage-chart polyline.required').count(), 1);
  assert.equal(await page.locator('svg#wfm-coverage-chart polyline.coverage').count(), 1);
  await page.getByRole('button', { name: 'Publish' }).click();
  await page.getByRole('heading', { name: /· published$/ }).waitFor();
  await page.locator('.wfm-saved-list li', { hasText: 'published' }).waitFor();

  await page.getByRole('link', { name: 'Adherence' }).click();
  await page.locator('svg#adherence-day-timeline').waitFor();
  assert.ok(await page.locator('svg#adherence-day-timeline rect.sched-work').count() >= 2);
  await page.locator('#adherence-panel .adh-agent', { hasText: 'Ada' }).waitFor();
  assert.equal(await page.locator('#adherence-panel svg#adherence-panel-timeline').count(), 1);
  assert.deepEqual(errors, []);
});

test('the simulator page draws service level and wait with confidence bands', async () => {
  const { page, errors } = await signedIn();
  await page.goto(srv.base + '/#/wfm/simulate');
  await page.getByLabel('Intervals').fill('4');
  await page.getByLabel('Contacts per interval').fill('30, 40, 40, 30');
  await page.getByLabel('Agents per interval').fill('9');
  await page.getByLabel('Replications').fill('5');
  await page.getByRole('button', { name: 'Simulate' }).click();
  await page.locator('svg#wfm-sim-sl-chart').waitFor({ timeout: 30000 });
  assert.equal(await page.locator('svg#wfm-sim-sl-chart polyline.simulated').count(), 1);
  assert.ok(await page.locator('svg#wfm-sim-sl-chart polygon.band').count() >= 1);
  assert.equal(await page.locator('svg#wfm-sim-wait-chart polyline.simulated').count(), 1);
  assert.match(await page.locator('#wfm-sim-figures').textContent(), /±/);
  assert.deepEqual(errors, []);
});
