// Browser test of the customer chat widget (web/widget.js, docs/CHAT.md):
// a real hotline server on loopback, the widget pasted into a page served
// by a second HTTP server on another port (so everything is cross-origin
// for real), Debian's Chromium driven by playwright-core. The agent side is
// driven through the REST API and the /api/v1/events WebSocket.
//
// Covers: style isolation from a hostile host page, keyboard use, language
// switching and the browser's language, the pre-chat form, chat both ways,
// typing and read receipts both ways, the agent's name, attachments both
// ways (a PNG from the customer shown as a thumbnail and stored for the
// agent; a PDF from the agent downloadable), transcript download, hostile
// text from either side rendered inert and intact, a dropped connection
// (acknowledgement lost, messages on both sides while down, reconnect,
// resend) leaving both sides with exactly the messages sent, in order, a
// reload resuming the chat, the message form when nobody is available and
// when the queue is closed (and the reply a returning visitor sees), a
// phone-width viewport, and end + rating (the chat.rated event).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { deflateSync } from 'node:zlib';
import WebSocket from 'ws';
import { startServer, login, client, ADMIN_PASSWORD } from '../lib/server.mjs';
import { launchBrowser, startHostPage } from '../lib/browser.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function waitFor(fn, what = 'condition', ms = 15000) {
  const end = Date.now() + ms;
  let last;
  while (Date.now() < end) {
    last = await fn();
    if (last) return last;
    await sleep(50);
  }
  throw new Error(`timed out waiting for ${what} (last: ${JSON.stringify(last)})`);
}


// ---- a small PNG and PDF, made here ------------------------------------------

function crc32(buf) {
  let c = ~0;
  for (const b of buf) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0xedb88320 & -(c & 1));
  }
  return ~c >>> 0;
}
function pngChunk(type, data) {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const td = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(td));
  return Buffer.concat([len, td, crc]);
}
function makePng(w, h) {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // RGB
  const rows = [];
  for (let y = 0; y < h; y++) {
    rows.push(0);
    for (let x = 0; x < w; x++) rows.push((x * 16) & 255, (y * 16) & 255, 160);
  }
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk('IHDR', ihdr), pngChunk('IDAT', deflateSync(Buffer.from(rows))), pngChunk('IEND', Buffer.alloc(0))]);
}
const PNG = makePng(16, 12);
const PDF = Buffer.from('%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n' +
  '2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n');

// ---- hostile text ---------------------------------------------------------------

const LONG = Array.from({ length: 1000 }, (_, i) => (i % 7 === 0 ? '<b>bold?</b>' : `w${i}`)).join(' ')
  .padEnd(10000, 'x').slice(0, 10000);
const HOSTILE = [
  '<script>alert(1)</script>',
  '<img src=x onerror=alert(1)>',
  'javascript:alert(1)',
  '<a href="javascript:alert(1)">click me</a> <img src=x onerror="window.__pwned=1">',
  LONG,
];

// ---- the host page (another origin) ------------------------------------------------

let server;
let hostSrv;
let hostBase;
let browser;
let admin;           // bearer-token client (admin)
let alice;           // bearer-token client (the agent)
let aliceWs;         // {ws, msgs}
const ids = {};
let pasted = '';      // the snippet copied from the admin UI
const problems = []; // dialogs and page errors, from every page

const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');

function hostHtml(queue) {
  // Styles that would wreck a widget living in the page's own DOM.
  return `<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Some shop</title>
<style>
  * { color: red !important; font-family: serif !important; font-size: 31px !important; }
  button { display: none !important; }
  div, section, form { border: 5px dashed lime !important; padding: 40px !important; }
  hotline-chat { display: none !important; }
  textarea, input { visibility: hidden !important; }
</style></head>
<body><h1>Welcome to the shop</h1><p>Buy things.</p>
<script src="${esc(server.base)}/widget.js" data-queue="${esc(queue)}" async></script>
</body></html>`;
}

function watch(page) {
  page.setDefaultTimeout(15000);
  page.on('dialog', (d) => {
    problems.push(`dialog ${d.type()}: ${d.message()}`);
    d.dismiss().catch(() => {});
  });
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  return page;
}

async function newPage(opts = {}) {
  const context = await browser.newContext({ viewport: { width: 1200, height: 900 }, locale: 'en-US',
    acceptDownloads: true, ...opts });
  const page = watch(await context.newPage());
  return { context, page };
}

// ---- the agent -----------------------------------------------------------------------

function openWs(url) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    const msgs = [];
    ws.on('message', (d) => msgs.push(JSON.parse(d.toString())));
    ws.once('open', () => resolve({ ws, msgs }));
    ws.once('error', reject);
  });
}

