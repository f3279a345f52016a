// The device's copy of every recording until the server confirms it: an
// IndexedDB database with two stores.
//   recordings  { rid, created, patient_id, mime, filename, state, cid, error }
//               state: 'recording' (chunks still arriving) | 'stopped'
//               cid: the consultation id once the server made one
//   chunks      { rid, seq, blob }, key [rid, seq]: MediaRecorder's pieces
//               in order (or one piece: a chosen file)
// Chunks are written with strict durability as they arrive, so a crash or
// a reload loses at most the last timeslice.  A recording is deleted only
// after the server has answered the completion of its upload.

const DB_NAME = 'scribe';
const DB_VERSION = 1;
let dbp = null;

function req(r) {
  return new Promise((resolve, reject) => {
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });
}

function done(tx) {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error || new Error('transaction aborted'));
  });
}

export function open() {
  if (dbp) return dbp;
  dbp = new Promise((resolve, reject) => {
    if (!globalThis.indexedDB) {
      reject(new Error('this browser cannot keep recordings (no IndexedDB)'));
      return;
    }
    const r = indexedDB.open(DB_NAME, DB_VERSION);
    r.onupgradeneeded = () => {
      const db = r.result;
      if (!db.objectStoreNames.contains('recordings')) db.createObjectStore('recordings', { keyPath: 'rid' });
      if (!db.objectStoreNames.contains('chunks')) db.createObjectStore('chunks', { keyPath: ['rid', 'seq'] });
    };
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
    r.onblocked = () => reject(new Error('the recordings database is in use by an older tab'));
  });
  dbp.catch(() => { dbp = null; });
  return dbp;
}

async function tx(stores, mode) {
  const db = await open();
  return db.transaction(stores, mode, { durability: 'strict' });
}

export async function putRecording(rec) {
  const t = await tx(['recordings'], 'readwrite');
  t.objectStore('recordings').put(rec);
  await done(t);
}

export async function getRecording(rid) {
  const t = await tx(['recordings'], 'readonly');
  return (await req(t.objectStore('recordings').get(rid))) || null;
}

export async function listRecordings() {
  const t = await tx(['recordings'], 'readonly');
  const all = await req(t.objectStore('recordings').getAll());
  return all.sort((a, b) => a.created - b.created);
}

export async function addChunk(rid, seq, blob) {
  const t = await tx(['chunks'], 'readwrite');
  t.objectStore('chunks').put({ rid, seq, blob });
  await done(t);
}

const range = (rid) => IDBKeyRange.bound([rid, 0], [rid, Number.MAX_SAFE_INTEGER]);

// The chunks of rid, in order.
export async function getChunks(rid) {
  const t = await tx(['chunks'], 'readonly');
  const rows = await req(t.objectStore('chunks').getAll(range(rid)));
  return rows.sort((a, b) => a.seq - b.seq).map((r) => r.blob);
}

export async function deleteRecording(rid) {
  const t = await tx(['recordings', 'chunks'], 'readwrite');
  t.objectStore('chunks').delete(range(rid));
  t.objectStore('recordings').delete(rid);
  await done(t);
}
