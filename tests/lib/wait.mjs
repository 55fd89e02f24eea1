// Small helpers the black-box tests share: bounded waiting, and a JSON
// WebSocket client that records every message it receives.
import WebSocket from 'ws';

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Poll fn (sync or async) every 20 ms until it returns something truthy;
// that value is returned. Throws after ms.
export async function waitFor(fn, ms = 10000, what = 'condition') {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const v = await fn();
    if (v) return v;
    await sleep(20);
  }
  throw new Error(`timed out waiting for ${what}`);
}

// Open a WebSocket; resolves with {ws, msgs (parsed, in order), send(obj)}.
export function openJsonWs(url) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    const msgs = [];
    ws.on('message', (d) => msgs.push(JSON.parse(d.toString())));
    ws.once('open', () => resolve({ ws, msgs, send: (o) => ws.send(JSON.stringify(o)) }));
    ws.once('error', reject);
  });
}
