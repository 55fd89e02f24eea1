// Web chat over the wire (docs/CHAT.md): the widget's WebSocket protocol,
// the staff endpoints and stream frames, attachments, transcripts, CSAT,
// transfers, bad input, and durability across kill -9. The browsers are
// covered by tests/browser/widget.test.mjs and desktop.test.mjs; this file
// pins the protocol itself. Staff REST answers are checked against the
// served OpenAPI document.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { sleep, waitFor, openJsonWs } from '../lib/wait.mjs';
import { startServer, login, client } from '../lib/server.mjs';
import { loadContract } from '../lib/openapi.mjs';
import { checkedClient } from '../lib/checked.mjs';

let srv, contract, api, ids = {}, ann, bob;
// tests/postgres/chat_pg.test.mjs runs this file again on PostgreSQL, in a
// database other tests use too: names get a suffix there.
const pgUrl = process.env.HL_CHAT_ON_PG ? process.env.HL_TEST_PG_URL : '';
const sfx = pgUrl ? 'Pg' : '';
const storeArgs = pgUrl ? ['--store', pgUrl] : [];

const open = openJsonWs;

const visitor = () => open(`ws://127.0.0.1:${srv.port}/api/v1/chat/ws`);

// An agent: REST client, event stream, and helpers.
async function agent(username, password) {
  const s = await login(srv.base, username, password);
  const c = checkedClient(srv.base, s.token, contract);
  const stream = await open(`ws://127.0.0.1:${srv.port}/api/v1/events?token=${s.token}`);
  await waitFor(() => stream.msgs.some((m) => m.type === 'hello'), 10000, 'hello');
  return { s, c, stream };
}

async function startChat(v, extra = {}) {
  const n = v.msgs.length;
  v.send({ type: 'start', queue: ids.sales, name: 'Customer <b>One</b>', email: 'one@example.com', language: 'en', ...extra });
  return waitFor(() => v.msgs.slice(n).find((m) => m.type === 'started' || m.type === 'error'), 10000, 'started');
}

// End a chat from the agent's side and finish its wrap-up.
async function endChat(a, conv) {
  const r = await a.c.post(`/api/v1/chats/${conv}/end`, {});
  assert.equal(r.status, 200, r.text);
  const t = await waitFor(async () => { const x = await a.c.get(`/api/v1/tasks/${r.json.task_id}`); return x.json.state === 'wrapup' && x; }, 10000, 'wrap-up');
  assert.equal((await a.c.post(`/api/v1/tasks/${t.json.id}/wrapup`, { disposition: 'done' })).status, 200);
}

// Accept the offer for conversation `conv` on agent `a`; returns the task.
async function acceptOffer(a, conv) {
  const offer = await waitFor(() => a.stream.msgs.find((m) => m.type === 'offer' &&
    m.task.attributes.conversation_id === conv), 10000, 'offer');
  const r = await a.c.post(`/api/v1/offers/${offer.offer_id}/accept`, { version: offer.version });
  assert.equal(r.status, 200, r.text);
  return r.json;
}

const msgsOf = (v) => v.msgs.filter((m) => m.type === 'message');

