// Live job events: the WebSocket /api/v1/events with reconnection
// (exponential backoff with jitter, resubscribing every watched id), a
// keep-alive ping, and polling of GET /api/v1/consultations/{id} while the
// socket is down.  Events from both paths have the WebSocket's shapes:
//   {type:'queued'|'progress'|'completed'|'failed', audioKey, stage, percent, result, reason}

import { api } from './util.js';

const PING_MS = 25000;
const POLL_MS = 3000;
const MAX_BACKOFF_MS = 15000;

export class Events {
  // onEvent(ev); onConnection('live' | 'connecting' | 'polling')
  constructor(onEvent, onConnection) {
    this.onEvent = onEvent;
    this.onConnection = onConnection;
    this.keys = new Set();
    this.ws = null;
    this.attempts = 0;
    this.pollTimer = 0;
    this.pingTimer = 0;
    this.connect();
  }

  watch(key) {
    this.keys.add(key);
    this.send({ action: 'subscribe', audioKey: key });
    if (!this.live()) this.pollSoon(0);
  }

  unwatch(key) {
    if (!this.keys.delete(key)) return;
    this.send({ action: 'unsubscribe', audioKey: key });
  }

  live() {
    return this.ws && this.ws.readyState === WebSocket.OPEN;
  }

  send(msg) {
    if (this.live()) this.ws.send(JSON.stringify(msg));
  }

  connect() {
    this.onConnection('connecting');
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    let ws;
    try {
      ws = new WebSocket(`${proto}//${location.host}/api/v1/events`);
    } catch {
      this.reconnectLater();
      return;
    }
    this.ws = ws;
    ws.onopen = () => {
      this.attempts = 0;
      this.onConnection('live');
      clearTimeout(this.pollTimer);
      this.pollTimer = 0;
      for (const k of this.keys) this.send({ action: 'subscribe', audioKey: k });
      clearInterval(this.pingTimer);
      this.pingTimer = setInterval(() => this.send({ action: 'ping' }), PING_MS);
    };
    ws.onmessage = (m) => {
      let ev;
      try { ev = JSON.parse(m.data); } catch { return; }
      if (ev && ev.audioKey && this.keys.has(ev.audioKey)) this.onEvent(ev);
    };
    ws.onclose = () => {
      if (this.ws !== ws) return;
      this.ws = null;
      clearInterval(this.pingTimer);
      this.reconnectLater();
    };
    ws.onerror = () => { /* onclose follows */ };
  }

  reconnectLater() {
    const base = Math.min(MAX_BACKOFF_MS, 500 * 2 ** Math.min(this.attempts, 5));
    this.attempts++;
    setTimeout(() => this.connect(), base / 2 + Math.random() * base / 2);
    this.onConnection('polling');
    this.pollSoon(0);
  }

  pollSoon(ms) {
    if (this.pollTimer) return;
    this.pollTimer = setTimeout(() => this.poll(), ms);
  }

  async poll() {
    this.pollTimer = 0;
    if (this.live()) return;
    for (const key of [...this.keys]) {
      try {
        const doc = await api('GET', `/api/v1/consultations/${encodeURIComponent(key)}`);
        if (this.keys.has(key)) this.onEvent(docToEvent(doc));
      } catch { /* server away too: try again */ }
    }
    if (!this.live() && this.keys.size) this.pollSoon(POLL_MS);
  }
}

export function docToEvent(doc) {
  const key = doc.audio_key;
  switch (doc.status) {
    case 'completed': return { type: 'completed', audioKey: key, result: doc };
    case 'failed': return { type: 'failed', audioKey: key, reason: doc.error || 'processing failed' };
    case 'queued': return { type: 'queued', audioKey: key };
    case 'uploaded': return { type: 'uploaded', audioKey: key };
    default: return { type: 'progress', audioKey: key, stage: doc.status, percent: doc.stage_percent || 0 };
  }
}
