// Scribe's clinician page: record (or choose a file), keep every recording
// on the device until the server has it (store.js, upload.js), follow the
// processing live (events.js), review and export the result (review.js),
// browse consultations.  See docs/web.md.

import * as store from './store.js';
import { Uploader } from './upload.js';
import { Events, docToEvent } from './events.js';
import * as review from './review.js';
import { $, el, api, clock, when, newId, STATUS_LABEL } from './util.js';

const state = {
  current: null,      // id of the consultation on view
  doc: null,          // its last document
  rec: null,          // the recording in progress: { rid, mr, stream, seq, chain, ... }
  lastRid: null,      // the recording whose upload the status line follows
  listCursor: null,
  listItems: [],
};

/* ------------------------------------------------------------------ */
/* Status lines                                                        */

function recStatus(text, isError = false) {
  $('rec-status').textContent = text;
  $('rec-status').classList.toggle('error', isError);
}

function conn(s) {
  const c = $('conn');
  c.textContent = s === 'live' ? 'Live updates' : s === 'connecting' ? 'Connecting…' : 'Reconnecting (polling)';
  c.className = `conn ${s === 'live' ? 'live' : 'down'}`;
}

/* ------------------------------------------------------------------ */
/* Uploads                                                             */

const uploads = new Map(); // rid -> last upload state, for the pending list

const uploader = new Uploader({
  onState(rid, s) {
    uploads.set(rid, s);
    const mine = state.lastRid === rid;
    if (mine) showUploadState(s);
    renderPending();
  },
  onCompleted(rid, cid) {
    uploads.delete(rid);
    renderPending();
    if (state.lastRid === rid || !state.current) {
      $('up-bar').hidden = true;
      recStatus('Uploaded. Processing…');
      openConsultation(cid, { focus: false });
    }
    refreshList();
  },
});

function showUploadState(s) {
  const bar = $('up-bar');
  if (s.phase === 'uploading' || s.phase === 'completing') {
    if (state.rec) return; // while recording the timer says enough
    bar.hidden = false;
    bar.value = s.total ? Math.round((100 * s.sent) / s.total) : 0;
    recStatus(s.phase === 'completing' ? 'Finishing the upload…' : `Uploading part ${s.sent + 1} of ${s.total}…`);
  } else if (s.phase === 'offline') {
    recStatus(`Connection lost; the recording is safe on this device. Retrying in ${Math.round(s.retryIn / 1000)} s…`, true);
  } else if (s.phase === 'error') {
    bar.hidden = true;
    recStatus(`Upload failed: ${s.error}`, true);
  }
}

async function renderPending() {
  let recs = [];
  try { recs = await store.listRecordings(); } catch { /* no IndexedDB */ }
  recs = recs.filter((r) => !state.rec || r.rid !== state.rec.rid);
  const ul = $('pending-list');
  ul.replaceChildren();
  for (const r of recs) {
    const s = uploads.get(r.rid) || {};
    const what = `${r.patient_id || 'No identifier'} · ${when(new Date(r.created).toISOString())}`;
    const detail = s.phase === 'uploading' ? ` · part ${s.sent + 1} of ${s.total}`
      : s.phase === 'offline' ? ' · waiting for the network' : s.phase === 'completing' ? ' · finishing' : '';
    const li = el('li', {}, el('span', { class: 'what', text: what + detail }));
    const retry = el('button', { text: 'Retry now', attrs: { type: 'button' } });
    retry.addEventListener('click', () => uploader.retry(r.rid));
    li.append(retry);
    const err = s.phase === 'error' ? s.error : r.error;
    if (err && s.phase !== 'uploading') li.append(el('span', { class: 'err', text: err }));
    ul.append(li);
  }
  $('pending').hidden = recs.length === 0;
}

/* ------------------------------------------------------------------ */
/* Recording                                                           */

function pickMime() {
  const types = ['audio/webm;codecs=opus', 'audio/ogg;codecs=opus', 'audio/mp4;codecs=mp4a.40.2', 'audio/mp4', 'audio/webm'];
  for (const t of types) if (globalThis.MediaRecorder && MediaRecorder.isTypeSupported(t)) return t;
  return '';
}

function extFor(mime) {
  if (mime.includes('ogg')) return 'ogg';
  if (mime.includes('mp4')) return 'm4a';
  return 'webm';
}

