// Scribe's web page in a real headless Chromium (Debian's `chromium`,
// driven by playwright-core), against a real `scribe serve` (the build
// dir's binary, ASan or not) with one worker.  The microphone is Chromium's
// fake capture device fed by a flite-synthesised consultation.
//
//   record_upload_result   record -> parts upload -> live progress -> result
//                          (penicillin), evidence highlight, JSON export
//   layout                 desktop and tablet: panels present, not empty,
//                          not overlapping, no horizontal overflow
//   network_cut_resume     parts route aborted mid-upload, page reloaded:
//                          the upload resumes from IndexedDB, result arrives
//
// Exit 0 = pass, 1 = fail, 77 = skipped (no chromium, node deps, flite/sox).
// Screenshots: $SCRIBE_BINARY_DIR/browser-screenshots/.

import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const SRC = path.resolve(HERE, '../..');
const BIN_DIR = process.env.SCRIBE_BINARY_DIR || path.join(SRC, 'build');
const SCRIBE = process.env.SCRIBE_BIN || path.join(BIN_DIR, 'scribe');
const TMP_ROOT = process.env.SCRIBE_TEST_TMP || os.tmpdir();
const CHROMIUM = process.env.SCRIBE_CHROMIUM || '/usr/bin/chromium';
const SHOTS = path.join(BIN_DIR, 'browser-screenshots');
const PART_KB = 16; // small parts: a short recording gives several

const LINES = [
  ['slt', 'I have had a sore throat and a fever for three days.'],
  ['rms', 'It looks like a throat infection. I will prescribe penicillin five hundred milligrams three times a day for seven days.'],
  ['rms', 'Come back in two weeks if you are not better.'],
];

function skip(msg) {
  console.log(`SKIP: ${msg}`);
  process.exit(77);
}

function which(cmd) {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

// ---------------------------------------------------------------------
// Prerequisites

function loadPlaywright() {
  const req = createRequire(path.join(HERE, 'package.json'));
  const stamp = path.join(HERE, 'node_modules', '.scribe-lock');
  const lock = fs.readFileSync(path.join(HERE, 'package-lock.json'), 'utf8');
  let fresh = false;
  try { fresh = fs.readFileSync(stamp, 'utf8') === lock; } catch { /* not installed */ }
  if (!fresh) {
    console.log('npm ci (tests/browser/node_modules)…');
    const r = spawnSync('npm', ['ci', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: HERE, stdio: 'inherit' });
    if (r.status !== 0) skip('npm ci failed (no registry access?)');
    fs.writeFileSync(stamp, lock);
  }
  try {
    return req('playwright-core');
  } catch (e) {
    skip(`playwright-core unavailable: ${e.message}`);
  }
}

function makeAudio(dir) {
  const parts = [];
  LINES.forEach(([voice, text], i) => {
    const raw = path.join(dir, `line-${i}.wav`);
    const fixed = path.join(dir, `line-${i}-48k.wav`);
    let r = spawnSync('flite', ['-voice', voice, '-t', text, '-o', raw]);
    if (r.status !== 0) throw new Error('flite failed');
    r = spawnSync('sox', [raw, '-r', '48000', '-c', '1', '-b', '16', fixed, 'pad', '0', '0.4']);
    if (r.status !== 0) throw new Error('sox failed');
    parts.push(fixed);
  });
  const wav = path.join(dir, 'consultation.wav');
  const r = spawnSync('sox', [...parts, wav, 'pad', '0', '1.5']);
  if (r.status !== 0) throw new Error('sox failed');
  const info = spawnSync('soxi', ['-D', wav], { encoding: 'utf8' });
  return { wav, seconds: Number(info.stdout.trim()) || 12 };
}

// ---------------------------------------------------------------------
// The server

async function startServer(dataDir) {
  fs.mkdirSync(dataDir, { recursive: true });
  const portFile = path.join(dataDir, 'port');
  const log = fs.openSync(path.join(dataDir, 'serve.log'), 'w');
  const proc = spawn(SCRIBE, ['serve', '--data-dir', dataDir, '--host', '127.0.0.1', '--port', '0',
    '--workers', '1', '--log-level', 'debug'],
  { env: { ...process.env, SCRIBE_PORT_FILE: portFile }, stdio: ['ignore', log, log] });
  const deadline = Date.now() + 60000;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null) throw new Error(`scribe exited: ${fs.readFileSync(path.join(dataDir, 'serve.log'), 'utf8')}`);
    try {
      const t = fs.readFileSync(portFile, 'utf8').trim();
      if (t) return { proc, port: Number(t), base: `http://127.0.0.1:${t}`, log: path.join(dataDir, 'serve.log') };
    } catch { /* not yet */ }
    await sleep(50);
  }
  throw new Error('scribe did not start');
}