const seenOffers = new Set();
async function acceptNextOffer() {
  const offer = await waitFor(() => aliceWs.msgs.find((m) => m.type === 'offer' &&
    !seenOffers.has(`${m.offer_id}/${m.version}`)), 'an offer to the agent', 20000);
  seenOffers.add(`${offer.offer_id}/${offer.version}`);
  const r = await alice.post(`/api/v1/offers/${offer.offer_id}/accept`, { version: offer.version });
  assert.equal(r.status, 200, r.text);
  return offer.task;
}

let cidN = 0;
async function agentSays(conv, text) {
  cidN += 1;
  const r = await alice.post(`/api/v1/chats/${conv}/messages`, { client_id: `agent-${cidN}`, text });
  assert.equal(r.status, 201, r.text);
  return r.json;
}

async function chatMessages(conv) {
  const r = await admin.get(`/api/v1/chats/${conv}`);
  assert.equal(r.status, 200, r.text);
  return r.json.messages.filter((m) => (m.kind || 'message') === 'message' && m.from !== 'system');
}

// ---- the widget, seen from the test ----------------------------------------------------

const W = {
  launcher: (p) => p.locator('hotline-chat .launcher'),
  panel: (p) => p.locator('hotline-chat .panel'),
  status: (p) => p.locator('hotline-chat .head .status'),
  input: (p) => p.locator('hotline-chat .composer textarea'),
  typing: (p) => p.locator('hotline-chat .typing'),
  endbox: (p) => p.locator('hotline-chat .endbox'),
};

// Everything in the message log, in document order.
function widgetLog(page) {
  return page.evaluate(() => {
    const sr = document.querySelector('hotline-chat').shadowRoot;
    return [...sr.querySelectorAll('.log .msg')].map((e) => ({
      seq: e.dataset.seq ? Number(e.dataset.seq) : null,
      from: e.dataset.from || 'customer',
      pending: e.classList.contains('pending'),
      failed: e.classList.contains('failed'),
      text: e.querySelector('.text') ? e.querySelector('.text').textContent : null,
      state: e.querySelector('.state') ? e.querySelector('.state').textContent : null,
      clientId: e.dataset.clientId || null,
      imgs: e.querySelectorAll('img').length,
      links: e.querySelectorAll('.text a, .text *').length,
    }));
  });
}

const stored = (log) => log.filter((m) => m.seq !== null && m.from !== 'system');

async function send(page, text) {
  await W.input(page).fill(text);
  await W.input(page).press('Enter');
}

async function waitAcked(page, what) {
  await waitFor(async () => {
    const log = await widgetLog(page);
    return log.length && !log.some((m) => m.pending) ? log : null;
  }, what || 'every message acknowledged');
}

async function startChat(page, name, email) {
  await W.launcher(page).click();
  await page.getByLabel('Your name').fill(name);
  if (email) await page.getByLabel('Email (optional)').fill(email);
  await page.getByRole('button', { name: 'Start chat' }).click();
  await W.status(page).filter({ hasText: /Waiting for someone|You are chatting/ }).waitFor();
}

// ---- setup ------------------------------------------------------------------------------

