// Resumable upload of the recordings kept in IndexedDB (store.js), through
// the server's numbered parts (docs/api.md, "Resumable upload"):
//   part n = bytes [n*P, (n+1)*P) of the recording's chunks put end to end,
// so the split is the same after a reload.  Full parts go up while the
// recording is still running; the last one after Stop.  Before sending, the
// uploader asks the server which parts it already holds (with their
// SHA-256) and skips those; every part carries X-Checksum-SHA256.  Network
// errors and 5xx answers are retried with backoff for as long as it takes;
// the local copy is deleted only after POST .../parts/complete answered.

import * as store from './store.js';
import { api, ApiError, hex, isTransient } from './util.js';

const DEFAULT_PART = 1024 * 1024;
const MAX_BACKOFF_MS = 30000;

function partSizeFromPage() {
  // ?part_kb=N (tests, slow links); bounded by the server's own limit later
  const v = Number(new URLSearchParams(location.search).get('part_kb'));
  if (Number.isFinite(v) && v >= 4) return Math.floor(v) * 1024;
  return DEFAULT_PART;
}

async function sha256(buf) {
  if (!globalThis.crypto || !crypto.subtle) return null; // insecure context: size only
  return hex(await crypto.subtle.digest('SHA-256', buf));
}

const partsPath = (cid) => `/api/v1/consultations/${encodeURIComponent(cid)}/parts`;

export class Uploader {
  // hooks: onState(rid, state) with state = { phase, sent, total, error,
  //        retryIn, cid }; onCompleted(rid, cid, rec)
  constructor(hooks) {
    this.hooks = hooks;
    this.jobs = new Map(); // rid -> job
    this.partSize = partSizeFromPage();
    addEventListener('online', () => this.retryAll());
  }

  job(rid) {
    let j = this.jobs.get(rid);
    if (!j) {
      j = { rid, final: false, running: false, again: false, sent: new Map(), server: null,
        attempts: 0, timer: 0, stopped: false };
      this.jobs.set(rid, j);
    }
    return j;
  }

  // Something changed for rid (a chunk was stored, recording stopped, the
  // network came back): upload what can be uploaded.
  // While a retry is scheduled (backoff), only `force` starts at once.
  kick(rid, final = false, force = false) {
    const j = this.job(rid);
    if (final) j.final = true;
    if (j.timer && !force) return;
    j.stopped = false;
    if (j.running) { j.again = true; return; }
    clearTimeout(j.timer);
    j.timer = 0;
    this.run(j);
  }

  retryAll() {
    for (const j of this.jobs.values()) if (!j.running) { j.attempts = 0; this.kick(j.rid, false, true); }
  }

  // User's "retry now": forget what failed, start at once.
  retry(rid) {
    const j = this.job(rid);
    j.attempts = 0;
    j.server = null;
    this.kick(rid, true, true);
  }

  state(j, s) {
    this.hooks.onState?.(j.rid, s);
  }

  async run(j) {
    j.running = true;
    try {
      do {
        j.again = false;
        await this.step(j);
      } while (j.again);
      j.attempts = 0;
    } catch (err) {
      if (isTransient(err)) {
        const wait = Math.min(MAX_BACKOFF_MS, 1000 * 2 ** Math.min(j.attempts, 5));
        j.attempts++;
        j.server = null; // ask again after the outage: the server may have restarted
        this.state(j, { phase: 'offline', retryIn: wait, error: err.message });
        j.timer = setTimeout(() => { j.timer = 0; this.kick(j.rid, false, true); }, wait);
      } else {
        j.stopped = true;
        const rec = await store.getRecording(j.rid).catch(() => null);
        if (rec) { rec.error = err.message; await store.putRecording(rec).catch(() => {}); }
        this.state(j, { phase: 'error', error: err.message });
      }
    } finally {
      j.running = false;
    }
  }

  async ensureConsultation(rec) {
    if (rec.cid) return rec.cid;
    const created = await api('POST', '/api/v1/consultations',
      { json: { patient_id: rec.patient_id || null, filename: rec.filename || null } });
    rec.cid = created.id;
    await store.putRecording(rec);
    return rec.cid;
  }

  // What the server holds: n -> { size, sha256 }.
  async serverParts(cid) {
    const data = await api('GET', partsPath(cid));
    const m = new Map();
    for (const p of data.parts || []) m.set(p.n, p);
    return { parts: m, status: data.status, partMax: data.part_max_bytes };
  }

  async step(j) {
    const rec = await store.getRecording(j.rid);
    if (!rec) return; // deleted meanwhile
    if (rec.state === 'stopped') j.final = true;
    const cid = await this.ensureConsultation(rec);
    if (!j.server) {
      try {
        j.server = await this.serverParts(cid);
      } catch (err) {
        if (err instanceof ApiError && err.status === 404) {
          // the consultation was deleted on the server: start a new one
          rec.cid = null;
          await store.putRecording(rec);
          j.sent.clear();
          throw new ApiError(503, 'recreate', 'consultation recreated', null);
        }
        throw err;
      }
      j.sent.clear();
      if (j.server.status !== 'uploaded' && j.server.status !== 'failed') {
        // completed earlier (the answer was lost): nothing left to send
        await this.finish(j, rec, cid);
        return;
      }
    }
    const P = Math.min(this.partSize, j.server.partMax || this.partSize);
    const blobs = await store.getChunks(rec.rid);
    const whole = new Blob(blobs, { type: rec.mime || '' });
    const total = whole.size;
    const nparts = j.final ? Math.max(1, Math.ceil(total / P)) : Math.floor(total / P);
    if (j.final && total === 0) throw new ApiError(400, 'empty', 'the recording is empty', null);
    for (let n = 0; n < nparts; n++) {
      if (j.sent.has(n)) continue;
      const buf = await whole.slice(n * P, Math.min(total, (n + 1) * P)).arrayBuffer();
      const sum = await sha256(buf);
      const have = j.server.parts.get(n);
      if (have && have.size === buf.byteLength && (!sum || have.sha256 === sum)) {
        j.sent.set(n, sum);
        continue;
      }
      this.state(j, { phase: 'uploading', sent: j.sent.size, total: nparts, final: j.final, cid });
      const headers = { 'Content-Type': 'application/octet-stream' };
      if (sum) headers['X-Checksum-SHA256'] = sum;
      await api('PUT', `${partsPath(cid)}/${n}`, { body: buf, headers });
      j.sent.set(n, sum);
      j.server.parts.set(n, { n, size: buf.byteLength, sha256: sum });
    }
    this.state(j, { phase: j.final ? 'completing' : 'recording', sent: j.sent.size, total: nparts, cid });
    if (!j.final) return;
    try {
      await api('POST', `${partsPath(cid)}/complete`, { json: { parts: nparts } });
    } catch (err) {
      if (err instanceof ApiError && err.code === 'missing_parts') {
        j.server = null; // the server lost or dropped some: ask again, send them
        j.again = true;
        return;
      }
      throw err;
    }
    await this.finish(j, rec, cid);
  }

  async finish(j, rec, cid) {
    await store.deleteRecording(rec.rid);
    this.jobs.delete(rec.rid);
    this.state(j, { phase: 'done', cid });
    this.hooks.onCompleted?.(rec.rid, cid, rec);
  }
}