async function listMics() {
  if (!navigator.mediaDevices || !navigator.mediaDevices.enumerateDevices) return;
  const sel = $('mic');
  const keep = sel.value;
  const devices = (await navigator.mediaDevices.enumerateDevices()).filter((d) => d.kind === 'audioinput');
  sel.replaceChildren(el('option', { text: 'Default microphone', attrs: { value: '' } }));
  devices.forEach((d, i) => {
    if (d.deviceId === 'default' || !d.deviceId) return;
    sel.append(el('option', { text: d.label || `Microphone ${i + 1}`, attrs: { value: d.deviceId } }));
  });
  if ([...sel.options].some((o) => o.value === keep)) sel.value = keep;
}

function startMeter(r) {
  try {
    const Ctx = globalThis.AudioContext || globalThis.webkitAudioContext;
    r.audioCtx = new Ctx();
    const src = r.audioCtx.createMediaStreamSource(r.stream);
    const an = r.audioCtx.createAnalyser();
    an.fftSize = 1024;
    src.connect(an);
    const buf = new Float32Array(an.fftSize);
    const tick = () => {
      if (state.rec !== r) return;
      an.getFloatTimeDomainData(buf);
      let sum = 0;
      for (const v of buf) sum += v * v;
      $('level').value = r.paused ? 0 : Math.min(1, Math.sqrt(sum / buf.length) * 4);
      r.raf = requestAnimationFrame(tick);
    };
    tick();
  } catch { /* no Web Audio: no meter */ }
}

function elapsed(r) {
  return r.accumulated + (r.paused ? 0 : Date.now() - r.resumedAt);
}

async function startRecording() {
  if (state.rec) return;
  if (!navigator.mediaDevices || !globalThis.MediaRecorder) {
    recStatus('This browser cannot record audio here (it needs HTTPS or localhost). Choose a file instead.', true);
    return;
  }
  const deviceId = $('mic').value;
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({ audio: deviceId ? { deviceId: { exact: deviceId } } : true });
  } catch (e) {
    recStatus(`Microphone unavailable: ${e.message}`, true);
    return;
  }
  listMics().catch(() => {});
  const mime = pickMime();
  const rec = { rid: newId(), created: Date.now(), patient_id: $('patient').value.trim() || null,
    mime: mime || 'audio/webm', filename: `recording.${extFor(mime)}`, state: 'recording', cid: null };
  try {
    await store.putRecording(rec);
  } catch (e) {
    stream.getTracks().forEach((t) => t.stop());
    recStatus(`Cannot keep the recording on this device: ${e.message}`, true);
    return;
  }
  const mr = new MediaRecorder(stream, mime ? { mimeType: mime, audioBitsPerSecond: 32000 } : {});
  const r = { rid: rec.rid, mr, stream, seq: 0, chain: Promise.resolve(), paused: false,
    accumulated: 0, resumedAt: Date.now(), timer: 0, raf: 0, audioCtx: null };
  state.rec = r;
  state.lastRid = rec.rid;
  mr.ondataavailable = (e) => {
    if (!e.data || !e.data.size) return;
    const seq = r.seq++;
    r.chain = r.chain.then(() => store.addChunk(r.rid, seq, e.data))
      .then(() => uploader.kick(r.rid, false))
      .catch((err) => recStatus(`Could not save audio on this device: ${err.message}`, true));
  };
  mr.onstop = () => {
    r.chain.then(async () => {
      const saved = await store.getRecording(r.rid);
      if (saved) { saved.state = 'stopped'; await store.putRecording(saved); }
      uploader.kick(r.rid, true);
    });
  };
  mr.start(1000);
  r.timer = setInterval(() => { $('timer').textContent = clock(elapsed(r) / 1000); }, 250);
  startMeter(r);
  $('rec-start').disabled = true;
  $('rec-start').classList.add('recording');
  $('rec-start').textContent = 'Recording';
  $('rec-pause').disabled = false;
  $('rec-stop').disabled = false;
  $('mic').disabled = true;
  $('file-upload').disabled = true;
  $('up-bar').hidden = true;
  recStatus('Recording. Audio is saved on this device as you speak.');
  $('rec-pause').focus();
}

function togglePause() {
  const r = state.rec;
  if (!r) return;
  if (!r.paused) {
    r.mr.pause();
    r.accumulated += Date.now() - r.resumedAt;
    r.paused = true;
    $('rec-pause').textContent = 'Resume';
    recStatus('Paused.');
  } else {
    r.mr.resume();
    r.resumedAt = Date.now();
    r.paused = false;
    $('rec-pause').textContent = 'Pause';
    recStatus('Recording. Audio is saved on this device as you speak.');
  }
}