before(async () => {
  server = await startServer({ args: ['--web', join(root, 'web')] });
  const s = await login(server.base);
  admin = client(server.base, s.token);
  const mkQueue = async (body) => {
    const r = await admin.post('/api/v1/queues', { channels: ['chat'], offer_timeout_seconds: 120,
      wrap_up_seconds: 0, ...body });
    assert.equal(r.status, 201, r.text);
    return r.json.id;
  };
  ids.sales = await mkQueue({ name: 'Sales' });
  ids.nobody = await mkQueue({ name: 'Nobody' });
  // A weekly schedule whose only interval is empty never opens (an empty
  // list would mean "always open").
  ids.closed = await mkQueue({ name: 'Closed',
    business_hours: { timezone: 'UTC', weekly: [{ day: 'mon', open: '00:00', close: '00:00' }] } });
  let r = await admin.post('/api/v1/users', { username: 'alice', role: 'agent', display_name: 'Alice',
    password: 'alice-password-1' });
  assert.equal(r.status, 201, r.text);
  r = await admin.post('/api/v1/agents', { name: 'Alice', user_id: r.json.id, languages: ['en', 'sv', 'de', 'hu', 'lt'],
    capacity: { voice: 0, chat: 8, email: 0, messaging: 0 }, queues: [ids.sales] });
  assert.equal(r.status, 201, r.text);
  ids.agent = r.json.id;
  const a = await login(server.base, 'alice', 'alice-password-1');
  alice = client(server.base, a.token);
  aliceWs = await openWs(`ws://127.0.0.1:${server.port}/api/v1/events?token=${a.token}`);
  await waitFor(() => aliceWs.msgs.some((m) => m.type === 'hello'), 'hello');
  await waitFor(async () => (await alice.put(`/api/v1/agents/${ids.agent}/state`, { state: 'available' })).status === 200,
    'the agent available');
  await waitFor(async () => {
    const c = await fetch(`${server.base}/api/v1/chat/config?queue=Sales`).then((x) => x.json());
    return c.agents_available > 0;
  }, 'an available agent in the chat config');

  hostSrv = await startHostPage((u, res) => {
    if (u.pathname !== '/') return false;
    if (u.searchParams.has('pasted')) {
      // A page in another encoding with the snippet copied from the admin UI.
      res.writeHead(200, { 'content-type': 'text/html; charset=windows-1252' });
      res.end(`<!doctype html><html><head><title>Pasted</title></head><body><p>Our site</p>${pasted}</body></html>`);
      return true;
    }
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
  aliceWs?.ws.close();
  if (hostSrv) await hostSrv.close();
  if (server) {
    const st = await server.stop();
    assert.equal(st.code, 0, `hotline exit: ${JSON.stringify(st)}`);
    server.cleanup();
  }
});

// Run one step; on failure keep a screenshot and the server log tail.
async function step(t, page, name, fn) {
  await t.test(name, async () => {
    try {
      await fn();
    } catch (e) {
      const file = `/tmp/hotline-widget-failure-${name.replace(/\W+/g, '-')}.png`;
      await page.screenshot({ path: file }).catch(() => {});
      e.message += `\n(screenshot: ${file})\nserver log tail:\n${server.log.slice(-3000)}`;
      throw e;
    }
  });
}

// ---- the chat ----------------------------------------------------------------------------

test('a chat: pre-chat form, both ways, typing, receipts, attachments, hostile text, transcript, rating', async (t) => {
  const { context, page } = await newPage();
  let conv;

  await step(t, page, 'the widget is isolated from the host page and loads cross-origin', async () => {
    await page.goto(`${hostBase}/?queue=Sales`);
    const launcher = W.launcher(page);
    await launcher.waitFor({ state: 'visible' });
    assert.equal((await launcher.textContent()).includes('Chat with us'), true);
    const css = await launcher.evaluate((el) => {
      const s = getComputedStyle(el);
      return { color: s.color, size: s.fontSize, family: s.fontFamily, border: s.borderStyle };
    });
    assert.equal(css.color, 'rgb(255, 255, 255)', 'the page\'s color does not leak in');
    assert.notEqual(css.size, '31px', 'the page\'s font size does not leak in');
    assert.ok(!/^serif/.test(css.family), css.family);
    // The widget's own styles do not leak out either.
    const h1 = await page.locator('h1').evaluate((el) => getComputedStyle(el).borderStyle);
    assert.equal(h1, 'none');
    assert.equal(await page.locator('hotline-chat').evaluate((el) => el.shadowRoot !== null), true);
  });

  await step(t, page, 'keyboard: Enter opens the form with focus in it, Escape closes to the button', async () => {
    await W.launcher(page).focus();
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Start a chat' }).waitFor();
    assert.equal(await W.launcher(page).getAttribute('aria-expanded'), 'true');
    const focused = () => page.evaluate(() => {
      const a = document.querySelector('hotline-chat').shadowRoot.activeElement;
      return a ? (a.getAttribute('name') || a.className) : null;
    });
    await waitFor(async () => (await focused()) === 'name', 'focus on the name field');
    await page.keyboard.press('Escape');
    await W.panel(page).waitFor({ state: 'hidden' });
    assert.equal(await focused(), 'launcher');
    assert.equal(await W.launcher(page).getAttribute('aria-expanded'), 'false');
  });

  await step(t, page, 'the language switcher changes the widget\'s strings, form input kept', async () => {
    await W.launcher(page).click();
    await page.getByLabel('Your name').fill('Carol <b>');
    await page.getByLabel('Language', { exact: true }).selectOption('sv');
    await page.getByRole('heading', { name: 'Starta en chatt' }).waitFor();
    assert.equal(await page.getByLabel('Ditt namn').inputValue(), 'Carol <b>');
    await page.getByLabel('Språk', { exact: true }).selectOption('en');
    await page.getByRole('heading', { name: 'Start a chat' }).waitFor();
    // Topics come from the config: the chat queues, this page's selected.
    const topic = page.getByLabel('Topic');
    assert.equal(await topic.inputValue(), String(ids.sales));
    const names = await topic.locator('option').allTextContents();
    assert.deepEqual(names.sort(), ['Closed', 'Nobody', 'Sales']);
  });

  await step(t, page, 'the name is required; the pre-chat form starts a chat the agent accepts', async () => {
    await page.getByLabel('Your name').fill('');
    await page.getByRole('button', { name: 'Start chat' }).click();
    await page.getByText('Please enter your name.').waitFor();
    assert.equal(await page.getByLabel('Your name').getAttribute('aria-invalid'), 'true');
    await page.getByLabel('Your name').fill('Carol <b>');
    await page.getByLabel('Email (optional)').fill('not-an-email');
    await page.getByRole('button', { name: 'Start chat' }).click();
    await page.getByText('Please enter a valid email address.').waitFor();
    await page.getByLabel('Email (optional)').fill('carol@example.com');
    await page.getByRole('button', { name: 'Start chat' }).click();
    await W.status(page).filter({ hasText: /Waiting for someone/ }).waitFor();
    const task = await acceptNextOffer();
    conv = task.attributes?.conversation_id || task.id;
    await W.status(page).filter({ hasText: 'You are chatting with Alice.' }).waitFor();
    const c = await admin.get(`/api/v1/chats/${conv}`);
    assert.equal(c.status, 200, c.text);
    assert.equal(c.json.name, 'Carol <b>');
    assert.equal(c.json.email, 'carol@example.com');
    assert.equal(c.json.language, 'en');
    assert.deepEqual(c.json.participants.map((p) => p.name), ['Alice']);
  });

  await step(t, page, 'typing from the customer reaches the agent; the message is acknowledged', async () => {
    const from = aliceWs.msgs.length;
    await W.input(page).pressSequentially('Hello, I need help', { delay: 5 });
    await waitFor(() => aliceWs.msgs.slice(from).find((m) => m.type === 'chat_typing' && m.conversation === conv &&
      m.on === true && m.from === 'customer'), 'chat_typing on at the agent');
    await W.input(page).press('Enter');
    await waitAcked(page);
    const log = await widgetLog(page);
    const mine = log.find((m) => m.text === 'Hello, I need help');
    assert.ok(mine && mine.seq > 0 && mine.state === 'Sent', JSON.stringify(log));
    await waitFor(() => aliceWs.msgs.slice(from).find((m) => m.type === 'chat_typing' && m.conversation === conv &&
      m.on === false), 'chat_typing off at the agent');
    const msgs = await chatMessages(conv);
    assert.deepEqual(msgs.map((m) => [m.from, m.text]), [['customer', 'Hello, I need help']]);
    assert.equal(msgs[0].client_id, mine.clientId);
  });

  await step(t, page, 'agent typing and message, read receipts both ways', async () => {
    aliceWs.ws.send(JSON.stringify({ type: 'chat_typing', conversation: conv, on: true }));
    await W.typing(page).filter({ hasText: 'Alice is typing…' }).waitFor();
    const from = aliceWs.msgs.length;
    const m = await agentSays(conv, 'Hi Carol, how can I help?');
    await waitFor(async () => (await widgetLog(page)).some((x) => x.text === 'Hi Carol, how can I help?'), 'agent message');
    await waitFor(async () => (await W.typing(page).textContent()) === '', 'typing indicator cleared');
    // The widget is open and visible: it reports the message read.
    await waitFor(() => aliceWs.msgs.slice(from).find((x) => x.type === 'chat_read' && x.conversation === conv &&
      x.by === 'customer' && x.seq >= m.seq), 'chat_read from the customer');
    // The agent reads the customer's message: "Read" under it.
    const mine = (await widgetLog(page)).find((x) => x.text === 'Hello, I need help');
    aliceWs.ws.send(JSON.stringify({ type: 'chat_read', conversation: conv, seq: mine.seq }));
    await waitFor(async () => (await widgetLog(page)).find((x) => x.seq === mine.seq).state === 'Read', '"Read"');
    const agentMsg = page.locator('hotline-chat .msg[data-from="agent"]').first();
    assert.match(await agentMsg.locator('.meta').textContent(), /^Alice · /);
  });

  await step(t, page, 'an image from the customer: thumbnail in the widget, stored for the agent', async () => {
    await page.locator('hotline-chat .composer input[type="file"]').setInputFiles({
      name: 'dot é.png', mimeType: 'image/png', buffer: PNG });
    await page.waitForFunction(() => {
      const img = document.querySelector('hotline-chat').shadowRoot.querySelector('.log .msg[data-seq] img');
      return img && img.complete && img.naturalWidth === 16;
    });
    const alt = await page.locator('hotline-chat .log img').getAttribute('alt');
    assert.equal(alt, 'dot é.png');
    const msgs = await chatMessages(conv);
    const att = msgs.find((m) => m.attachment)?.attachment;
    assert.ok(att, JSON.stringify(msgs));
    assert.equal(att.mime, 'image/png');
    assert.equal(att.name, 'dot é.png');
    assert.equal(att.size, PNG.length);
    const r = await fetch(`${server.base}/api/v1/chat/attachments/${att.id}`,
      { headers: { authorization: `Bearer ${(await login(server.base, 'alice', 'alice-password-1')).token}` } });
    assert.equal(r.status, 200);
    assert.deepEqual(Buffer.from(await r.arrayBuffer()), PNG);
    // A type the server does not take is refused in the widget already.
    await page.locator('hotline-chat .composer input[type="file"]').setInputFiles({
      name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('hello') });
    await page.locator('hotline-chat .notice.error').filter({ hasText: 'notes.txt cannot be sent' }).waitFor();
  });

  await step(t, page, 'a PDF from the agent downloads from the widget', async () => {
    const r = await alice.post(`/api/v1/chats/${conv}/attachments`, new Uint8Array(PDF),
      { 'content-type': 'application/pdf', 'x-filename': encodeURIComponent('offer <2>.pdf') });
    assert.equal(r.status, 201, r.text);
    const btn = page.getByRole('button', { name: /^Download offer <2>\.pdf/ });
    await btn.waitFor();
    const [dl] = await Promise.all([page.waitForEvent('download'), btn.click()]);
    assert.match(dl.suggestedFilename(), /^offer.*\.pdf$/);
    const body = readFileSync(await dl.path());
    assert.deepEqual(body, PDF);
  });

  await step(t, page, 'hostile text from both sides renders inert and intact', async () => {
    for (const text of HOSTILE) {
      await send(page, text);
      await waitAcked(page);
    }
    for (const text of HOSTILE) await agentSays(conv, text);
    await waitFor(async () => stored(await widgetLog(page)).filter((m) => m.from === 'agent').pop()?.text === LONG,
      'the agent\'s hostile messages');
    const log = stored(await widgetLog(page));
    const texts = log.filter((m) => m.text !== null).map((m) => [m.from, m.text]);
    assert.deepEqual(texts.slice(-HOSTILE.length * 2), [
      ...HOSTILE.map((x) => ['customer', x]), ...HOSTILE.map((x) => ['agent', x])]);
    for (const m of log) assert.equal(m.links, 0, 'no element inside message text');
    const imgs = await page.locator('hotline-chat .log img').count();
    assert.equal(imgs, 1, 'the only image is the attachment thumbnail');
    assert.equal(await page.evaluate(() => window.__pwned === undefined), true);
    // The long message wraps inside the panel: nothing overflows sideways.
    const overflow = await page.evaluate(() => {
      const l = document.querySelector('hotline-chat').shadowRoot.querySelector('.log');
      return l.scrollWidth - l.clientWidth;
    });
    assert.ok(overflow <= 1, `horizontal overflow ${overflow}`);
    // The server holds the same, byte for byte.
    const msgs = await chatMessages(conv);
    assert.deepEqual(msgs.filter((m) => m.text).slice(-HOSTILE.length * 2).map((m) => m.text), [...HOSTILE, ...HOSTILE]);
    assert.deepEqual(problems, []);
  });

  await step(t, page, 'the transcript downloads with the customer\'s token', async () => {
    const [dl] = await Promise.all([page.waitForEvent('download'),
      page.getByRole('button', { name: 'Download transcript' }).click()]);
    const text = readFileSync(await dl.path(), 'utf8');
    assert.ok(text.includes('Hello, I need help'), text.slice(0, 500));
    assert.ok(text.includes('<script>alert(1)</script>'));
    assert.ok(text.includes('Hi Carol, how can I help?'));
  });

  await step(t, page, 'a reload resumes the chat from sessionStorage without duplicates', async () => {
    const beforeLog = stored(await widgetLog(page)).map((m) => [m.seq, m.text]);
    await page.reload();
    await W.status(page).filter({ hasText: 'You are chatting with Alice.' }).waitFor();
    await sleep(300);
    const afterLog = stored(await widgetLog(page)).map((m) => [m.seq, m.text]);
    assert.deepEqual(afterLog, beforeLog);
  });

  await step(t, page, 'end and rate: the chat.rated event is in the log', async () => {
    await page.getByRole('button', { name: 'End chat' }).click();
    await W.status(page).filter({ hasText: 'The chat has ended.' }).waitFor();
    await W.input(page).waitFor({ state: 'hidden' });
    await page.getByRole('button', { name: 'Send rating' }).click();
    await page.getByText('Please choose from 1 to 5 stars.').waitFor();
    await page.getByLabel('4 of 5 stars').check();
    await page.getByLabel('Comment (optional)').fill('Quick and <b>kind</b>');
    await page.getByRole('button', { name: 'Send rating' }).click();
    await page.getByText('Thank you for your feedback!').waitFor();
    const ev = await waitFor(async () => {
      const r = await admin.get(`/api/v1/events?type=chat.rated&interaction=${conv}`);
      return r.json?.items?.find((e) => e.type === 'chat.rated' && e.interaction === conv);
    }, 'the chat.rated event');
    assert.equal(ev.payload.rating, 4);
    assert.equal(ev.payload.comment, 'Quick and <b>kind</b>');
    const c = await admin.get(`/api/v1/chats/${conv}`);
    assert.equal(c.json.state, 'ended');
    assert.equal(c.json.rating, 4);
    // "Start a new chat" goes back to the form.
    await page.getByRole('button', { name: 'Start a new chat' }).click();
    await page.getByRole('heading', { name: 'Start a chat' }).waitFor();
    assert.equal(await page.getByLabel('Your name').inputValue(), 'Carol <b>');
    assert.deepEqual(problems, []);
  });

  await context.close();
});

// ---- a dropped connection ----------------------------------------------------------------

// Wraps the page's WebSocket so the test can lose acknowledgements
// (swallow incoming frames), cut the connection, and refuse reconnection.
function wsControl() {
  const Real = window.WebSocket;
  const ctl = { block: false, swallow: false, socks: [], opened: 0 };
  window.__wsctl = ctl;
  const desc = Object.getOwnPropertyDescriptor(Real.prototype, 'onmessage');
  function Wrapped(url, protocols) {
    const target = ctl.block ? 'ws://127.0.0.1:9/' : url;
    const ws = protocols === undefined ? new Real(target) : new Real(target, protocols);
    ctl.opened += 1;
    ctl.socks.push(ws);
    Object.defineProperty(ws, 'onmessage', {
      configurable: true,
      get() { return desc.get.call(ws); },
      set(fn) { desc.set.call(ws, typeof fn === 'function' ? (ev) => { if (!ctl.swallow) fn.call(ws, ev); } : fn); },
    });
    return ws;
  }
  Wrapped.prototype = Real.prototype;
  for (const k of ['CONNECTING', 'OPEN', 'CLOSING', 'CLOSED']) Wrapped[k] = Real[k];
  window.WebSocket = Wrapped;
  ctl.drop = () => {
    for (const s of ctl.socks) {
      try { s.close(); } catch { /* closed */ }
    }
    ctl.socks = [];
  };
}

test('reconnect: nothing lost, nothing twice, order kept on both sides', async (t) => {
  const { context, page } = await newPage();
  await context.addInitScript(wsControl);
  let conv;
  const expected = [];

  await step(t, page, 'a chat is up', async () => {
    await page.goto(`${hostBase}/?queue=Sales`);
    await startChat(page, 'Dave');
    const task = await acceptNextOffer();
    conv = task.attributes?.conversation_id || task.id;
    await W.status(page).filter({ hasText: 'You are chatting with Alice.' }).waitFor();
    await send(page, 'before the drop');
    expected.push(['customer', 'before the drop']);
    await waitAcked(page);
    await agentSays(conv, 'agent 1');
    expected.push(['agent', 'agent 1']);
    await waitFor(async () => (await widgetLog(page)).some((m) => m.text === 'agent 1'), 'agent 1');
  });

  await step(t, page, 'the acknowledgement is lost, then the connection drops and stays down', async () => {
    // The agent is typing when the connection goes.
    aliceWs.ws.send(JSON.stringify({ type: 'chat_typing', conversation: conv, on: true }));
    await W.typing(page).filter({ hasText: 'Alice is typing…' }).waitFor();
    await page.evaluate(() => { window.__wsctl.swallow = true; });
    await send(page, 'ack lost');
    expected.push(['customer', 'ack lost']);
    await waitFor(async () => (await chatMessages(conv)).some((m) => m.text === 'ack lost'), 'stored at the server');
    assert.equal((await widgetLog(page)).find((m) => m.text === 'ack lost').pending, true);
    await page.evaluate(() => { window.__wsctl.block = true; window.__wsctl.drop(); });
    await W.status(page).filter({ hasText: 'Connection lost. Reconnecting…' }).waitFor();
    // While down: the agent types and writes, the customer writes.
    aliceWs.ws.send(JSON.stringify({ type: 'chat_typing', conversation: conv, on: true }));
    for (const text of ['agent 2', 'agent 3', 'agent 4']) {
      await agentSays(conv, text);
      expected.push(['agent', text]);
    }
    for (const text of ['while down 1', 'while down 2']) {
      await send(page, text);
      expected.push(['customer', text]);
    }
    const log = await widgetLog(page);
    assert.deepEqual(log.filter((m) => m.pending).map((m) => [m.text, m.state]),
      [['ack lost', 'Sending…'], ['while down 1', 'Sending…'], ['while down 2', 'Sending…']]);
  });

  await step(t, page, 'back online: resume, resend, both sides agree', async () => {
    await page.evaluate(() => {
      window.__wsctl.block = false;
      window.__wsctl.swallow = false;
      window.dispatchEvent(new Event('online'));
    });
    await W.status(page).filter({ hasText: 'You are chatting with Alice.' }).waitFor({ timeout: 30000 });
    await waitFor(async () => {
      const log = await widgetLog(page);
      return !log.some((m) => m.pending) && stored(log).length === expected.length;
    }, 'the widget caught up', 30000);
    await sleep(500); // anything doubled would arrive by now
    const log = stored(await widgetLog(page));
    assert.deepEqual(log.map((m) => [m.from, m.text]), expected);
    const seqs = log.map((m) => m.seq);
    assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b));
    assert.equal(new Set(seqs).size, seqs.length, 'no seq twice');
    const server = await chatMessages(conv);
    assert.deepEqual(server.map((m) => [m.from, m.text]), expected);
    assert.deepEqual(server.map((m) => m.seq), seqs.filter((s) => server.some((m) => m.seq === s)));
    assert.ok(await page.evaluate(() => window.__wsctl.opened) >= 2, 'it reconnected');
    // The agent's typing indicator from before does not linger past their message.
    assert.equal(await W.typing(page).textContent(), '');
  });

  await step(t, page, 'a reload after all that shows the same', async () => {
    await page.reload();
    await W.status(page).filter({ hasText: 'You are chatting with Alice.' }).waitFor();
    await agentSays(conv, 'after reload');
    expected.push(['agent', 'after reload']);
    await waitFor(async () => stored(await widgetLog(page)).length === expected.length, 'after reload');
    await sleep(300);
    assert.deepEqual(stored(await widgetLog(page)).map((m) => [m.from, m.text]), expected);
    await page.getByRole('button', { name: 'End chat' }).click();
    await W.status(page).filter({ hasText: 'The chat has ended.' }).waitFor();
    assert.deepEqual(problems, []);
  });

  await context.close();
});

