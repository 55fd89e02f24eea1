// What the browser tests share: Debian's Chromium started headless the
// same way everywhere, and a page server on another origin (the "customer's
// web site" that pastes the chat widget).
import http from 'node:http';
import { chromium } from 'playwright-core';
import { freePort } from './server.mjs';

// Chromium, headless, sandbox off (we run as root in CI), nothing talking to
// the network but the pages under test. Audio may start without a click
// (the agent desktop's offer ring).
export function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--autoplay-policy=no-user-gesture-required'],
  });
}

// Serve route(url, res) on 127.0.0.1 at a port of its own; an unhandled
// path (route returns false) is a 404. Resolves with {base, close()}.
export async function startHostPage(route) {
  const srv = http.createServer((req, res) => {
    const u = new URL(req.url, 'http://127.0.0.1');
    if (!route(u, res)) {
      res.writeHead(404);
      res.end();
    }
  });
  const port = await freePort();
  await new Promise((r) => srv.listen(port, '127.0.0.1', r));
  return { base: `http://127.0.0.1:${port}`, close: () => new Promise((r) => srv.close(r)) };
}