function stopRecording() {
  const r = state.rec;
  if (!r) return;
  if (r.mr.state !== 'inactive') r.mr.stop();
  r.stream.getTracks().forEach((t) => t.stop());
  clearInterval(r.timer);
  cancelAnimationFrame(r.raf);
  if (r.audioCtx) r.audioCtx.close().catch(() => {});
  state.rec = null;
  $('level').value = 0;
  $('rec-start').disabled = false;
  $('rec-start').classList.remove('recording');
  $('rec-start').textContent = 'Record';
  $('rec-pause').disabled = true;
  $('rec-pause').textContent = 'Pause';
  $('rec-stop').disabled = true;
  $('mic').disabled = false;
  $('file-upload').disabled = !$('file').files.length;
  recStatus('Stopped. Uploading…');
  $('rec-start').focus();
}

async function uploadFile() {
  const f = $('file').files[0];
  if (!f) return;
  const rec = { rid: newId(), created: Date.now(), patient_id: $('patient').value.trim() || null,
    mime: f.type || 'application/octet-stream', filename: f.name.slice(0, 200) || 'audio', state: 'stopped', cid: null };
  try {
    await store.addChunk(rec.rid, 0, f);
    await store.putRecording(rec);
  } catch (e) {
    recStatus(`Cannot keep the file on this device: ${e.message}`, true);
    return;
  }
  state.lastRid = rec.rid;
  $('file').value = '';
  $('file-upload').disabled = true;
  recStatus('Uploading…');
  uploader.kick(rec.rid, true);
}

/* ------------------------------------------------------------------ */
/* The consultation on view                                            */

const events = new Events(onEvent, conn);

function showStage(type, stage, percent, reason) {
  $('v-empty').hidden = true;
  const done = type === 'completed';
  $('v-progress').hidden = done;
  $('v-result').hidden = !done;
  $('v-failed').hidden = type !== 'failed';
  if (done) return;
  const label = type === 'failed' ? STATUS_LABEL.failed
    : type === 'queued' ? 'Queued — waiting for a worker'
      : type === 'uploaded' ? 'Waiting for the audio upload'
        : `${STATUS_LABEL[stage] || stage}…`;
  $('v-stage').textContent = type === 'progress' ? `${label} ${percent}%` : label;
  $('v-bar').value = type === 'progress' ? percent : type === 'failed' ? 0 : $('v-bar').value;
  $('v-bar').hidden = type === 'failed';
  if (type === 'failed') $('v-reason').textContent = reason || 'unknown reason';
}

function showMeta(d) {
  const bits = [d.patient_id ? `Patient ${d.patient_id}` : 'No patient identifier'];
  if (d.created_at) bits.push(when(d.created_at));
  $('v-meta').textContent = bits.join(' · ');
}

function onEvent(ev) {
  if (ev.audioKey !== state.current) return;
  if (ev.type === 'completed' && ev.result) {
    state.doc = ev.result;
    showMeta(ev.result);
    review.render(ev.result);
    showStage('completed');
    if (state.lastRid && $('rec-status').textContent.startsWith('Uploaded')) recStatus('Ready.');
    markListStatus(ev.audioKey, 'completed');
  } else if (ev.type === 'failed') {
    showStage('failed', null, 0, ev.reason);
    markListStatus(ev.audioKey, 'failed');
  } else if (ev.type === 'progress') {
    showStage('progress', ev.stage, Math.max(0, Math.min(100, ev.percent | 0)));
  } else if (ev.type === 'queued' || ev.type === 'uploaded') {
    showStage(ev.type);
  }
}

async function openConsultation(id, { focus = true } = {}) {
  if (state.current && state.current !== id) events.unwatch(state.current);
  state.current = id;
  state.doc = null;
  localStorage.setItem('scribe.current', id);
  $('v-meta').textContent = '';
  for (const b of $('list').querySelectorAll('button')) b.setAttribute('aria-current', String(b.dataset.id === id));
  showStage('queued');
  events.watch(id);
  try {
    const doc = await api('GET', `/api/v1/consultations/${encodeURIComponent(id)}`);
    if (state.current !== id) return;
    showMeta(doc);
    onEvent(docToEvent(doc));
  } catch (e) {
    if (e.status === 404) {
      $('v-stage').textContent = 'This consultation no longer exists.';
      localStorage.removeItem('scribe.current');
    }
  }
  if (focus) $('view-panel').focus();
}

async function retryProcessing() {
  const id = state.current;
  if (!id) return;
  $('v-retry').disabled = true;
  try {
    await api('POST', `/api/v1/consultations/${encodeURIComponent(id)}/complete`);
    showStage('queued');
  } catch (e) {
    $('v-reason').textContent = `retry failed: ${e.message}`;
  } finally {
    $('v-retry').disabled = false;
  }
}