// ---- the message form ----------------------------------------------------------------------

test('message form: nobody available (phone width), then the reply a returning visitor sees', async (t) => {
  const { context, page } = await newPage({ viewport: { width: 375, height: 667 }, isMobile: true, hasTouch: true });
  let conv;

  await step(t, page, 'no agent in the queue: the message form, full screen', async () => {
    await page.goto(`${hostBase}/?queue=Nobody`);
    await W.launcher(page).click();
    await page.getByRole('heading', { name: 'Leave us a message' }).waitFor();
    await page.getByText('No one is available right now.', { exact: false }).waitFor();
    const box = await W.panel(page).boundingBox();
    assert.ok(box.width >= 370 && box.x <= 1, JSON.stringify(box));
    await page.getByLabel('Your name').fill('Erin');
    await page.getByRole('button', { name: 'Send message' }).click();
    await page.getByText('Please write a message.').waitFor();
    await page.getByLabel('Email (optional)').fill('erin@example.com');
    await page.getByLabel('Message', { exact: true }).fill('Please call me back <b>today</b>');
    await page.getByRole('button', { name: 'Send message' }).click();
    await page.getByText('Thank you! We have received your message and will get back to you here.').waitFor();
    await waitAcked(page);
    const log = stored(await widgetLog(page));
    assert.deepEqual(log.map((m) => [m.from, m.text]), [['customer', 'Please call me back <b>today</b>']]);
    const r = await admin.get('/api/v1/chats?state=all');
    const c = r.json.items.find((x) => x.name === 'Erin');
    assert.ok(c, r.text);
    assert.equal(c.offline, true);
    assert.equal(c.state, 'queued');
    assert.equal(c.queue_id, ids.nobody);
    conv = c.id;
  });

  await step(t, page, 'the visitor leaves; an agent answers later; the visitor comes back to the reply', async () => {
    await page.goto('about:blank');
    const ag = (await admin.get(`/api/v1/agents/${ids.agent}`)).json;
    const r = await admin.put(`/api/v1/agents/${ids.agent}`, { name: ag.name, user_id: ag.user_id,
      languages: ag.languages, capacity: ag.capacity, queues: [ids.sales, ids.nobody], version: ag.version });
    assert.equal(r.status, 200, r.text);
    const task = await acceptNextOffer();
    assert.equal(task.attributes?.conversation_id || task.id, conv);
    await agentSays(conv, 'Hi Erin, we will call you at 3.');
    await page.goto(`${hostBase}/?queue=Nobody`);
    // The panel was open when the visitor left: it opens again, resumed.
    await waitFor(async () => stored(await widgetLog(page)).some((m) => m.text === 'Hi Erin, we will call you at 3.'),
      'the reply');
    await W.status(page).filter({ hasText: 'You are chatting with Alice.' }).waitFor();
    assert.deepEqual(stored(await widgetLog(page)).map((m) => [m.from, m.text]), [
      ['customer', 'Please call me back <b>today</b>'], ['agent', 'Hi Erin, we will call you at 3.']]);
    // The composer fits the phone's width.
    const ib = await W.input(page).boundingBox();
    assert.ok(ib && ib.x >= 0 && ib.x + ib.width <= 375, JSON.stringify(ib));
    await page.getByRole('button', { name: 'End chat' }).click();
    await W.status(page).filter({ hasText: 'The chat has ended.' }).waitFor();
  });

  await context.close();
});

