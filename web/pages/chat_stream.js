// pages/chat_stream.js: the staff event stream (WebSocket /api/v1/events,
// authenticated by the session cookie) with automatic reconnection.
// Used by the agent desktop and the supervisor view.
//
//   const s = openStream({ topics, signal, onFrame, onStatus });
//   s.send({type: 'chat_typing', conversation: 12, on: true})  → bool
//   s.connected                                                   → bool
//
// onFrame(frame) gets every parsed frame ("hello", "subscribed", "event",
// "offer", "chat_typing", …). onStatus('open' | 'closed', {reconnected})
// runs when the connection (re)opens or drops; after a drop the stream
// reconnects with a growing delay (1 s … 15 s) until `signal` aborts.
import { api } from '../api.js';

const DELAYS = [500, 1000, 2000, 5000, 10000, 15000];

export function openStream({ topics = [], signal, onFrame, onStatus }) {
  let ws = null;
  let attempt = 0;
  let timer = null;
  let opened = false;       // opened at least once (the next open is a reconnect)
  let stopped = false;

  const state = {
    connected: false,
    send(frame) {
      if (!ws || ws.readyState !== WebSocket.OPEN) return false;
      try {
        ws.send(JSON.stringify(frame));
        return true;
      } catch {
        return false;
      }
    },
    close() { stop(); },
  };

  function url() {
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    return `${proto}//${location.host}/api/v1/events`;
  }

  function connect() {
    if (stopped) return;
    try {
      ws = new WebSocket(url());
    } catch {
      schedule();
      return;
    }
    const sock = ws;
    sock.addEventListener('message', (ev) => {
      let frame;
      try { frame = JSON.parse(ev.data); } catch { return; }
      if (!frame || typeof frame !== 'object') return;
      if (frame.type === 'hello') {
        attempt = 0;
        state.connected = true;
        if (topics.length) state.send({ type: 'subscribe', topics });
        const reconnected = opened;
        opened = true;
        if (onStatus) onStatus('open', { reconnected });
      }
      if (onFrame) onFrame(frame);
    });
    sock.addEventListener('close', (ev) => {
      if (sock !== ws) return;
      const was = state.connected;
      state.connected = false;
      ws = null;
      if (stopped) return;
      if (was && onStatus) onStatus('closed', { code: ev.code });
      // Refused as unauthorized: ask the API, whose 401 hook ends the session.
      if (ev.code === 1008) api.me().catch(() => {});
      schedule();
    });
    sock.addEventListener('error', () => { /* a close follows */ });
  }

  function schedule() {
    if (stopped) return;
    const d = DELAYS[Math.min(attempt, DELAYS.length - 1)];
    attempt += 1;
    clearTimeout(timer);
    timer = setTimeout(connect, d);
  }

  function stop() {
    stopped = true;
    clearTimeout(timer);
    state.connected = false;
    if (ws) {
      const s = ws;
      ws = null;
      try { s.close(1000); } catch { /* already closed */ }
    }
  }

  if (signal) {
    if (signal.aborted) return state;
    signal.addEventListener('abort', stop, { once: true });
  }
  connect();
  return state;
}

// Calls fn at most once per `ms`: the first call runs at once, calls within
// the window are folded into one trailing call at its end.
export function throttle(fn, ms) {
  let last = 0;
  let timer = null;
  return function throttled() {
    const now = Date.now();
    const wait = last + ms - now;
    if (wait <= 0 && !timer) {
      last = now;
      fn();
    } else if (!timer) {
      timer = setTimeout(() => {
        timer = null;
        last = Date.now();
        fn();
      }, Math.max(wait, 0));
    }
  };
}

// A client id for a message: 1–64 of A-Za-z0-9_-.
export function newClientId() {
  const b = new Uint8Array(16);
  crypto.getRandomValues(b);
  return `c${Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('')}`;
}
