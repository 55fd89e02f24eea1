// End-to-end browser test of the web chat with every party in a real UI
// (docs/CHAT.md): a real hotline server on loopback and one Debian Chromium
// driven by playwright-core, with
//   - the CUSTOMERS in the real widget (web/widget.js) pasted into a page
//     served by a second HTTP server on another port (cross-origin for real),
//   - agent Anna (Sales, chat capacity 1) and agent Bert (Billing) on the
//     real agent desktop (#/agent), each in a browser context of their own,
//   - supervisor Sue on the real supervisor view (#/supervisor).
// Only the setup (queues, users, agents) and a few checks of the outcome
// go through the REST API as admin.
//
// The scenarios build on each other, in this order:
//   1. Anna and Bert go available, Sue sees them; Carol starts a chat in the
//      widget; Anna's desktop rings with a countdown, she accepts; Sue's
//      offered/answered counters for Sales move.
//   2. Chat both ways: typing indicators both ways, names, read receipts both
//      ways.
//   3. Carol sends a PNG through the widget's file input; Anna sees the image.
//   4. Capacity: Dave (a second widget page) starts a chat while Anna is
//      full; it is a live chat waiting in the queue (Anna is logged in), and
//      Anna gets no offer.
//   5. Transfer: Anna transfers Carol to Billing with a note; Bert's desktop
//      gets the offer (with the note) and accepts; Carol's widget names Bert;
//      Bert writes, Carol reads.
//   6. Anna's wrap-up of her Sales task: finishing without a code is refused
//      (UI and server); "sold" is recorded.
//   7. Offer timeout: Dave's chat now rings at Anna (5 s timeout); unanswered,
//      it is withdrawn ("not answered in time"), offered again, accepted.
//   8. Bert ends Carol's chat from the desktop and wraps up.
//   9. CSAT: Carol rates 4 stars with a comment; chat.rated is in the log.
//  10. Sue opens the live chat list, views Dave's chat read-only, whispers;
//      Anna sees the whisper, Dave's widget never does.
//  11. Hostile text both ways (Dave ↔ Anna) is inert and intact in the
//      widget, the desktop and Sue's viewer; no dialog anywhere.
//  12. Anna ends Dave's chat and wraps up with "info".
// A scenario that fails skips the ones after it (they build on it).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer, login, client } from '../lib/server.mjs';
import { launchBrowser, startHostPage } from '../lib/browser.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const T = 20000; // generous: the server runs sanitized on a shared machine

// A 1×1 PNG (the server checks the type by content).
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==', 'base64');

const HOSTILE = ['<img src=x onerror=alert(1)>', '<script>alert(1)</script>', 'javascript:alert(1)'];

async function waitFor(fn, what = 'condition', ms = T) {
  const end = Date.now() + ms;
  let last;
  while (Date.now() < end) {
    last = await fn();
    if (last) return last;
    await sleep(50);
  }
  throw new Error(`timed out waiting for ${what} (last: ${JSON.stringify(last)})`);
}


let server;
let api;            // admin, bearer token
let hostSrv;
let hostBase;
let browser;
const ids = {};
const pages = {};   // who → page
const dialogs = [];
const pageErrors = [];

const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');

// ---- browsers -------------------------------------------------------------------------

function watch(name, page) {
  page.setDefaultTimeout(T);
  page.on('dialog', (d) => {
    dialogs.push(`${name}: ${d.type()}: ${d.message()}`);
    d.dismiss().catch(() => {});
  });
  page.on('pageerror', (e) => pageErrors.push(`${name}: ${e.message}`));
  pages[name] = page;
  return page;
}

// A staff page: counts the ringing (every oscillator started).
async function staffPage(name) {
  const context = await browser.newContext({ viewport: { width: 1400, height: 1000 }, locale: 'en-US' });
  const page = await context.newPage();
  await page.addInitScript(() => {
    window.__beeps = 0;
    const AC = window.AudioContext;
    if (AC) {
      const orig = AC.prototype.createOscillator;
      AC.prototype.createOscillator = function createOscillator() {
        window.__beeps += 1;
        return orig.call(this);
      };
    }
  });
  return watch(name, page);
}

async function uiLogin(page, hash, username, password, heading) {
  await page.goto(`${server.base}/${hash}`);
  await page.getByLabel('Username', { exact: true }).fill(username);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { level: 1, name: heading }).waitFor();
  assert.equal(new URL(page.url()).hash, hash);
}

// ---- the desktop and the supervisor view, seen from the test ---------------------------