test('message form: the queue is closed (business hours)', async (t) => {
  const { context, page } = await newPage({ locale: 'de-DE' });
  await step(t, page, 'closed: the German message form, a waiting offline conversation', async () => {
    const cfg = await fetch(`${server.base}/api/v1/chat/config?queue=Closed`).then((x) => x.json());
    assert.equal(cfg.open, false);
    await page.goto(`${hostBase}/?queue=Closed`);
    await W.launcher(page).filter({ hasText: 'Chatten Sie mit uns' }).click();
    await page.getByRole('heading', { name: 'Nachricht hinterlassen' }).waitFor();
    await page.getByText('Wir haben gerade geschlossen.', { exact: false }).waitFor();
    await page.getByLabel('Ihr Name').fill('Frank');
    await page.getByLabel('Nachricht', { exact: true }).fill('Bitte um Rückruf');
    await page.getByRole('button', { name: 'Nachricht senden' }).click();
    await page.getByText('Vielen Dank!', { exact: false }).waitFor();
    await waitAcked(page);
    const r = await admin.get('/api/v1/chats?state=all');
    const c = r.json.items.find((x) => x.name === 'Frank');
    assert.ok(c, r.text);
    assert.equal(c.offline, true);
    assert.equal(c.language, 'de');
    assert.equal(c.queue_id, ids.closed);
    assert.deepEqual(problems, []);
  });
  await context.close();
});