/* ------------------------------------------------------------------ */
/* Exports                                                             */

function exportStatus(t) {
  $('x-status').textContent = t;
  setTimeout(() => { if ($('x-status').textContent === t) $('x-status').textContent = ''; }, 4000);
}

async function copyText() {
  if (!state.doc) return;
  const text = review.asText(state.doc);
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    const ta = el('textarea', { attrs: { 'aria-hidden': 'true' } });
    ta.value = text;
    ta.className = 'sr-only';
    document.body.append(ta);
    ta.select();
    document.execCommand('copy');
    ta.remove();
  }
  exportStatus('Copied to the clipboard.');
}

function downloadJson() {
  if (!state.doc) return;
  const blob = new Blob([JSON.stringify(state.doc, null, 2)], { type: 'application/json' });
  const url = URL.createObjectURL(blob);
  const a = el('a', { attrs: { href: url, download: `consultation-${state.doc.audio_key}.json` } });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
  exportStatus('JSON downloaded.');
}

/* ------------------------------------------------------------------ */
/* Consultation list                                                   */

function markListStatus(id, status) {
  const it = state.listItems.find((x) => x.audio_key === id);
  if (it && it.status !== status) { it.status = status; renderList(); }
}

function renderList() {
  const q = $('search').value.trim().toLowerCase();
  const ul = $('list');
  ul.replaceChildren();
  const items = state.listItems.filter((it) => !q || (it.patient_id || '').toLowerCase().includes(q) || it.audio_key.includes(q));
  for (const it of items) {
    const b = el('button', { attrs: { type: 'button', 'data-id': it.audio_key, 'aria-current': String(it.audio_key === state.current) } },
      el('span', { class: 'who', text: it.patient_id || 'No patient identifier' }),
      el('span', { class: `pill ${it.status}`, text: STATUS_LABEL[it.status] || it.status }),
      el('span', { class: 'when', text: when(it.created_at) }));
    b.addEventListener('click', () => openConsultation(it.audio_key));
    ul.append(el('li', {}, b));
  }
  $('list-empty').hidden = items.length > 0;
  $('list-more').hidden = !state.listCursor;
}

async function refreshList(more = false) {
  const params = new URLSearchParams({ limit: '25' });
  if ($('status-filter').value) params.set('status', $('status-filter').value);
  if (more && state.listCursor) params.set('cursor', state.listCursor);
  try {
    const data = await api('GET', `/api/v1/consultations?${params}`);
    state.listItems = more ? state.listItems.concat(data.items) : data.items;
    state.listCursor = data.next_cursor;
    renderList();
  } catch (e) {
    $('list-empty').hidden = false;
    $('list-empty').textContent = `Cannot load the list: ${e.message}`;
  }
}

/* ------------------------------------------------------------------ */
/* Start                                                               */

function wire() {
  $('rec-start').addEventListener('click', startRecording);
  $('rec-pause').addEventListener('click', togglePause);
  $('rec-stop').addEventListener('click', stopRecording);
  $('file').addEventListener('change', () => { $('file-upload').disabled = !$('file').files.length || !!state.rec; });
  $('file-upload').addEventListener('click', uploadFile);
  $('v-retry').addEventListener('click', retryProcessing);
  $('x-copy').addEventListener('click', copyText);
  $('x-json').addEventListener('click', downloadJson);
  $('x-print').addEventListener('click', () => window.print());
  $('search').addEventListener('input', renderList);
  $('status-filter').addEventListener('change', () => refreshList());
  $('list-refresh').addEventListener('click', () => refreshList());
  $('list-more').addEventListener('click', () => refreshList(true));
  addEventListener('beforeunload', (e) => {
    if (state.rec) { e.preventDefault(); e.returnValue = ''; }
  });
}

async function resumePending() {
  let recs = [];
  try { recs = await store.listRecordings(); } catch (e) {
    recStatus(`Recordings cannot be kept on this device: ${e.message}`, true);
    return;
  }
  for (const r of recs) {
    if (r.state === 'recording') { // the page went away while recording
      r.state = 'stopped';
      await store.putRecording(r);
    }
    state.lastRid = r.rid;
    uploader.kick(r.rid, true);
  }
  if (recs.length) recStatus(`Resuming ${recs.length === 1 ? 'an upload' : `${recs.length} uploads`} kept on this device…`);
  renderPending();
}

wire();
listMics().catch(() => {});
refreshList();
resumePending();
const last = localStorage.getItem('scribe.current');
if (last) openConsultation(last, { focus: false });