const stateBadge = (page) => page.locator('#my-state');
const card = (page, conv) => page.locator(`article.chat-card[data-conversation="${conv}"]`);
const offerCard = (page) => page.locator('.offer-card:not(.invite-card)');
const liveQueueRow = (name) => pages.sue.locator('#live-queues tbody tr', { has: pages.sue.getByRole('rowheader', { name, exact: true }) });
const liveAgentRow = (name) => pages.sue.locator('#live-agents tbody tr', { has: pages.sue.getByRole('rowheader', { name, exact: true }) });
const cell = async (row, cls) => Number((await row.locator(`td.${cls}`).textContent()).trim());

async function sendFromDesktop(page, conv, text) {
  const box = card(page, conv).getByLabel('Message', { exact: true });
  await box.fill(text);
  await box.press('Enter');
  await card(page, conv).locator('.msg.mine:not(.pending) .msg-text').filter({ hasText: text }).first().waitFor();
}

// Every message text on a desktop card or in the supervisor's viewer, with
// how many elements each text holds (must be 0: text only).
function transcriptTexts(scope) {
  return scope.locator('.transcript').evaluate((ol) => [...ol.querySelectorAll('.msg')].map((li) => {
    const t = li.querySelector('.msg-text');
    return { from: li.dataset.from || null, kind: li.dataset.kind || null, pending: li.classList.contains('pending'),
      text: t ? t.textContent : null, children: t ? t.childElementCount : 0 };
  }));
}

async function endFromDesktop(page, conv) {
  await card(page, conv).getByRole('button', { name: 'End chat' }).click();
  await page.locator('dialog.confirm').getByRole('button', { name: 'End chat' }).click();
}

// ---- the widget, seen from the test -------------------------------------------------------

const W = {
  launcher: (p) => p.locator('hotline-chat .launcher'),
  status: (p) => p.locator('hotline-chat .head .status'),
  input: (p) => p.locator('hotline-chat .composer textarea'),
  typing: (p) => p.locator('hotline-chat .typing'),
  file: (p) => p.locator('hotline-chat .composer input[type="file"]'),
};