before(async () => {
  srv = await startServer({ args: storeArgs, env: { HOTLINE_CHAT_GRACE_MS: '1500' } });
  contract = await loadContract(srv.base);
  const admin = await login(srv.base);
  api = checkedClient(srv.base, admin.token, contract);
  const q = await api.post('/api/v1/queues', { name: `Sales${sfx}`, channels: ['chat'], offer_timeout_seconds: 60, wrap_up_seconds: 60 });
  assert.equal(q.status, 201, q.text);
  const q2 = await api.post('/api/v1/queues', { name: `Billing${sfx}`, channels: ['chat'], offer_timeout_seconds: 60, wrap_up_seconds: 60 });
  assert.equal(q2.status, 201, q2.text);
  ids.sales = q.json.id;
  ids.billing = q2.json.id;
  for (const [name, queues] of [['ann', [ids.sales]], ['bob', [ids.billing]]]) {
    const u = await api.post('/api/v1/users', { username: `${name}${sfx.toLowerCase()}`, role: 'agent', password: `${name}-password-1` });
    assert.equal(u.status, 201, u.text);
    const ag = await api.post('/api/v1/agents', { name: name[0].toUpperCase() + name.slice(1) + sfx, user_id: u.json.id, capacity: { chat: 10 }, queues });
    assert.equal(ag.status, 201, ag.text);
    ids[name] = ag.json.id;
    ids[`${name}User`] = u.json.id;
  }
  ann = await agent(`ann${sfx.toLowerCase()}`, 'ann-password-1');
  bob = await agent(`bob${sfx.toLowerCase()}`, 'bob-password-1');
  await waitFor(async () => (await ann.c.put(`/api/v1/agents/${ids.ann}/state`, { state: 'available' })).status === 200, 10000, 'ann available');
  await waitFor(async () => (await bob.c.put(`/api/v1/agents/${ids.bob}/state`, { state: 'available' })).status === 200, 10000, 'bob available');
});

after(async () => {
  ann?.stream.ws.close();
  bob?.stream.ws.close();
  const st = await srv.stop();
  assert.equal(st.code, 0);
  srv.cleanup();
});

