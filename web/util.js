// Small helpers shared by the page's modules.  Everything that puts text on
// the page goes through el()/textContent: untrusted text never becomes HTML.

export const $ = (id) => document.getElementById(id);

// el('li', { class: 'x', text: 'hello', attrs: { 'aria-label': 'y' } }, child, ...)
export function el(tag, opts = {}, ...children) {
  const e = document.createElement(tag);
  if (opts.class) e.className = opts.class;
  if (opts.text !== undefined && opts.text !== null) e.textContent = String(opts.text);
  for (const [k, v] of Object.entries(opts.attrs || {})) {
    if (v !== undefined && v !== null && v !== false) e.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children) if (c !== null && c !== undefined) e.append(c);
  return e;
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// 83.4 -> "1:23"
export function clock(seconds) {
  const s = Math.max(0, Math.floor(Number(seconds) || 0));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
  const mm = h ? String(m).padStart(2, '0') : String(m);
  return `${h ? `${h}:` : ''}${mm}:${String(sec).padStart(2, '0')}`;
}

export function dash(v) {
  return v === null || v === undefined || v === '' ? '—' : String(v);
}

export function when(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  return d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

// An error from the API: status, stable code, message for people, body.
export class ApiError extends Error {
  constructor(status, code, message, body) {
    super(message);
    this.status = status;
    this.code = code;
    this.body = body;
  }
  // Worth retrying later (server busy or restarting); network errors are
  // TypeErrors from fetch and are retried too.
  get transient() {
    return this.status >= 500 || this.status === 408 || this.status === 429;
  }
}

export function isTransient(err) {
  return err instanceof TypeError || (err instanceof ApiError && err.transient);
}

// fetch + JSON + the API's error shape.
export async function api(method, path, { json, body, headers = {}, signal } = {}) {
  const opts = { method, headers: { ...headers }, signal, cache: 'no-store' };
  if (json !== undefined) {
    opts.headers['Content-Type'] = 'application/json';
    opts.body = JSON.stringify(json);
  } else if (body !== undefined) {
    opts.body = body;
  }
  const res = await fetch(path, opts);
  let data = null;
  if (res.status !== 204) data = await res.json().catch(() => null);
  if (!res.ok) {
    const e = data && data.error ? data.error : {};
    throw new ApiError(res.status, e.code || 'http_' + res.status,
      e.message || res.statusText || 'request failed', data);
  }
  return data;
}

export function hex(buffer) {
  return [...new Uint8Array(buffer)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

export function newId() {
  if (globalThis.crypto && crypto.randomUUID) {
    try { return crypto.randomUUID(); } catch { /* insecure context */ }
  }
  return `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 12)}`;
}

export const STATUS_LABEL = {
  uploaded: 'Waiting for the audio',
  queued: 'Queued',
  decoding: 'Decoding audio',
  transcribing: 'Transcribing',
  extracting: 'Extracting clinical facts',
  completed: 'Completed',
  failed: 'Failed',
};