function hostHtml(queue) {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>Some shop</title></head>
<body><h1>Welcome to the shop</h1><p>Buy things.</p>
<script src="${esc(server.base)}/widget.js" data-queue="${esc(queue)}" async></script>
</body></html>`;
}

// Everything in the widget's message log, in document order.
function widgetLog(page) {
  return page.evaluate(() => {
    const sr = document.querySelector('hotline-chat').shadowRoot;
    return [...sr.querySelectorAll('.log .msg')].map((e) => ({
      seq: e.dataset.seq ? Number(e.dataset.seq) : null,
      from: e.dataset.from || 'customer',
      pending: e.classList.contains('pending') || e.classList.contains('failed'),
      who: e.querySelector('.meta .who') ? e.querySelector('.meta .who').textContent : null,
      text: e.querySelector('.text') ? e.querySelector('.text').textContent : null,
      textChildren: e.querySelector('.text') ? e.querySelector('.text').childElementCount : 0,
      state: e.querySelector('.state') ? e.querySelector('.state').textContent : null,
      imgs: e.querySelectorAll('img').length,
    }));
  });
}

// All the text the widget shows (its shadow tree), style sheet aside.
function widgetText(page) {
  return page.evaluate(() => {
    const sr = document.querySelector('hotline-chat').shadowRoot;
    return [...sr.children].filter((e) => e.tagName !== 'STYLE').map((e) => e.textContent).join('\n');
  });
}

async function widgetSend(page, text) {
  await W.input(page).fill(text);
  await W.input(page).press('Enter');
  await waitFor(async () => (await widgetLog(page)).some((m) => m.text === text && m.seq !== null && !m.pending),
    `"${text.slice(0, 40)}" acknowledged in the widget`);
}

const waitWidgetMessage = (page, pred, what) => waitFor(async () => (await widgetLog(page)).find(pred), what);

// ---- setup -------------------------------------------------------------------------------

before(async () => {
  server = await startServer({ args: ['--web', join(root, 'web')] });
  const s = await login(server.base);
  api = client(server.base, s.token);

  const mkQueue = async (body) => {
    const r = await api.post('/api/v1/queues', { channels: ['chat'], ...body });
    assert.equal(r.status, 201, r.text);
    return r.json.id;
  };
  // Sales: a code is required at wrap-up, and the wrap-up lasts until the
  // agent finishes it (600 s), so the agent's slot stays taken meanwhile.
  ids.sales = await mkQueue({ name: 'Sales', wrap_up_codes: ['sold', 'info'], disposition_required: true,
    offer_timeout_seconds: 5, wrap_up_seconds: 600 });
  ids.billing = await mkQueue({ name: 'Billing' });

  const mkUser = async (username, role, display) => {
    const r = await api.post('/api/v1/users', { username, role, password: `${username}-password-1`, display_name: display });
    assert.equal(r.status, 201, r.text);
    return r.json.id;
  };
  ids.annaUser = await mkUser('anna', 'agent', 'Anna');
  ids.bertUser = await mkUser('bert', 'agent', 'Bert');
  ids.sueUser = await mkUser('sue', 'supervisor', 'Sue');
  const mkAgent = async (body) => {
    const r = await api.post('/api/v1/agents', body);
    assert.equal(r.status, 201, r.text);
    return r.json.id;
  };
  ids.anna = await mkAgent({ name: 'Anna', user_id: ids.annaUser, languages: ['en'], capacity: { chat: 1 }, queues: [ids.sales] });
  ids.bert = await mkAgent({ name: 'Bert', user_id: ids.bertUser, languages: ['en'], capacity: { chat: 2 }, queues: [ids.billing] });
  await waitFor(async () => (await api.get(`/api/v1/agents/${ids.bert}/state`)).status === 200, 'agents in routing');

  hostSrv = await startHostPage((u, res) => {
    if (u.pathname !== '/') return false;
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
    res.end(hostHtml(u.searchParams.get('queue') ?? 'Sales'));
    return true;
  });
  hostBase = hostSrv.base;
  assert.notEqual(new URL(hostBase).origin, new URL(server.base).origin);

  browser = await launchBrowser();
});

after(async () => {
  if (browser) await browser.close();
  if (hostSrv) await hostSrv.close();
  if (server) {
    const st = await server.stop();
    server.cleanup();
    assert.equal(st.code, 0, `the server stops cleanly: ${JSON.stringify(st)}`);
  }
});

// One scenario; after a failure the later ones (which build on it) are
// skipped. A failure keeps a screenshot of every page and the server log tail.
let broken = null;
function scenario(name, fn, opts = {}) {
  test(name, opts, async (t) => {
    if (broken) {
      t.skip(`an earlier scenario failed: ${broken}`);
      return;
    }
    try {
      await fn(t);
    } catch (e) {
      broken = name;
      const shots = [];
      for (const [who, p] of Object.entries(pages)) {
        const file = `/tmp/hotline-chat-e2e-failure-${name.replace(/\W+/g, '-').slice(0, 50)}-${who}.png`;
        await p.screenshot({ path: file, fullPage: true }).catch(() => {});
        shots.push(file);
      }
      e.message += `\n(screenshots: ${shots.join(', ')})\nserver log tail:\n${server.log.slice(-3000)}`;
      throw e;
    }
  });
}

// Shared between the scenarios.
let anna;
let bert;
let sue;
let carol;        // customer page 1
let dave;         // customer page 2
let conv1;        // Carol's conversation
let conv2;        // Dave's conversation
let billingTask;  // the task of conv1 in Billing after the transfer
let annaToCarolSeq;

// ---- 1 -------------------------------------------------------------------------------------

scenario('1. the agent goes available; the widget starts a chat; the desktop rings, the agent accepts; the supervisor counters move', async () => {
  anna = await staffPage('anna');
  bert = await staffPage('bert');
  sue = await staffPage('sue');
  await uiLogin(anna, '#/agent', 'anna', 'anna-password-1', 'Agent desktop');
  await uiLogin(bert, '#/agent', 'bert', 'bert-password-1', 'Agent desktop');
  await anna.locator('.conn.ok').waitFor();
  await bert.locator('.conn.ok').waitFor();
  for (const p of [anna, bert]) {
    await p.getByRole('button', { name: 'Available', exact: true }).click();
    await waitFor(async () => (await stateBadge(p).textContent()) === 'Available', 'available on the desktop');
  }

  await uiLogin(sue, '#/supervisor', 'sue', 'sue-password-1', 'Supervisor');
  await liveQueueRow('Sales').waitFor();
  await waitFor(async () => (await liveAgentRow('Anna').getAttribute('data-state')) === 'available', 'Anna shown available');
  assert.match(await liveAgentRow('Anna').locator('.agent-state').textContent(), /Available/);
  await waitFor(async () => (await liveAgentRow('Bert').getAttribute('data-state')) === 'available', 'Bert shown available');
  const before = { offered: await cell(liveQueueRow('Sales'), 'offered'), answered: await cell(liveQueueRow('Sales'), 'answered') };

  await waitFor(async () => {
    const c = await fetch(`${server.base}/api/v1/chat/config?queue=Sales`).then((x) => x.json());
    return c.agents_available > 0;
  }, 'an available agent in the chat config');

  const custCtx = await browser.newContext({ viewport: { width: 1200, height: 900 }, locale: 'en-US' });
  carol = watch('carol', await custCtx.newPage());
  await carol.goto(`${hostBase}/?queue=Sales`);
  await W.launcher(carol).click();
  await carol.getByRole('heading', { name: 'Start a chat' }).waitFor();
  await carol.getByLabel('Your name').fill('Carol Customer');
  await carol.getByLabel('Email (optional)').fill('carol@example.com');
  await carol.getByRole('button', { name: 'Start chat' }).click();
  await W.status(carol).filter({ hasText: /Waiting for someone/ }).waitFor();

  const offer = offerCard(anna);
  await offer.waitFor();
  const offerText = await offer.textContent();
  const countdown = await offer.locator('.countdown').textContent();
  await offer.getByRole('button', { name: 'Accept' }).click();
  assert.match(offerText, /Incoming Chat/);
  assert.match(offerText, /Sales/);
  assert.match(offerText, /Carol Customer/);
  const left = Number((countdown.match(/^(\d+) s left$/) || [])[1]);
  assert.ok(left >= 0 && left <= 5, `countdown "${countdown}" within the 5 s timeout`);
  await offer.waitFor({ state: 'detached' });

  conv1 = await waitFor(async () => {
    const r = await api.get('/api/v1/chats?state=open');
    return r.json?.items?.find((c) => c.name === 'Carol Customer')?.id;
  }, 'Carol\'s conversation');
  const c = card(anna, conv1);
  await c.getByRole('heading', { name: 'Carol Customer' }).waitFor();
  await W.status(carol).filter({ hasText: 'You are chatting with Anna.' }).waitFor();
  await waitFor(() => anna.evaluate(() => window.__beeps > 0), 'the offer rang');
  await waitFor(async () => (await stateBadge(anna).textContent()) === 'Busy', 'Anna busy');
  const conv = (await api.get(`/api/v1/chats/${conv1}`)).json;
  assert.equal(conv.email, 'carol@example.com');
  assert.deepEqual(conv.participants.map((p) => p.name), ['Anna']);

  await waitFor(async () => (await cell(liveQueueRow('Sales'), 'offered')) >= before.offered + 1
    && (await cell(liveQueueRow('Sales'), 'answered')) >= before.answered + 1, 'offered and answered counted for Sales');
  await waitFor(async () => (await liveAgentRow('Anna').getAttribute('data-state')) === 'busy', 'Anna shown busy');
});

// ---- 2 -------------------------------------------------------------------------------------

scenario('2. chat both ways: typing, names, read receipts', async () => {
  const c = card(anna, conv1);
  // The customer types: the agent sees it.
  await W.input(carol).pressSequentially('Hello, I would like to buy a boat', { delay: 10 });
  await c.locator('.typing', { hasText: 'Carol Customer is typing…' }).waitFor();
  await W.input(carol).press('Enter');
  await c.locator('.msg.from-customer .msg-text', { hasText: 'Hello, I would like to buy a boat' }).waitFor();
  await waitFor(async () => (await c.locator('.typing').textContent()) === '', 'the typing indicator cleared on the desktop');
  // The agent has seen it: "Read" under the customer's own message.
  await waitFor(async () => (await widgetLog(carol)).find((m) => m.text === 'Hello, I would like to buy a boat')?.state === 'Read',
    '"Read" under the customer\'s message');

  // The agent types and answers: the customer sees the typing, the name, the text.
  const box = c.getByLabel('Message', { exact: true });
  await box.pressSequentially('Sure', { delay: 10 });
  await W.typing(carol).filter({ hasText: 'Anna is typing…' }).waitFor();
  await box.pressSequentially(', which one?');
  await box.press('Enter');
  const m = await waitWidgetMessage(carol, (x) => x.from === 'agent' && x.text === 'Sure, which one?', 'the agent\'s reply in the widget');
  assert.equal(m.who, 'Anna');
  annaToCarolSeq = m.seq;
  await waitFor(async () => (await W.typing(carol).textContent()) === '', 'the typing indicator cleared in the widget');
  // The widget is open and visible: the agent's message shows "Read" on the desktop.
  await c.locator(`.msg[data-seq="${annaToCarolSeq}"] .msg-status`, { hasText: 'Read' }).waitFor();

  const stored = (await api.get(`/api/v1/chats/${conv1}`)).json.messages
    .filter((x) => x.kind === 'message' || !x.kind).map((x) => [x.from, x.text]);
  assert.deepEqual(stored, [['customer', 'Hello, I would like to buy a boat'], ['agent', 'Sure, which one?']]);
});

// ---- 3 -------------------------------------------------------------------------------------

scenario('3. attachment: a PNG sent from the widget is shown as an image on the desktop', async () => {
  await W.file(carol).setInputFiles({ name: 'boat.png', mimeType: 'image/png', buffer: PNG });
  await carol.waitForFunction(() => {
    const img = document.querySelector('hotline-chat').shadowRoot.querySelector('.log .msg[data-seq] img');
    return img && img.complete && img.naturalWidth === 1;
  });
  const img = card(anna, conv1).locator('img.att-image[alt="boat.png"]');
  await img.waitFor();
  await waitFor(() => img.evaluate((el) => el.complete && el.naturalWidth === 1), 'the image decoded on the desktop');
  assert.match(await img.getAttribute('src'), /^data:image\/png;base64,/);
  const att = (await api.get(`/api/v1/chats/${conv1}`)).json.messages.find((x) => x.attachment)?.attachment;
  assert.equal(att?.mime, 'image/png');
  assert.equal(att?.size, PNG.length);
});

// ---- 4 (capacity) --------------------------------------------------------------------------

scenario('4. capacity 1: a second customer waits in a live chat in the widget; the busy agent gets no offer', async () => {
  dave = watch('dave', await carol.context().newPage());
  await dave.goto(`${hostBase}/?queue=Sales`);
  await W.launcher(dave).click();
  // Anna is full but logged in: a live chat that waits in the queue (the
  // message form is for closed queues and queues nobody is logged in to).
  await dave.getByRole('heading', { name: 'Start a chat' }).waitFor();
  await dave.getByLabel('Your name').fill('Dave');
  await dave.getByRole('button', { name: 'Start chat' }).click();
  await W.status(dave).filter({ hasText: /Waiting for someone/ }).waitFor();
  await widgetSend(dave, 'Do you have blue boats?');
  conv2 = await waitFor(async () => {
    const r = await api.get('/api/v1/chats?state=open');
    return r.json?.items?.find((c) => c.name === 'Dave')?.id;
  }, 'Dave\'s conversation');
  await waitFor(async () => (await cell(liveQueueRow('Sales'), 'waiting')) === 1, 'one waiting in Sales on the supervisor view');
  await anna.waitForTimeout(1500);
  assert.equal(await offerCard(anna).count(), 0, 'no offer beyond capacity');
  assert.equal((await api.get(`/api/v1/tasks/${conv2}`)).json.state, 'queued');
  assert.equal((await api.get(`/api/v1/chats/${conv2}`)).json.state, 'queued');
});

// ---- 5 -------------------------------------------------------------------------------------

scenario('5. transfer to Billing with a note: agent B accepts, the customer sees B, B writes', async () => {
  const c = card(anna, conv1);
  await c.getByRole('button', { name: 'Transfer', exact: true }).click();
  const form = c.getByRole('form', { name: 'Transfer the chat' });
  await form.getByLabel('Queue', { exact: true }).selectOption({ label: 'Billing' });
  await form.getByLabel('Note for the next agent').fill('Wants an invoice for the boat');
  await form.getByRole('button', { name: 'Transfer', exact: true }).click();

  const offer = offerCard(bert);
  await offer.waitFor();
  const text = await offer.textContent();
  await offer.getByRole('button', { name: 'Accept' }).click();
  assert.match(text, /Billing/);
  assert.match(text, /Carol Customer/);
  assert.match(text, /Wants an invoice for the boat/);
  const bc = card(bert, conv1);
  await bc.locator('.msg-text', { hasText: 'buy a boat' }).waitFor();     // the whole history
  await bc.locator('img.att-image[alt="boat.png"]').waitFor();
  await W.status(carol).filter({ hasText: 'You are chatting with Bert.' }).waitFor();

  await sendFromDesktop(bert, conv1, 'Hi Carol, Bert from billing here.');
  const m = await waitWidgetMessage(carol, (x) => x.from === 'agent' && x.text === 'Hi Carol, Bert from billing here.', 'Bert\'s message');
  assert.equal(m.who, 'Bert');
  // The customer writes back; Bert gets it.
  await widgetSend(carol, 'Thanks Bert');
  await bc.locator('.msg.from-customer .msg-text', { hasText: 'Thanks Bert' }).waitFor();

  const ev = await waitFor(async () => (await api.get(`/api/v1/events?type=chat.transferred&interaction=${conv1}`)).json?.items?.[0],
    'the chat.transferred event');
  assert.equal(ev.payload.to_queue_id, ids.billing);
  assert.equal(ev.payload.note, 'Wants an invoice for the boat');
  const conv = (await api.get(`/api/v1/chats/${conv1}`)).json;
  assert.deepEqual(conv.participants.map((p) => p.name), ['Bert']);
  billingTask = ev.payload.task_id;
  assert.ok(billingTask && billingTask !== conv1, `a new task for Billing: ${JSON.stringify(ev.payload)}`);
  assert.equal(conv.task_id, billingTask);
  assert.equal(conv.queue_id, ids.billing);
});

// ---- 6 (agent A's wrap-up) -----------------------------------------------------------------

scenario('6. wrap-up of agent A\'s Sales task: a code is required; "sold" is recorded', async () => {
  const c = card(anna, conv1);
  const wrap = c.getByRole('form', { name: 'Wrap-up' });
  await wrap.waitFor();
  await waitFor(async () => (await stateBadge(anna).getAttribute('data-state')) === 'wrapup', 'Anna in wrap-up');
  const task = () => api.get(`/api/v1/tasks/${conv1}`).then((r) => r.json);
  assert.equal((await task()).state, 'wrapup');
  // Without a code: refused in the UI, and the task stays in wrap-up.
  await wrap.getByLabel('Notes').fill('Passed to billing');
  await wrap.getByRole('button', { name: 'Finish wrap-up' }).click();
  await wrap.getByText('Choose a disposition code.').waitFor();
  assert.equal(await wrap.getByLabel('Disposition code').getAttribute('aria-invalid'), 'true');
  await sleep(300);
  assert.equal((await task()).state, 'wrapup', 'still in wrap-up');
  // The server refuses it as well (no code, or a code the queue does not have).
  let r = await api.post(`/api/v1/tasks/${conv1}/wrapup`, { notes: 'no code' });
  assert.equal(r.status, 422, r.text);
  r = await api.post(`/api/v1/tasks/${conv1}/wrapup`, { disposition: 'bogus' });
  assert.equal(r.status, 422, r.text);
  // Meanwhile the waiting chat is not offered: the wrap-up holds the slot.
  assert.equal(await offerCard(anna).count(), 0, 'no offer during the wrap-up');

  const codes = await wrap.getByLabel('Disposition code').locator('option').allTextContents();
  assert.deepEqual(codes.slice(1), ['sold', 'info']);
  await wrap.getByLabel('Disposition code').selectOption('sold');
  await wrap.getByRole('button', { name: 'Finish wrap-up' }).click();
  await c.waitFor({ state: 'detached' });
  const done = await task();
  assert.equal(done.disposition, 'sold');
  assert.equal(done.notes, 'Passed to billing');
});

// ---- 7 (offer timeout through the widget) ------------------------------------------------------

scenario('7. offer timeout: the waiting chat rings at A, is withdrawn unanswered, offered again and accepted', async () => {
  const offer = offerCard(anna);
  await offer.waitFor();
  const first = await offer.getAttribute('data-offer');
  const text = await offer.textContent();
  assert.match(text, /Sales/);
  assert.match(text, /Dave/);
  // Nobody answers: after 5 s the offer is withdrawn from the desktop.
  await anna.locator(`.offer-card[data-offer="${first}"]`).waitFor({ state: 'detached', timeout: 30000 });
  await anna.locator('.offer-gone', { hasText: 'The offer was withdrawn: it was not answered in time.' }).waitFor();
  const timedOut = await waitFor(async () => {
    const items = (await api.get(`/api/v1/events?type=task.timed_out&interaction=${conv2}`)).json?.items;
    return items && items.length ? items : null;
  }, 'a task.timed_out event');
  assert.ok(timedOut.length >= 1);
  // One miss counts, but does not send the agent away (that takes three).
  const missed = (await api.get(`/api/v1/agents/${ids.anna}/state`)).json;
  assert.ok(missed.misses >= 1, JSON.stringify(missed));
  assert.equal(missed.requested, 'available', JSON.stringify(missed));
  assert.notEqual(missed.state, 'away', JSON.stringify(missed));
  // (The desktop reports busy, not away, while the next offer rings.)
  assert.notEqual(await stateBadge(anna).getAttribute('data-state'), 'away');
  // The chat waits on in the widget.
  assert.doesNotMatch(await W.status(dave).textContent(), /chatting/);

  // Offered again (Anna is the only agent of Sales and still available
  // after one miss), and this time accepted.
  const again = offerCard(anna);
  await again.waitFor({ timeout: 30000 });
  await again.getByRole('button', { name: 'Accept' }).click();
  const c = card(anna, conv2);
  await c.getByRole('heading', { name: 'Dave' }).waitFor();
  await c.locator('.msg.from-customer .msg-text', { hasText: 'Do you have blue boats?' }).waitFor();
  await W.status(dave).filter({ hasText: 'You are chatting with Anna.' }).waitFor();
  const st = (await api.get(`/api/v1/agents/${ids.anna}/state`)).json;
  assert.equal(st.state, 'busy', JSON.stringify(st));
  await sendFromDesktop(anna, conv2, 'Hi Dave, yes we do.');
  const m = await waitWidgetMessage(dave, (x) => x.from === 'agent' && x.text === 'Hi Dave, yes we do.', 'Anna\'s answer to Dave');
  assert.equal(m.who, 'Anna');
});

// ---- 8 (end of chat 1) ------------------------------------------------------------------------

scenario('8. agent B ends the transferred chat from the desktop and wraps up', async () => {
  const bc = card(bert, conv1);
  await endFromDesktop(bert, conv1);
  await W.status(carol).filter({ hasText: 'The chat has ended.' }).waitFor();
  await W.input(carol).waitFor({ state: 'hidden' });
  const wrap = bc.getByRole('form', { name: 'Wrap-up' });
  await wrap.waitFor();
  // Billing has no codes: free text, not required.
  await wrap.getByLabel('Disposition code').fill('invoice-sent');
  await wrap.getByRole('button', { name: 'Finish wrap-up' }).click();
  await bc.waitFor({ state: 'detached' });
  assert.equal((await api.get(`/api/v1/chats/${conv1}`)).json.state, 'ended');
  const task = (await api.get(`/api/v1/tasks/${billingTask}`)).json;
  assert.equal(task.queue_id, ids.billing, JSON.stringify(task));
  assert.equal(task.agent_id, ids.bert, JSON.stringify(task));
  assert.equal(task.disposition, 'invoice-sent', JSON.stringify(task));
  await waitFor(async () => (await stateBadge(bert).textContent()) === 'Available', 'Bert available again');
});

// ---- 9 (CSAT) -----------------------------------------------------------------------------------

scenario('9. CSAT: the customer rates 4 stars with a comment; chat.rated is in the log', async () => {
  await carol.getByLabel('4 of 5 stars').check();
  await carol.getByLabel('Comment (optional)').fill('Helpful, thanks!');
  await carol.getByRole('button', { name: 'Send rating' }).click();
  await carol.getByText('Thank you for your feedback!').waitFor();
  const ev = await waitFor(async () => {
    const r = await api.get(`/api/v1/events?type=chat.rated&interaction=${conv1}`);
    return r.json?.items?.find((e) => e.type === 'chat.rated' && e.interaction === conv1);
  }, 'the chat.rated event');
  assert.equal(ev.payload.rating, 4);
  assert.equal(ev.payload.comment, 'Helpful, thanks!');
  const c = (await api.get(`/api/v1/chats/${conv1}`)).json;
  assert.equal(c.rating, 4);
  assert.equal(c.comment, 'Helpful, thanks!');
});

// ---- 10 (supervisor) --------------------------------------------------------------------------

scenario('10. supervisor: live chat list, read-only view, a whisper the agent sees and the customer never does', async () => {
  const list = sue.locator('#live-chats');
  await list.locator(`tr[data-conversation="${conv2}"]`).waitFor();
  await waitFor(async () => (await list.locator(`tr[data-conversation="${conv1}"]`).count()) === 0, 'the ended chat leaves the list');
  assert.match(await list.locator(`tr[data-conversation="${conv2}"]`).textContent(), /Anna/);
  await list.getByRole('button', { name: 'View the chat with Dave' }).click();
  const v = sue.locator(`section.chat-viewer[data-conversation="${conv2}"]`);
  await v.waitFor();
  await v.locator('.msg-text', { hasText: 'Do you have blue boats?' }).waitFor();
  await v.locator('.msg-text', { hasText: 'Hi Dave, yes we do.' }).waitFor();
  assert.equal(await v.getByLabel('Message', { exact: true }).count(), 0, 'no message composer: read-only');
  assert.equal(await v.getByRole('button', { name: 'End chat' }).count(), 0);
  // Live: a new customer message shows up in the viewer.
  await widgetSend(dave, 'And a red one?');
  await v.locator('.msg-text', { hasText: 'And a red one?' }).waitFor();

  const WHISPER = 'Offer him the blue one at 10 % off';
  await v.getByLabel(/Whisper to the agent/).fill(WHISPER);
  await v.getByRole('button', { name: 'Whisper', exact: true }).click();
  await v.locator('.msg.kind-whisper:not(.pending)', { hasText: WHISPER }).waitFor();
  const c = card(anna, conv2);
  await c.locator('.msg.kind-whisper', { hasText: WHISPER }).waitFor();
  assert.match(await c.locator('.msg.kind-whisper .msg-kind').textContent(), /Whisper/);
  // A message after the whisper reaches the widget; the whisper never did.
  await sendFromDesktop(anna, conv2, 'Let me check the red ones.');
  await waitWidgetMessage(dave, (x) => x.text === 'Let me check the red ones.', 'the message after the whisper');
  await sleep(300);
  const shown = await widgetText(dave);
  assert.ok(shown.includes('Let me check the red ones.'));
  assert.ok(!shown.includes('10 % off'), 'the customer never sees the whisper');
  assert.ok(!(await widgetText(carol)).includes('10 % off'));
});

// ---- 11 (hostile text) ------------------------------------------------------------------------

scenario('11. hostile text both ways renders inert and intact in the widget, the desktop and the supervisor view', async () => {
  const c = card(anna, conv2);
  const v = sue.locator(`section.chat-viewer[data-conversation="${conv2}"]`);
  for (const text of HOSTILE) await widgetSend(dave, text);
  for (const text of HOSTILE) await sendFromDesktop(anna, conv2, text);
  const expected = [...HOSTILE.map((x) => ['customer', x]), ...HOSTILE.map((x) => ['agent', x])];

  // The widget.
  await waitWidgetMessage(dave, (x) => x.from === 'agent' && x.text === HOSTILE[HOSTILE.length - 1], 'the last hostile text in the widget');
  const wlog = (await widgetLog(dave)).filter((m) => m.seq !== null && m.text !== null && m.from !== 'system');
  assert.deepEqual(wlog.slice(-expected.length).map((m) => [m.from, m.text]), expected);
  for (const m of wlog) {
    assert.equal(m.textChildren, 0, `no element inside message text: ${m.text}`);
    assert.equal(m.imgs, 0, `no image in the widget's messages: ${m.text}`);
  }

  // The desktop and the supervisor's viewer.
  for (const [who, scope] of [['desktop', c], ['supervisor', v]]) {
    await scope.locator('.msg.from-agent .msg-text').filter({ hasText: HOSTILE[HOSTILE.length - 1] }).first().waitFor();
    const msgs = (await transcriptTexts(scope)).filter((m) => m.kind === 'message' && !m.pending && m.text !== null);
    assert.deepEqual(msgs.slice(-expected.length).map((m) => [m.from, m.text]), expected, who);
    for (const m of msgs) assert.equal(m.children, 0, `${who}: no element inside message text: ${m.text}`);
    assert.equal(await scope.locator('.transcript img, .transcript script, .transcript a, .transcript svg').count(), 0,
      `${who}: no img, script, link or svg in the transcript`);
  }
  // Click the would-be link: it is text, nothing happens.
  await c.locator('.msg-text', { hasText: 'javascript:alert(1)' }).first().click();
  await anna.waitForTimeout(500); // time for a broken image's onerror to fire
  // The server holds them byte for byte.
  const stored = (await api.get(`/api/v1/chats/${conv2}`)).json.messages.filter((m) => (m.kind || 'message') === 'message' && m.text);
  assert.deepEqual(stored.slice(-expected.length).map((m) => [m.from, m.text]), expected);
  assert.deepEqual(dialogs, [], 'no dialog on any page');
});

// ---- 12 (clean-up) ----------------------------------------------------------------------------

scenario('12. the agent ends the second chat and wraps up; no dialogs or page errors anywhere', async () => {
  const c = card(anna, conv2);
  await endFromDesktop(anna, conv2);
  await W.status(dave).filter({ hasText: 'The chat has ended.' }).waitFor();
  const wrap = c.getByRole('form', { name: 'Wrap-up' });
  await wrap.waitFor();
  await wrap.getByLabel('Disposition code').selectOption('info');
  await wrap.getByRole('button', { name: 'Finish wrap-up' }).click();
  await c.waitFor({ state: 'detached' });
  assert.equal((await api.get(`/api/v1/tasks/${conv2}`)).json.disposition, 'info');
  await waitFor(async () => (await stateBadge(anna).textContent()) === 'Available', 'Anna available again');
  await waitFor(async () => (await liveAgentRow('Anna').getAttribute('data-state')) === 'available', 'Sue sees Anna available');
  assert.deepEqual(dialogs, [], 'no JavaScript dialog appeared');
  assert.deepEqual(pageErrors, [], 'no uncaught errors in the pages');
});
