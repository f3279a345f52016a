// Scribe's minimal page: record or choose a file, upload through the native
// API, follow progress over the WebSocket, show the result.  Untrusted text
// is only ever inserted with textContent.
const $ = (id) => document.getElementById(id);
const statusEl = $('status'), progressEl = $('progress');
let recorder = null, chunks = [], timerId = 0, startedAt = 0, ws = null, currentKey = null;

function setStatus(text, isError = false) {
  statusEl.textContent = text;
  statusEl.classList.toggle('error', isError);
}

async function api(method, path, body) {
  const opts = { method, headers: {} };
  if (body !== undefined) {
    opts.headers['Content-Type'] = 'application/json';
    opts.body = JSON.stringify(body);
  }
  const res = await fetch(path, opts);
  const data = res.status === 204 ? null : await res.json().catch(() => null);
  if (!res.ok) {
    const msg = data && data.error ? data.error.message : res.statusText;
    throw new Error(msg);
  }
  return data;
}

async function uploadBlob(blob, filename) {
  $('result-panel').hidden = true;
  progressEl.hidden = false;
  progressEl.value = 0;
  setStatus('Creating consultation…');
  const patient = $('patient').value.trim();
  const created = await api('POST', '/api/v1/consultations',
    { patient_id: patient || null, filename: filename || null });
  currentKey = created.id;
  subscribe(currentKey);
  setStatus('Uploading…');
  const res = await fetch(created.upload_url, { method: 'PUT', body: blob });
  if (!res.ok) {
    const data = await res.json().catch(() => null);
    throw new Error(data && data.error ? data.error.message : 'upload failed');
  }
  setStatus('Uploaded; waiting for a worker…');
  pollFallback(currentKey);
}

function connect() {
  return new Promise((resolve) => {
    if (ws && ws.readyState === WebSocket.OPEN) return resolve(ws);
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    ws = new WebSocket(`${proto}//${location.host}/api/v1/events`);
    ws.onopen = () => resolve(ws);
    ws.onmessage = (m) => {
      let ev;
      try { ev = JSON.parse(m.data); } catch { return; }
      if (ev.audioKey !== currentKey) return;
      onEvent(ev);
    };
    ws.onclose = () => { ws = null; };
  });
}

async function subscribe(key) {
  const sock = await connect();
  sock.send(JSON.stringify({ action: 'subscribe', audioKey: key }));
}

function onEvent(ev) {
  if (ev.type === 'queued') setStatus('Queued…');
  else if (ev.type === 'progress') {
    setStatus(`${ev.stage[0].toUpperCase()}${ev.stage.slice(1)}… ${ev.percent}%`);
    progressEl.value = ev.percent;
  } else if (ev.type === 'completed') {
    progressEl.value = 100;
    setStatus('Completed.');
    showResult(ev.result);
  } else if (ev.type === 'failed') {
    setStatus(`Failed: ${ev.reason}`, true);
    progressEl.hidden = true;
  }
}

// If the WebSocket is unavailable, poll the result every 2 s.
function pollFallback(key) {
  const tick = async () => {
    if (key !== currentKey || statusEl.textContent.startsWith('Completed')) return;
    if (!ws) {
      const res = await fetch(`/api/v1/consultations/${encodeURIComponent(key)}`);
      if (res.ok) {
        const doc = await res.json();
        if (doc.status === 'completed') { onEvent({ type: 'completed', result: doc }); return; }
        if (doc.status === 'failed') { onEvent({ type: 'failed', reason: doc.error }); return; }
      }
    }
    setTimeout(tick, 2000);
  };
  setTimeout(tick, 2000);
}

function text(v) { return v === null || v === undefined || v === '' ? '—' : String(v); }

function showResult(doc) {
  $('result-panel').hidden = false;
  $('r-diagnosis').textContent = text(doc.diagnosis);
  $('r-followup').textContent = text(doc.follow_up);
  $('r-allergies').textContent = (doc.allergies || []).map((a) => a.substance).join(', ') ||
    (doc.allergies_stated === 'none' ? 'No known allergies' : '—');
  $('r-negations').textContent = (doc.negations || []).map((n) => n.finding).join(', ') || '—';
  const tbody = $('r-meds').querySelector('tbody');
  tbody.replaceChildren();
  for (const m of doc.medications || []) {
    const tr = document.createElement('tr');
    for (const v of [m.name, m.text, m.dose, m.route, m.frequency, m.duration, m.status]) {
      const td = document.createElement('td');
      td.textContent = text(v);
      tr.append(td);
    }
    tbody.append(tr);
  }
  const ol = $('r-transcript');
  ol.replaceChildren();
  for (const s of doc.segments || []) {
    const li = document.createElement('li');
    const t = document.createElement('span');
    t.className = 't';
    t.textContent = `${Math.floor(s.start / 60)}:${String(Math.floor(s.start % 60)).padStart(2, '0')}`;
    li.append(t, document.createTextNode(s.text));
    ol.append(li);
  }
  $('r-json').href = `/api/v1/consultations/${encodeURIComponent(doc.audio_key)}`;
}

$('record').addEventListener('click', async () => {
  try {
    const stream = await navigator.mediaDevices.getUserMedia({ audio: true });
    const type = MediaRecorder.isTypeSupported('audio/webm;codecs=opus') ? 'audio/webm;codecs=opus' : '';
    recorder = new MediaRecorder(stream, type ? { mimeType: type } : {});
    chunks = [];
    recorder.ondataavailable = (e) => { if (e.data.size) chunks.push(e.data); };
    recorder.onstop = async () => {
      stream.getTracks().forEach((t) => t.stop());
      clearInterval(timerId);
      const blob = new Blob(chunks, { type: recorder.mimeType || 'audio/webm' });
      try { await uploadBlob(blob, 'recording.webm'); } catch (e) { setStatus(e.message, true); }
    };
    recorder.start(1000);
    startedAt = Date.now();
    timerId = setInterval(() => {
      const s = Math.floor((Date.now() - startedAt) / 1000);
      $('timer').textContent = `${String(Math.floor(s / 60)).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
    }, 500);
    $('record').disabled = true;
    $('stop').disabled = false;
    setStatus('Recording…');
  } catch (e) {
    setStatus(`Microphone unavailable: ${e.message}`, true);
  }
});

$('stop').addEventListener('click', () => {
  $('stop').disabled = true;
  $('record').disabled = false;
  if (recorder && recorder.state !== 'inactive') recorder.stop();
});

$('file').addEventListener('change', () => { $('upload').disabled = !$('file').files.length; });
$('upload').addEventListener('click', async () => {
  const f = $('file').files[0];
  if (!f) return;
  try { await uploadBlob(f, f.name); } catch (e) { setStatus(e.message, true); }
});