async function stopServer(srv) {
  if (!srv || srv.proc.exitCode !== null) return srv ? srv.proc.exitCode : 0;
  srv.proc.kill('SIGTERM');
  const t0 = Date.now();
  while (srv.proc.exitCode === null && Date.now() - t0 < 30000) await sleep(50);
  if (srv.proc.exitCode === null) { srv.proc.kill('SIGKILL'); throw new Error('scribe did not stop'); }
  return srv.proc.exitCode;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function assert(cond, msg) {
  if (!cond) throw new Error(`assertion failed: ${msg}`);
}

async function getJson(url) {
  const r = await fetch(url);
  return { status: r.status, body: await r.json().catch(() => null) };
}

// ---------------------------------------------------------------------
// Page helpers

function watchPage(page, name) {
  const problems = [];
  page.on('pageerror', (e) => problems.push(`${name}: page error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && !/Failed to load resource|ERR_INTERNET_DISCONNECTED|ERR_FAILED/.test(m.text())) {
      problems.push(`${name}: console error: ${m.text()}`);
    }
  });
  return problems;
}

async function shot(page, name) {
  fs.mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
}

// Records for `seconds` (the whole synthetic consultation), then stops.
async function record(page, seconds, patient) {
  await page.fill('#patient', patient);
  await page.click('#rec-start');
  await page.waitForFunction(() => document.querySelector('#rec-pause') && !document.querySelector('#rec-pause').disabled);
  // the level meter moves and the timer runs
  await page.waitForFunction(() => document.querySelector('#level').value > 0.01, null, { timeout: 10000 });
  await sleep(seconds * 1000);
  const timer = await page.textContent('#timer');
  assert(timer !== '00:00' && timer !== '0:00', `timer ran (${timer})`);
  await page.click('#rec-stop');
}

// Samples #v-stage until the result shows; returns the distinct texts seen.
async function waitForResult(page, timeoutMs) {
  const seen = [];
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const s = await page.evaluate(() => ({
      stage: document.querySelector('#v-progress').hidden ? null : document.querySelector('#v-stage').textContent,
      done: !document.querySelector('#v-result').hidden,
      failed: !document.querySelector('#v-failed').hidden ? document.querySelector('#v-reason').textContent : null,
    }));
    if (s.stage && seen[seen.length - 1] !== s.stage) seen.push(s.stage);
    if (s.failed) throw new Error(`processing failed: ${s.failed}`);
    if (s.done) return seen;
    await sleep(100);
  }
  throw new Error(`no result after ${timeoutMs} ms; stages seen: ${seen.join(' | ')}`);
}

async function medicationNames(page) {
  return page.$$eval('#f-meds tbody th button', (bs) => bs.map((b) => b.textContent.trim().toLowerCase()));
}

async function idbCount(page) {
  return page.evaluate(() => new Promise((resolve, reject) => {
    const r = indexedDB.open('scribe');
    r.onsuccess = () => {
      const db = r.result;
      if (!db.objectStoreNames.contains('recordings')) { resolve({ recordings: 0, chunks: 0 }); return; }
      const t = db.transaction(['recordings', 'chunks']);
      const a = t.objectStore('recordings').count();
      const b = t.objectStore('chunks').count();
      t.oncomplete = () => resolve({ recordings: a.result, chunks: b.result });
      t.onerror = () => reject(t.error);
    };
    r.onerror = () => reject(r.error);
  }));
}

// Boxes of the selectors: each present, visible, large enough and with
// text; pairs in `apart` must not overlap; no horizontal overflow.
async function checkLayout(page, label) {
  const sel = ['header.bar', '#rec-panel', '#list-panel', '#view-panel', '#fields', '.transcript-box', '#f-meds'];
  const info = await page.evaluate((sel) => {
    const out = {};
    for (const s of sel) {
      const e = document.querySelector(s);
      if (!e) { out[s] = null; continue; }
      const r = e.getBoundingClientRect();
      const st = getComputedStyle(e);
      out[s] = { x: r.left + scrollX, y: r.top + scrollY, w: r.width, h: r.height,
        visible: st.display !== 'none' && st.visibility !== 'hidden' && r.width > 0 && r.height > 0,
        text: e.innerText.trim().length };
    }
    const clipped = {};
    for (const s of ['.table-wrap', '#list', '#transcript']) {
      const e = document.querySelector(s);
      clipped[s] = !!e && e.scrollWidth > e.clientWidth + 1;
    }
    return { boxes: out, clipped, scrollW: document.documentElement.scrollWidth, innerW: innerWidth };
  }, sel);
  for (const s of sel) {
    const b = info.boxes[s];
    assert(b && b.visible, `${label}: ${s} visible`);
    assert(b.w >= 120 && b.h >= 40, `${label}: ${s} large enough (${Math.round(b.w)}x${Math.round(b.h)})`);
    assert(b.text >= 5, `${label}: ${s} not empty`);
  }
  const apart = [['#rec-panel', '#list-panel'], ['#rec-panel', '#view-panel'], ['#list-panel', '#view-panel'],
    ['#fields', '.transcript-box'], ['header.bar', '#rec-panel'], ['header.bar', '#view-panel']];
  for (const [a, b] of apart) {
    const A = info.boxes[a], B = info.boxes[b];
    const overlap = A.x < B.x + B.w - 1 && B.x < A.x + A.w - 1 && A.y < B.y + B.h - 1 && B.y < A.y + A.h - 1;
    assert(!overlap, `${label}: ${a} and ${b} do not overlap (${JSON.stringify(A)} ${JSON.stringify(B)})`);
  }
  // nothing clipped inside its scroll box (e.g. medication columns)
  for (const [s, b] of Object.entries(info.clipped)) assert(!b, `${label}: ${s} shows all its content`);
  assert(info.scrollW <= info.innerW + 1, `${label}: no horizontal overflow (${info.scrollW} > ${info.innerW})`);
  // every panel lies inside the viewport's width
  for (const s of sel) {
    const b = info.boxes[s];
    assert(b.x >= -1 && b.x + b.w <= info.innerW + 1, `${label}: ${s} within the page width`);
  }
}

// ---------------------------------------------------------------------
// Tests

async function testRecordUploadResult(ctx, srv, audio) {
  const page = await ctx.newPage();
  const problems = watchPage(page, 'record');
  await page.goto(`${srv.base}/?part_kb=${PART_KB}`);
  await page.waitForSelector('#conn.live');
  // the microphone list is filled once permission is known
  await record(page, audio.seconds - 0.5, 'MRN-BROWSER-1');
  await shot(page, 'record-01-stopped');
  const stages = await waitForResult(page, 150000);
  console.log(`  stages seen: ${stages.join(' | ')}`);
  assert(stages.some((s) => /%|Queued|Transcribing|Extracting|Decoding/.test(s)), 'live progress shown');
  await shot(page, 'record-02-result');
  const meds = await medicationNames(page);
  console.log(`  medications: ${meds.join(', ')}`);
  assert(meds.includes('penicillin'), 'penicillin in the medications table');
  const segs = await page.$$eval('#transcript li', (l) => l.length);
  assert(segs > 0, 'transcript segments shown');
  assert(/\d+:\d\d/.test(await page.textContent('#transcript li .t')), 'segment times shown');

  // evidence: keyboard-select the medication, its words are highlighted
  const btn = page.locator('#f-meds tbody th button', { hasText: /penicillin/i }).first();
  await btn.focus();
  await page.keyboard.press('Enter');
  assert((await btn.getAttribute('aria-pressed')) === 'true', 'item selected with the keyboard');
  const marked = await page.$$eval('#transcript mark', (m) => m.map((x) => x.textContent));
  console.log(`  evidence highlighted: ${JSON.stringify(marked)}`);
  assert(marked.length >= 1 && marked.every((t) => t.trim().length > 0), 'evidence highlighted in the transcript');
  assert(marked.join(' ').toLowerCase().includes('penicillin'), 'the highlight covers the drug name');
  await shot(page, 'record-03-evidence');

  // exports
  const [dl] = await Promise.all([page.waitForEvent('download'), page.click('#x-json')]);
  assert(/^consultation-[0-9a-f]{32}\.json$/.test(dl.suggestedFilename()), `download name ${dl.suggestedFilename()}`);
  const saved = path.join(TMP_ROOT, `browser-${Date.now()}.json`);
  await dl.saveAs(saved);
  const doc = JSON.parse(fs.readFileSync(saved, 'utf8'));
  fs.rmSync(saved);
  assert(doc.status === 'completed' && doc.patient_id === 'MRN-BROWSER-1', 'downloaded JSON is the document');
  await page.click('#x-copy');
  await page.waitForFunction(() => /Copied/.test(document.querySelector('#x-status').textContent));

  // the local copy is gone; the server keeps no parts; the list shows it
  const left = await idbCount(page);
  assert(left.recordings === 0 && left.chunks === 0, `local copy deleted (${JSON.stringify(left)})`);
  const list = await getJson(`${srv.base}/api/v1/consultations?status=completed`);
  assert(list.body.items.some((i) => i.audio_key === doc.audio_key), 'listed as completed');
  const parts = await getJson(`${srv.base}/api/v1/consultations/${doc.audio_key}/parts`);
  assert(parts.status === 200 && parts.body.parts.length === 0, 'parts deleted after completion');
  await page.click('#list-refresh');
  await page.waitForSelector(`#list button[data-id="${doc.audio_key}"]`);
  assert(problems.length === 0, problems.join('\n'));
  return page;
}

async function testLayout(page) {
  await page.setViewportSize({ width: 1366, height: 900 });
  await sleep(200);
  await checkLayout(page, 'desktop');
  await shot(page, 'layout-desktop');
  await page.setViewportSize({ width: 820, height: 1180 }); // tablet, portrait
  await sleep(200);
  await checkLayout(page, 'tablet');
  await shot(page, 'layout-tablet');
  // touch-sized controls on the tablet
  const small = await page.$$eval('#rec-panel button, .toolbar button', (bs) => bs
    .filter((b) => b.getBoundingClientRect().height < 36).map((b) => b.id || b.textContent));
  assert(small.length === 0, `buttons at least 36px high on a tablet: ${small.join(', ')}`);
  // every form control has a label
  const unlabelled = await page.$$eval('input, select, meter, progress', (els) => els
    .filter((e) => !(e.labels && e.labels.length) && !e.getAttribute('aria-label') && !e.getAttribute('aria-labelledby'))
    .map((e) => e.id));
  assert(unlabelled.length === 0, `labelled controls: ${unlabelled.join(', ')}`);
}

async function testNetworkCutResume(ctx, srv, audio) {
  const page = await ctx.newPage();
  const problems = watchPage(page, 'resume');
  await page.goto(`${srv.base}/?part_kb=${PART_KB}`);
  await page.waitForSelector('#conn.live');
  // the network to the parts route goes down after two parts
  let passed = 0, aborted = 0;
  const cut = async (route) => {
    if (route.request().method() === 'PUT' && passed < 2) { passed++; return route.continue(); }
    aborted++;
    return route.abort('internetdisconnected');
  };
  await page.route('**/api/v1/consultations/*/parts/**', cut);
  await record(page, audio.seconds - 0.5, 'MRN-BROWSER-2');
  await page.waitForFunction(() => /Connection lost/.test(document.querySelector('#rec-status').textContent), null, { timeout: 20000 });
  await shot(page, 'resume-01-offline');
  assert(aborted > 0 && passed === 2, `network cut (passed ${passed}, aborted ${aborted})`);
  const local = await idbCount(page);
  assert(local.recordings === 1 && local.chunks > 0, `recording kept on the device (${JSON.stringify(local)})`);
  const cid = await page.evaluate(() => new Promise((resolve) => {
    const r = indexedDB.open('scribe');
    r.onsuccess = () => {
      const q = r.result.transaction('recordings').objectStore('recordings').getAll();
      q.onsuccess = () => resolve(q.result[0].cid);
    };
  }));
  const held = await getJson(`${srv.base}/api/v1/consultations/${cid}/parts`);
  assert(held.body.parts.length === 2, `the server holds the first two parts (${held.body.parts.length})`);

  // network back, page reloaded: the upload resumes from IndexedDB
  await page.unroute('**/api/v1/consultations/*/parts/**', cut);
  await page.reload();
  await page.waitForFunction(() => /Resuming|Uploading|Uploaded|Finishing/.test(document.querySelector('#rec-status').textContent), null, { timeout: 15000 });
  await shot(page, 'resume-02-reloaded');
  const stages = await waitForResult(page, 150000);
  console.log(`  stages seen after reload: ${stages.join(' | ')}`);
  const meds = await medicationNames(page);
  console.log(`  medications: ${meds.join(', ')}`);
  assert(meds.includes('penicillin'), 'penicillin after the resumed upload');
  const shown = await page.evaluate(() => localStorage.getItem('scribe.current'));
  assert(shown === cid, 'the resumed consultation is the one shown');
  const left = await idbCount(page);
  assert(left.recordings === 0 && left.chunks === 0, `local copy deleted after completion (${JSON.stringify(left)})`);
  await shot(page, 'resume-03-result');
  assert(problems.length === 0, problems.join('\n'));
  await page.close();
}

// ---------------------------------------------------------------------

async function main() {
  if (!fs.existsSync(CHROMIUM)) skip(`${CHROMIUM} not installed (apt-get install chromium)`);
  for (const t of ['flite', 'sox', 'soxi']) if (!which(t)) skip(`${t} not installed`);
  if (!fs.existsSync(SCRIBE)) throw new Error(`${SCRIBE} not built`);
  const { chromium } = loadPlaywright();
  fs.mkdirSync(TMP_ROOT, { recursive: true });
  const dir = fs.mkdtempSync(path.join(TMP_ROOT, 'browser-'));
  const audio = makeAudio(dir);
  console.log(`audio: ${audio.seconds.toFixed(1)} s`);
  const srv = await startServer(path.join(dir, 'data'));
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream',
      `--use-file-for-fake-audio-capture=${audio.wav}`, '--autoplay-policy=no-user-gesture-required'],
  });
  const failures = [];
  const run = async (name, fn) => {
    const t0 = Date.now();
    try {
      await fn();
      console.log(`ok   ${name} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
    } catch (e) {
      console.log(`FAIL ${name}: ${e.stack || e}`);
      failures.push(name);
    }
  };
  try {
    const ctx = await browser.newContext({ viewport: { width: 1366, height: 900 }, acceptDownloads: true });
    await ctx.grantPermissions(['microphone', 'clipboard-read', 'clipboard-write'], { origin: srv.base });
    let page = null;
    await run('record_upload_result', async () => { page = await testRecordUploadResult(ctx, srv, audio); });
    await run('layout', async () => {
      if (!page) throw new Error('needs the result of record_upload_result');
      await testLayout(page);
    });
    if (page) await page.close();
    await ctx.close();
    // a fresh context: its own IndexedDB
    const ctx2 = await browser.newContext({ viewport: { width: 1366, height: 900 } });
    await ctx2.grantPermissions(['microphone'], { origin: srv.base });
    await run('network_cut_resume', () => testNetworkCutResume(ctx2, srv, audio));
    await ctx2.close();
  } finally {
    await browser.close();
    const rc = await stopServer(srv);
    if (rc !== 0) { console.log(`scribe exited with ${rc}`); failures.push('server_exit'); }
    if (failures.length) {
      console.log(`--- server log (${srv.log}) tail ---`);
      console.log(fs.readFileSync(srv.log, 'utf8').split('\n').slice(-60).join('\n'));
    } else {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
  console.log(`screenshots: ${SHOTS}`);
  if (failures.length) {
    console.log(`FAILED: ${failures.join(', ')}`);
    process.exit(1);
  }
  console.log('all browser tests passed');
}

main().catch((e) => {
  console.log(`FAIL: ${e.stack || e}`);
  process.exit(1);
});