test('config lists chat topics with CORS; preflight is answered', async () => {
  const r = await fetch(`${srv.base}/api/v1/chat/config?queue=sales${sfx}`, { headers: { origin: 'http://elsewhere.example' } });
  assert.equal(r.status, 200);
  assert.equal(r.headers.get('access-control-allow-origin'), '*');
  const j = await r.json();
  assert.equal(j.queue.id, ids.sales);
  assert.equal(j.queue.name, `Sales${sfx}`, 'matched without regard to case');
  assert.equal(j.open, true);
  assert.ok(j.agents_available >= 1, JSON.stringify(j));
  assert.deepEqual(j.topics.map((t) => t.name).filter((n) => [`Sales${sfx}`, `Billing${sfx}`].includes(n)).sort(), [`Billing${sfx}`, `Sales${sfx}`]);
  const byId = await (await fetch(`${srv.base}/api/v1/chat/config?queue=${ids.billing}`)).json();
  assert.equal(byId.queue.name, `Billing${sfx}`);
  const pre = await fetch(`${srv.base}/api/v1/chat/attachments`, { method: 'OPTIONS',
    headers: { origin: 'http://elsewhere.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'x-chat-token, content-type' } });
  assert.equal(pre.status, 204);
  assert.match(pre.headers.get('access-control-allow-headers'), /X-Chat-Token/i);
});

test('a chat both ways: acknowledged by the stored message, typing, read, notes and whispers stay with staff', async () => {
  const v = await visitor();
  const st = await startChat(v, { text: 'first words' });
  assert.equal(st.type, 'started', JSON.stringify(st));
  assert.ok(st.token.length >= 40);
  const conv = st.conversation;
  // the first message comes back stored, seq 1
  const first = await waitFor(() => msgsOf(v).find((m) => m.seq === 1), 10000, 'first message');
  assert.equal(first.text, 'first words');
  assert.equal(first.from, 'customer');
  const task = await acceptOffer(ann, conv);
  assert.equal(task.id, conv, 'the first task carries the conversation id');
  const state = await waitFor(() => v.msgs.find((m) => m.type === 'state' && m.state === 'active'), 10000, 'active');
  assert.equal(state.agent.name, `Ann${sfx}`);
  // customer -> agent
  v.send({ type: 'message', client_id: 'c-1', text: 'hello <script>alert(1)</script>' });
  const ack = await waitFor(() => msgsOf(v).find((m) => m.client_id === 'c-1'), 10000, 'ack');
  assert.equal(ack.seq, 2);
  assert.equal(ack.text, 'hello <script>alert(1)</script>');
  const seen = await waitFor(() => ann.stream.msgs.find((m) => m.type === 'event' && m.event.type === 'chat.message' &&
    m.event.payload.client_id === 'c-1'), 10000, 'agent sees it');
  assert.equal(seen.event.interaction, conv);
  // agent -> customer over the stream, and over REST
  ann.stream.send({ type: 'chat_message', conversation: conv, client_id: 'a-1', text: 'Hi! How can I help?' });
  const r = await ann.c.post(`/api/v1/chats/${conv}/messages`, { client_id: 'a-2', text: 'Second line' });
  assert.equal(r.status, 201, r.text);
  assert.equal(r.json.from, 'agent');
  await waitFor(() => msgsOf(v).some((m) => m.client_id === 'a-2') && msgsOf(v).some((m) => m.client_id === 'a-1'), 10000, 'agent messages');
  assert.equal(msgsOf(v).find((m) => m.client_id === 'a-1').name, `Ann${sfx}`);
  // typing and read both ways
  v.send({ type: 'typing', on: true });
  await waitFor(() => ann.stream.msgs.find((m) => m.type === 'chat_typing' && m.conversation === conv && m.on === true), 10000, 'typing to agent');
  ann.stream.send({ type: 'chat_typing', conversation: conv, on: true });
  const ty = await waitFor(() => v.msgs.find((m) => m.type === 'typing' && m.on === true), 10000, 'typing to customer');
  assert.equal(ty.name, `Ann${sfx}`);
  v.send({ type: 'read', seq: 4 });
  await waitFor(() => ann.stream.msgs.find((m) => m.type === 'chat_read' && m.seq === 4), 10000, 'read to agent');
  ann.stream.send({ type: 'chat_read', conversation: conv, seq: 2 });
  await waitFor(() => v.msgs.find((m) => m.type === 'read' && m.seq === 2), 10000, 'read to customer');
  // a note (agent) and a whisper (supervisor) never reach the customer
  assert.equal((await ann.c.post(`/api/v1/chats/${conv}/messages`, { client_id: 'n-1', text: 'internal note', kind: 'note' })).status, 201);
  assert.equal((await api.post(`/api/v1/chats/${conv}/messages`, { client_id: 'w-1', text: 'psst, offer a discount', kind: 'whisper' })).status, 201);
  assert.equal((await ann.c.post(`/api/v1/chats/${conv}/messages`, { client_id: 'w-2', text: 'x', kind: 'whisper' })).status, 403);
  await waitFor(() => ann.stream.msgs.find((m) => m.type === 'event' && m.event.payload.client_id === 'w-1'), 10000, 'whisper to agent');
  v.send({ type: 'message', client_id: 'c-2', text: 'still there?' });
  await waitFor(() => msgsOf(v).find((m) => m.client_id === 'c-2'), 10000, 'c-2');
  assert.ok(!v.msgs.some((m) => JSON.stringify(m).includes('internal note') || JSON.stringify(m).includes('discount')));
  // a resent client_id is stored once
  v.send({ type: 'message', client_id: 'c-2', text: 'still there?' });
  await sleep(300);
  const full = await ann.c.get(`/api/v1/chats/${conv}`);
  assert.equal(full.status, 200, full.text);
  assert.equal(full.json.messages.filter((m) => m.client_id === 'c-2').length, 1);
  assert.deepEqual(full.json.messages.map((m) => m.seq), full.json.messages.map((_, i) => i + 1));
  assert.ok(full.json.messages.some((m) => m.kind === 'note') && full.json.messages.some((m) => m.kind === 'whisper'));
  assert.equal(full.json.participants[0].name, `Ann${sfx}`);
  // every seq reached the customer once
  const seqs = msgsOf(v).map((m) => m.seq);
  assert.deepEqual(seqs, [...new Set(seqs)]);
  // bob is not in it
  assert.equal((await bob.c.get(`/api/v1/chats/${conv}`)).status, 403);
  assert.equal((await bob.c.post(`/api/v1/chats/${conv}/messages`, { client_id: 'b-1', text: 'x' })).status, 403);
  const list = await ann.c.get('/api/v1/chats?state=open');
  assert.ok(list.json.items.some((c) => c.id === conv));
  assert.ok(!(await bob.c.get('/api/v1/chats?state=open')).json.items.some((c) => c.id === conv));
  await endChat(ann, conv);
  v.ws.close();
});

test('reconnect: resume sends exactly what was missed, a resend is stored once', async () => {
  let v = await visitor();
  const st = await startChat(v, { name: 'Resumer', email: '' });
  const conv = st.conversation;
  await acceptOffer(ann, conv);
  v.send({ type: 'message', client_id: 'r-1', text: 'one' });
  await waitFor(() => msgsOf(v).find((m) => m.client_id === 'r-1'), 10000, 'r-1');
  const lastSeen = Math.max(...msgsOf(v).map((m) => m.seq));
  // drop the connection; the agent goes on writing meanwhile
  v.ws.terminate();
  for (const i of [1, 2, 3]) {
    assert.equal((await ann.c.post(`/api/v1/chats/${conv}/messages`, { client_id: `ra-${i}`, text: `agent ${i}` })).status, 201);
  }
  v = await visitor();
  v.send({ type: 'resume', token: st.token, after: lastSeen });
  const res = await waitFor(() => v.msgs.find((m) => m.type === 'resumed'), 10000, 'resumed');
  assert.equal(res.conversation, conv);
  assert.equal(res.state, 'active');
  assert.equal(res.agent.name, `Ann${sfx}`);
  await waitFor(() => msgsOf(v).length === 3, 10000, 'three missed');
  assert.deepEqual(msgsOf(v).map((m) => m.text), ['agent 1', 'agent 2', 'agent 3']);
  // the widget resends what it never saw acknowledged: same client_id
  v.send({ type: 'message', client_id: 'r-1', text: 'one' });
  v.send({ type: 'message', client_id: 'r-2', text: 'two' });
  await waitFor(() => msgsOf(v).find((m) => m.client_id === 'r-2'), 10000, 'r-2');
  await sleep(200);
  const full = await ann.c.get(`/api/v1/chats/${conv}`);
  assert.deepEqual(full.json.messages.map((m) => m.client_id), ['r-1', 'ra-1', 'ra-2', 'ra-3', 'r-2']);
  const seqs = msgsOf(v).map((m) => m.seq);
  assert.deepEqual(seqs, [...new Set(seqs)].sort((a, b) => a - b), 'in order, each once');
  // an unknown token
  const w = await visitor();
  w.send({ type: 'resume', token: 'not-a-token', after: 0 });
  const e = await waitFor(() => w.msgs.find((m) => m.type === 'error'), 10000, 'error');
  assert.equal(e.code, 'not_found');
  w.ws.close();
  v.send({ type: 'end' });
  await waitFor(() => v.msgs.find((m) => m.type === 'state' && m.state === 'ended'), 10000, 'ended');
  v.ws.close();
});

test('attachments are checked by content, stored, and downloadable by the customer and the agent; transcript', async () => {
  const v = await visitor();
  const st = await startChat(v, { name: 'Filer' });
  const conv = st.conversation;
  await acceptOffer(ann, conv);
  const png = Buffer.from('89504e470d0a1a0a0000000d4948445200000001000000010806000000' +
    '1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082', 'hex');
  const up = await fetch(`${srv.base}/api/v1/chat/attachments`, { method: 'POST',
    headers: { 'x-chat-token': st.token, 'content-type': 'image/png', 'x-filename': encodeURIComponent('pïxel <1>.png') }, body: png });
  assert.equal(up.status, 201, await up.clone().text());
  const m = await up.json();
  assert.equal(m.attachment.mime, 'image/png');
  assert.equal(m.attachment.size, png.length);
  assert.equal(m.attachment.name, 'pïxel <1>.png');
  await waitFor(() => msgsOf(v).find((x) => x.attachment && x.attachment.id === m.attachment.id), 10000, 'file message');
  const get = await fetch(`${srv.base}/api/v1/chat/attachments/${m.attachment.id}`, { headers: { 'x-chat-token': st.token } });
  assert.equal(get.status, 200);
  assert.equal(get.headers.get('content-type'), 'image/png');
  assert.match(get.headers.get('content-disposition'), /^inline; filename\*=UTF-8''p%C3%AFxel/);
  assert.deepEqual(Buffer.from(await get.arrayBuffer()), png);
  // the agent sees it in the conversation and can fetch it with its login
  const full = await ann.c.get(`/api/v1/chats/${conv}`);
  assert.ok(full.json.messages.some((x) => x.attachment && x.attachment.id === m.attachment.id));
  const asAgent = await fetch(`${srv.base}/api/v1/chat/attachments/${m.attachment.id}`, { headers: { authorization: `Bearer ${ann.s.token}` } });
  assert.equal(asAgent.status, 200);
  // another conversation's token cannot read it
  const v2 = await visitor();
  const st2 = await startChat(v2, { name: 'Other' });
  assert.equal((await fetch(`${srv.base}/api/v1/chat/attachments/${m.attachment.id}`, { headers: { 'x-chat-token': st2.token } })).status, 404);
  assert.equal((await fetch(`${srv.base}/api/v1/chat/attachments/${m.attachment.id}`)).status, 401);
  // the type is checked by content, not by the header
  const html = await fetch(`${srv.base}/api/v1/chat/attachments`, { method: 'POST',
    headers: { 'x-chat-token': st.token, 'content-type': 'image/png' }, body: '<html><script>alert(1)</script>' });
  assert.equal(html.status, 415);
  const big = await fetch(`${srv.base}/api/v1/chat/attachments`, { method: 'POST',
    headers: { 'x-chat-token': st.token, 'content-type': 'application/pdf' }, body: Buffer.alloc(10 * 1024 * 1024 + 1, 0x25) });
  assert.equal(big.status, 413);
  assert.equal((await fetch(`${srv.base}/api/v1/chat/attachments`, { method: 'POST', headers: { 'x-chat-token': 'nope' }, body: png })).status, 401);
  // the agent sends a PDF back
  const pdf = Buffer.from('%PDF-1.4\n%\xe2\xe3\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n', 'latin1');
  const ap = await client(srv.base, ann.s.token).raw('POST', `/api/v1/chats/${conv}/attachments`, pdf,
    { 'content-type': 'application/pdf', 'x-filename': 'offer.pdf' });
  assert.equal(ap.status, 201, ap.text);
  const pm = await waitFor(() => msgsOf(v).find((x) => x.attachment && x.attachment.mime === 'application/pdf'), 10000, 'pdf to customer');
  assert.equal(pm.from, 'agent');
  const pget = await fetch(`${srv.base}/api/v1/chat/attachments/${pm.attachment.id}`, { headers: { 'x-chat-token': st.token } });
  assert.match(pget.headers.get('content-disposition'), /^attachment;/);
  // transcript
  v.send({ type: 'message', client_id: 't-1', text: 'for the record' });
  await waitFor(() => msgsOf(v).find((x) => x.client_id === 't-1'), 10000, 't-1');
  const tr = await fetch(`${srv.base}/api/v1/chat/transcript`, { headers: { 'x-chat-token': st.token } });
  assert.equal(tr.status, 200);
  assert.match(tr.headers.get('content-type'), /^text\/plain/);
  assert.match(tr.headers.get('content-disposition'), /attachment/);
  const text = await tr.text();
  assert.match(text, /Filer: for the record/);
  assert.match(text, /\(file\) pïxel <1>\.png/);
  await endChat(ann, conv);
  v2.send({ type: 'end' });
  v.ws.close();
  v2.ws.close();
});

test('end, wrap-up and CSAT', async () => {
  const v = await visitor();
  const st = await startChat(v, { name: 'Rater' });
  const conv = st.conversation;
  const task = await acceptOffer(ann, conv);
  v.send({ type: 'rate', rating: 5 });
  const early = await waitFor(() => v.msgs.find((m) => m.type === 'error'), 10000, 'early rate refused');
  assert.equal(early.field, 'type');
  const end = await ann.c.post(`/api/v1/chats/${conv}/end`, {});
  assert.equal(end.status, 200, end.text);
  assert.equal(end.json.state, 'ended');
  await waitFor(() => v.msgs.find((m) => m.type === 'state' && m.state === 'ended'), 10000, 'ended to customer');
  const t = await waitFor(async () => { const r = await ann.c.get(`/api/v1/tasks/${task.id}`); return r.json.state === 'wrapup' && r; }, 10000, 'wrap-up');
  assert.equal(t.json.agent_id, ids.ann);
  assert.equal((await ann.c.post(`/api/v1/tasks/${task.id}/wrapup`, { disposition: 'sold', notes: 'ok' })).status, 200);
  v.send({ type: 'message', client_id: 'late', text: 'one more' });
  const closed = await waitFor(() => v.msgs.find((m) => m.type === 'error' && m.client_id === 'late'), 10000, 'closed');
  assert.equal(closed.code, 'closed');
  v.send({ type: 'rate', rating: 4, comment: 'quick & <b>kind</b>' });
  await waitFor(() => v.msgs.find((m) => m.type === 'rated'), 10000, 'rated');
  v.send({ type: 'rate', rating: 1 });
  await waitFor(() => v.msgs.filter((m) => m.type === 'error').length >= 3, 10000, 'second rating refused');
  const ev = await api.get(`/api/v1/events?type=chat.rated&limit=200`);
  const mine = ev.json.items.find((e) => e.interaction === conv);
  assert.deepEqual(mine.payload, { rating: 4, comment: 'quick & <b>kind</b>' });
  const full = await api.get(`/api/v1/chats/${conv}`);
  assert.equal(full.json.rating, 4);
  // the customer ending a waiting chat abandons its task
  const w = await visitor();
  await ann.c.put(`/api/v1/agents/${ids.ann}/state`, { state: 'away', reason: 'break' });
  const st2 = await startChat(w, { name: 'Leaver' });
  w.send({ type: 'end' });
  await waitFor(() => w.msgs.find((m) => m.type === 'state' && m.state === 'ended'), 10000, 'ended');
  await waitFor(async () => (await api.get(`/api/v1/tasks/${st2.conversation}`)).json.state === 'abandoned', 10000, 'abandoned');
  await ann.c.put(`/api/v1/agents/${ids.ann}/state`, { state: 'available' });
  v.ws.close();
  w.ws.close();
});

test('transfer to a queue: the next agent gets the offer, the customer keeps the chat', async () => {
  const v = await visitor();
  const st = await startChat(v, { name: 'Moved' });
  const conv = st.conversation;
  const task = await acceptOffer(ann, conv);
  const tr = await ann.c.post(`/api/v1/chats/${conv}/transfer`, { queue_id: ids.billing, note: 'billing question' });
  assert.equal(tr.status, 200, tr.text);
  await waitFor(() => v.msgs.find((m) => m.type === 'state' && m.state === 'queued'), 10000, 'queued again');
  await waitFor(async () => (await ann.c.get(`/api/v1/tasks/${task.id}`)).json.state === 'wrapup', 10000, 'ann in wrap-up');
  const t2 = await acceptOffer(bob, conv);
  assert.equal(t2.queue_id, ids.billing);
  const act = await waitFor(() => v.msgs.filter((m) => m.type === 'state' && m.state === 'active').pop()?.agent?.name === `Bob${sfx}`, 10000, 'bob active');
  assert.ok(act);
  assert.equal((await ann.c.post(`/api/v1/chats/${conv}/messages`, { client_id: 'gone', text: 'x' })).status, 403);
  assert.equal((await bob.c.post(`/api/v1/chats/${conv}/messages`, { client_id: 'bob-1', text: 'Billing here' })).status, 201);
  await waitFor(() => msgsOf(v).find((m) => m.client_id === 'bob-1'), 10000, 'bob message');
  const evs = await api.get(`/api/v1/events?interaction=${conv}&limit=200`);
  assert.ok(evs.json.items.some((e) => e.type === 'chat.transferred' && e.payload.note === 'billing question'));
  v.ws.close();
});

test('bad frames get precise errors and the socket goes on', async () => {
  const v = await visitor();
  v.ws.send('{"type": "start", ');
  await waitFor(() => v.msgs.find((m) => m.type === 'error' && /malformed JSON at line 1/.test(m.detail)), 10000, 'malformed');
  v.send({ type: 'message', client_id: 'x', text: 'no chat yet' });
  await waitFor(() => v.msgs.filter((m) => m.type === 'error').length === 2, 10000, 'not started');
  const cases = [
    [{ type: 'start', queue: ids.sales, name: '' }, 'name'],
    [{ type: 'start', queue: 'Sales', name: 'A' }, 'queue'],
    [{ type: 'start', queue: ids.sales, name: 'A', email: 'not-an-email' }, 'email'],
    [{ type: 'start', queue: ids.sales, name: 'A', language: 'fr' }, 'language'],
    [{ type: 'start', queue: 999999, name: 'A' }, 'queue'],
    [{ type: 'nonsense' }, 'type'],
  ];
  for (const [frame, field] of cases) {
    const n = v.msgs.length;
    v.send(frame);
    const e = await waitFor(() => v.msgs.slice(n).find((m) => m.type === 'error'), 10000, `error for ${field}`);
    assert.equal(e.field, field, JSON.stringify(e));
  }
  const st = await startChat(v, { name: 'Fine after all' });
  assert.equal(st.type, 'started');
  const n = v.msgs.length;
  v.send({ type: 'message', client_id: 'bad id!', text: 'x' });
  v.send({ type: 'message', client_id: 'long', text: 'x'.repeat(16385) });
  v.send({ type: 'message', client_id: 'ok', text: '\u00e5\u00e4\u00f6 \ud83d\ude00 javascript:alert(1) <img src=x onerror=alert(1)>' });
  await waitFor(() => msgsOf(v).find((m) => m.client_id === 'ok'), 10000, 'ok message');
  const errs = v.msgs.slice(n).filter((m) => m.type === 'error').map((m) => m.field);
  assert.deepEqual(errs.sort(), ['client_id', 'text']);
  assert.equal(msgsOf(v).find((m) => m.client_id === 'ok').text, '\u00e5\u00e4\u00f6 \ud83d\ude00 javascript:alert(1) <img src=x onerror=alert(1)>');
  // flooding is refused, not queued
  for (let i = 0; i < 80; i++) v.send({ type: 'typing', on: i % 2 === 0 });
  await waitFor(() => v.msgs.find((m) => m.type === 'error' && m.code === 'rate_limited'), 10000, 'rate limited');
  // a frame over 64 KiB closes the socket
  const closed = new Promise((r) => v.ws.once('close', (code) => r(code)));
  v.ws.send(JSON.stringify({ type: 'message', client_id: 'huge', text: 'x'.repeat(70000) }));
  assert.equal(await closed, 1009);
  // staff endpoints refuse bad input too
  assert.equal((await ann.c.post(`/api/v1/chats/${st.conversation}/messages`, { client_id: 'x', text: '' })).status, 422);
  assert.equal((await api.get('/api/v1/chats?state=weird')).status, 422);
  assert.equal((await api.get('/api/v1/chats/999999')).status, 404);
  // and the server still serves
  assert.equal((await fetch(`${srv.base}/healthz`)).status, 200);
});

test('a customer who leaves while waiting is abandoned after the grace period; one who comes back is not', async () => {
  await ann.c.put(`/api/v1/agents/${ids.ann}/state`, { state: 'away', reason: 'meeting' });
  const v = await visitor();
  const st = await startChat(v, { name: 'Impatient' });
  const w = await visitor();
  const st2 = await startChat(w, { name: 'Patient' });
  v.ws.close();
  w.ws.close();
  const w2 = await visitor();
  w2.send({ type: 'resume', token: st2.token, after: 0 });
  await waitFor(() => w2.msgs.find((m) => m.type === 'resumed'), 10000, 'resumed');
  await waitFor(async () => (await api.get(`/api/v1/tasks/${st.conversation}`)).json.state === 'abandoned', 10000, 'abandoned');
  const evs = await api.get(`/api/v1/events?interaction=${st.conversation}&limit=200`);
  const ended = evs.json.items.find((e) => e.type === 'chat.ended');
  assert.deepEqual(ended.payload, { by: 'customer', reason: 'customer-left' });
  await sleep(2000);
  assert.equal((await api.get(`/api/v1/tasks/${st2.conversation}`)).json.state, 'queued');
  assert.equal((await api.get(`/api/v1/chats/${st2.conversation}`)).json.state, 'queued');
  await ann.c.put(`/api/v1/agents/${ids.ann}/state`, { state: 'available' });
  const task = await acceptOffer(ann, st2.conversation);
  assert.equal(task.id, st2.conversation);
  // presence is live: it reaches the agents the web thread knows are in
  // the chat, i.e. once chat.joined went by (it may trail the accept's answer)
  await waitFor(() => w2.msgs.find((m) => m.type === 'state' && m.state === 'active'), 10000, 'active');
  w2.ws.close();
  await waitFor(() => ann.stream.msgs.find((m) => m.type === 'chat_presence' && m.conversation === st2.conversation && m.online === false), 10000, 'offline presence');
  await endChat(ann, st2.conversation);
});

test('an acknowledged message survives kill -9; the chat goes on after restart', async () => {
  const v = await visitor();
  const st = await startChat(v, { name: 'Durable' });
  const conv = st.conversation;
  await acceptOffer(ann, conv);
  v.send({ type: 'message', client_id: 'd-1', text: 'please keep this' });
  await waitFor(() => msgsOf(v).find((m) => m.client_id === 'd-1'), 10000, 'ack');
  ann.stream.ws.close();
  bob.stream.ws.close();
  await srv.kill9();
  srv = await startServer({ dataDir: srv.dataDir, port: srv.port, args: storeArgs });
  const w = await visitor();
  w.send({ type: 'resume', token: st.token, after: 0 });
  const res = await waitFor(() => w.msgs.find((m) => m.type === 'resumed'), 10000, 'resumed');
  assert.equal(res.agent?.name, `Ann${sfx}`, 'participants are rebuilt from the event log');
  await waitFor(() => msgsOf(w).find((m) => m.client_id === 'd-1'), 10000, 'the message survived');
  ann = await agent(`ann${sfx.toLowerCase()}`, 'ann-password-1');
  bob = await agent(`bob${sfx.toLowerCase()}`, 'bob-password-1');
  assert.equal((await ann.c.post(`/api/v1/chats/${conv}/messages`, { client_id: 'after-1', text: 'back again' })).status, 201);
  await waitFor(() => msgsOf(w).find((m) => m.client_id === 'after-1'), 10000, 'agent message after restart');
  w.ws.close();
});