// ---- the snippet in the admin UI, and the demo page ------------------------------------------

test('the queue page shows the snippet; pasted into another site it works; the demo page works', async (t) => {
  const origin = new URL(server.base).origin;
  const { context, page } = await newPage({ locale: 'sv-SE' });
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin });
  const odd = 'VIP "gold" <b>&';
  const r = await admin.post('/api/v1/queues', { name: odd, channels: ['chat'] });
  assert.equal(r.status, 201, r.text);
  const oddId = r.json.id;

  await step(t, page, 'the admin UI shows the snippet with a copy button', async () => {
    await page.goto(`${server.base}/`);
    await page.locator('input[type="password"]').waitFor();
    await page.locator('#login-username').fill('admin');
    await page.locator('input[type="password"]').fill(ADMIN_PASSWORD);
    await page.locator('input[type="password"]').press('Enter');
    await page.locator('nav.sidenav').waitFor();
    await page.goto(`${server.base}/#/admin/queues/${oddId}`);
    const box = page.locator('textarea.widget-snippet');
    await box.waitFor();
    const code = await box.inputValue();
    assert.equal(code, `<script src="${origin}/widget.js" data-queue="VIP &quot;gold&quot; &lt;b&gt;&amp;" async></script>`);
    assert.equal(await box.getAttribute('readonly'), '');
    await page.locator('section.widget-embed button').click();
    await page.locator('section.widget-embed [role="status"]').filter({ hasText: /\S/ }).waitFor();
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), code);
    pasted = code;
    // A queue without the chat channel shows no snippet.
    const v = await admin.post('/api/v1/queues', { name: 'Phones', channels: ['voice'] });
    await page.goto(`${server.base}/#/admin/queues/${v.json.id}`);
    await page.locator('form.edit-form').waitFor();
    assert.equal(await page.locator('textarea.widget-snippet').count(), 0);
  });

  await step(t, page, 'the pasted snippet on a windows-1252 page picks its queue by name, in Swedish', async () => {
    await page.goto(`${hostBase}/?pasted=1`);
    await W.launcher(page).filter({ hasText: 'Chatta med oss' }).click();
    await page.getByRole('heading', { name: 'L\u00e4mna ett meddelande' }).waitFor();
    assert.equal(await page.getByLabel('\u00c4mne').inputValue(), String(oddId));
    assert.equal(await page.getByLabel('\u00c4mne').locator('option:checked').textContent(), odd);
  });

  await step(t, page, 'the demo page (Hotline\'s own CSP) shows the widget for ?queue=', async () => {
    await page.goto(`${server.base}/widget-demo.html?queue=Sales`);
    await W.launcher(page).click();
    await page.getByRole('heading', { name: 'Starta en chatt' }).waitFor();
    assert.equal(await page.getByLabel('\u00c4mne').inputValue(), String(ids.sales));
    await page.mouse.move(1, 1);
    const bg = await W.launcher(page).evaluate((el) => getComputedStyle(el).backgroundColor);
    assert.equal(bg, 'rgb(31, 95, 191)', 'the widget\'s style sheet applies under the page\'s CSP');
    assert.match(await page.locator('#snippet').textContent(), /data-queue="Sales"/);
    assert.deepEqual(problems, []);
  });

  await context.close();
});
