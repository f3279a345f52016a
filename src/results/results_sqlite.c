/*
 * results_sqlite.c - backend "sqlite": result documents in one SQLite file
 * (WAL), table `results`, one row per audio key.
 *
 * Status, progress, error reason, metadata and timestamps are columns; the
 * result fields are one JSON text (`doc`).  get() builds the merged document:
 * the column values first (audio_key, status, stage_percent, created_at,
 * updated_at, error, patient_id, filename), then every document field whose
 * name is not one of those, so the columns always win.
 *
 * list() pages newest first by (created_at_ms, key); the cursor is the
 * base64url text of "<created_at_ms>:<key>" of the last item returned.
 *
 * Text is stored as given; strings that are not valid UTF-8 are refused at
 * insert (metadata) or repaired with U+FFFD (error reasons), so the JSON we
 * produce is always valid.
 *
 * The database may be shared with the queue: this file only touches
 * `results` and its own row in `scribe_schema`.  One connection per handle,
 * used under the handle's mutex.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"
#include "core/error.h"
#include "core/log.h"
#include "db/sqlite_db.h"
#include "results/results.h"
#include "results/results_util.h"
#include "storage/storage.h"

#define SCHEMA_COMPONENT "results"
#define SCHEMA_VERSION 1
#define BUSY_TIMEOUT_MS 5000

/* Reads of single documents (GET /result/{key}, the hot path) go through
 * a few read-only connections with a cached statement each, so HTTP threads
 * do not queue on the writer's mutex (WAL lets readers run beside it). */
#define READERS 4

typedef struct sr_reader {
  pthread_mutex_t mu;
  sqlite3 *db;
  sqlite3_stmt *get;
  sqlite3_stmt *stamp;
} sr_reader;

typedef struct sr_results {
  scribe_results base;
  sqlite3 *db;
  pthread_mutex_t mu;
  sr_reader readers[READERS];
  unsigned next_reader;
} sr_results;

/* Every write moves `version` forward: past its old value and to at least
 * next_version(), a clock in microseconds that never repeats in this
 * process, so a key deleted and created again never repeats a version
 * (readers cache by (key, version)). */
#define VERSION_BUMP(param) "version=MAX(version + 1, ?" #param ")"

#define STAMP_SQL "SELECT status, version FROM results WHERE key=?1"

#define GET_SQL                                                                \
  "SELECT status, percent, created_at_ms, updated_at_ms, error, patient_id,"   \
  " filename, doc FROM results WHERE key=?1"

extern const scribe_results_backend scribe_results_sqlite;

/* ---- helpers ---------------------------------------------------------- */

static int64_t next_version(void) {
  static _Atomic int64_t last;
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  int64_t v = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
  int64_t prev = atomic_load(&last);
  for (;;) {
    int64_t want = v > prev ? v : prev + 1;
    if (atomic_compare_exchange_weak(&last, &prev, want)) return want;
  }
}

static int fail_sql(sr_results *r, int rc, const char *op) {
  LOG_WARN("results sqlite: %s: %s (%d)", op, sqlite3_errmsg(r->db), rc);
  return scribe_sqlite_map(rc);
}

static int prepare(sr_results *r, const char *sql, sqlite3_stmt **st) {
  int rc = sqlite3_prepare_v2(r->db, sql, -1, st, NULL);
  if (rc != SQLITE_OK) {
    *st = NULL;
    return fail_sql(r, rc, "prepare");
  }
  return SCRIBE_OK;
}

/* Steps a statement that returns no row and finalizes it. */
static int step_done(sr_results *r, sqlite3_stmt *st, const char *op) {
  int s = sqlite3_step(st);
  int rc = s == SQLITE_DONE ? SCRIBE_OK : fail_sql(r, s, op);
  sqlite3_finalize(st);
  return rc;
}


/* ---- schema ----------------------------------------------------------- */

static const char schema_v1[] =
    "CREATE TABLE IF NOT EXISTS results("
    " key TEXT PRIMARY KEY NOT NULL,"
    " status TEXT NOT NULL,"
    " percent INTEGER NOT NULL DEFAULT 0,"
    " error TEXT,"
    " patient_id TEXT,"
    " owner TEXT,"
    " filename TEXT,"
    " created_at_ms INTEGER NOT NULL,"
    " updated_at_ms INTEGER NOT NULL,"
    " doc TEXT,"
    " version INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX IF NOT EXISTS results_created ON results(created_at_ms, key);"
    "CREATE INDEX IF NOT EXISTS results_status_created ON results(status, created_at_ms, key);";


/* ---- create / free ---------------------------------------------------- */

static void sr_free(scribe_results *base) {
  sr_results *r = (sr_results *)base;
  for (int i = 0; i < READERS; i++) {
    sqlite3_finalize(r->readers[i].get);
    sqlite3_finalize(r->readers[i].stamp);
    if (r->readers[i].db) sqlite3_close_v2(r->readers[i].db);
    pthread_mutex_destroy(&r->readers[i].mu);
  }
  if (r->db) sqlite3_close_v2(r->db);
  pthread_mutex_destroy(&r->mu);
  free(r);
}

static scribe_results *sr_create(const scribe_results_params *p, char *err, size_t errlen) {
  if (!p->path || !p->path[0]) {
    snprintf(err, errlen, "results sqlite: database path is not set");
    return NULL;
  }
  sr_results *r = calloc(1, sizeof(*r));
  if (!r) {
    snprintf(err, errlen, "results sqlite: out of memory");
    return NULL;
  }
  r->base.backend = &scribe_results_sqlite;
  pthread_mutex_init(&r->mu, NULL);
  for (int i = 0; i < READERS; i++) pthread_mutex_init(&r->readers[i].mu, NULL);
  r->db = scribe_sqlite_open(p->path, BUSY_TIMEOUT_MS, "results sqlite", err, errlen);
  if (!r->db) goto fail;
  if (scribe_sqlite_schema(r->db, SCHEMA_COMPONENT, SCHEMA_VERSION, schema_v1, "results sqlite", err,
                           errlen))
    goto fail;
  for (int i = 0; i < READERS; i++) {
    sr_reader *rd = &r->readers[i];
    if (sqlite3_open_v2(p->path, &rd->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL) !=
            SQLITE_OK ||
        sqlite3_prepare_v3(rd->db, GET_SQL, -1, SQLITE_PREPARE_PERSISTENT, &rd->get, NULL) !=
            SQLITE_OK ||
        sqlite3_prepare_v3(rd->db, STAMP_SQL, -1, SQLITE_PREPARE_PERSISTENT, &rd->stamp,
                           NULL) != SQLITE_OK) {
      snprintf(err, errlen, "results sqlite: cannot open a reader on %s: %s", p->path,
               rd->db ? sqlite3_errmsg(rd->db) : "out of memory");
      goto fail;
    }
    sqlite3_busy_timeout(rd->db, BUSY_TIMEOUT_MS);
  }
  return &r->base;

fail:
  sr_free(&r->base);
  return NULL;
}

/* ---- operations ------------------------------------------------------- */

static int sr_insert(scribe_results *base, const char *key, const scribe_record_meta *meta) {
  sr_results *r = (sr_results *)base;
  if ((meta->patient_id && !scribe_results_utf8_valid(meta->patient_id)) ||
      (meta->owner && !scribe_results_utf8_valid(meta->owner)) ||
      (meta->filename && !scribe_results_utf8_valid(meta->filename)))
    return SCRIBE_EINVAL;
  sqlite3_stmt *st = NULL;
  int64_t now = scribe_now_ms();
  pthread_mutex_lock(&r->mu);
  int rc = prepare(r,
                   "INSERT INTO results(key, status, percent, patient_id, owner, filename,"
                   " created_at_ms, updated_at_ms, version) VALUES(?1, ?2, 0, ?3, ?4, ?5, ?6, ?6, ?7)"
                   " ON CONFLICT(key) DO NOTHING",
                   &st);
  if (rc) goto out;
  sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, scribe_status_name(SCRIBE_STATUS_UPLOADED), -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 3, meta->patient_id, -1, SQLITE_STATIC); /* NULL binds NULL */
  sqlite3_bind_text(st, 4, meta->owner, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 5, meta->filename, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 6, now);
  sqlite3_bind_int64(st, 7, next_version());
  rc = step_done(r, st, "insert");
  if (rc == SCRIBE_OK && sqlite3_changes(r->db) == 0) rc = SCRIBE_EEXISTS;
out:
  pthread_mutex_unlock(&r->mu);
  return rc;
}

/* Takes a free reader if there is one, else waits for the next in turn.
 * Returns it locked. */
static sr_reader *reader_acquire(sr_results *r) {
  for (int i = 0; i < READERS; i++)
    if (pthread_mutex_trylock(&r->readers[i].mu) == 0) return &r->readers[i];
  sr_reader *rd =
      &r->readers[__atomic_fetch_add(&r->next_reader, 1, __ATOMIC_RELAXED) % READERS];
  pthread_mutex_lock(&rd->mu);
  return rd;
}

static int sr_stamp(scribe_results *base, const char *key, scribe_status *status,
                    int64_t *version) {
  sr_results *r = (sr_results *)base;
  sr_reader *rd = reader_acquire(r);
  sqlite3_stmt *st = rd->stamp;
  int rc = SCRIBE_OK;
  sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
  int s = sqlite3_step(st);
  if (s == SQLITE_ROW) {
    int parsed = scribe_status_parse((const char *)sqlite3_column_text(st, 0));
    *status = parsed < 0 ? SCRIBE_STATUS_FAILED : (scribe_status)parsed;
    *version = sqlite3_column_int64(st, 1);
  } else if (s == SQLITE_DONE) {
    rc = SCRIBE_ENOTFOUND;
  } else {
    LOG_WARN("results sqlite: stamp: %s (%d)", sqlite3_errmsg(rd->db), s);
    rc = scribe_sqlite_map(s);
  }
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  pthread_mutex_unlock(&rd->mu);
  return rc;
}

static int sr_get(scribe_results *base, const char *key, json_t **doc) {
  sr_results *r = (sr_results *)base;
  json_t *merged = NULL;
  sr_reader *rd = reader_acquire(r);
  sqlite3_stmt *st = rd->get;
  int rc = SCRIBE_OK;
  sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
  int s = sqlite3_step(st);
  if (s == SQLITE_DONE) {
    rc = SCRIBE_ENOTFOUND;
    goto out;
  }
  if (s != SQLITE_ROW) {
    LOG_WARN("results sqlite: get: %s (%d)", sqlite3_errmsg(rd->db), s);
    rc = scribe_sqlite_map(s);
    goto out;
  }
  merged = json_object();
  if (!merged) {
    rc = SCRIBE_ENOMEM;
    goto out;
  }
  if ((rc = scribe_results_put(merged, "audio_key", json_string(key))) ||
      (rc = scribe_results_put(merged, "status", scribe_results_json_text(sqlite3_column_text(st, 0)))) ||
      (rc = scribe_results_put(merged, "stage_percent", json_integer(sqlite3_column_int(st, 1)))) ||
      (rc = scribe_results_put(merged, "created_at", scribe_results_json_time(sqlite3_column_int64(st, 2)))) ||
      (rc = scribe_results_put(merged, "updated_at", scribe_results_json_time(sqlite3_column_int64(st, 3)))) ||
      (rc = scribe_results_put(merged, "error", scribe_results_json_text(sqlite3_column_text(st, 4)))) ||
      (rc = scribe_results_put(merged, "patient_id", scribe_results_json_text(sqlite3_column_text(st, 5)))) ||
      (rc = scribe_results_put(merged, "filename", scribe_results_json_text(sqlite3_column_text(st, 6)))))
    goto out;
  const char *text = (const char *)sqlite3_column_text(st, 7);
  if (text) {
    rc = scribe_results_merge_stored(merged, text, (size_t)sqlite3_column_bytes(st, 7),
                                     "results sqlite");
    if (rc) goto out;
  }
  *doc = merged;
  merged = NULL;
out:
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  pthread_mutex_unlock(&rd->mu);
  json_decref(merged);
  return rc;
}

static int sr_set_status(scribe_results *base, const char *key, scribe_status status,
                         int percent, const char *error) {
  sr_results *r = (sr_results *)base;
  sqlite3_stmt *st = NULL;
  char *fixed = NULL;
  if (error && !scribe_results_utf8_valid(error)) {
    fixed = scribe_results_utf8_repair(error);
    if (!fixed) return SCRIBE_ENOMEM;
    error = fixed;
  }
  pthread_mutex_lock(&r->mu);
  int rc = prepare(r,
                   "UPDATE results SET status=?2,"
                   " percent=CASE WHEN ?3 < 0 THEN percent ELSE ?3 END,"
                   " error=?4, updated_at_ms=?5, " VERSION_BUMP(6) " WHERE key=?1",
                   &st);
  if (rc) goto out;
  sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, scribe_status_name(status), -1, SQLITE_STATIC);
  sqlite3_bind_int(st, 3, percent);
  sqlite3_bind_text(st, 4, error, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 5, scribe_now_ms());
  sqlite3_bind_int64(st, 6, next_version());
  rc = step_done(r, st, "set status");
  if (rc == SCRIBE_OK && sqlite3_changes(r->db) == 0) rc = SCRIBE_ENOTFOUND;
out:
  pthread_mutex_unlock(&r->mu);
  free(fixed);
  return rc;
}

static int sr_put_result(scribe_results *base, const char *key, json_t *fields) {
  sr_results *r = (sr_results *)base;
  sqlite3_stmt *st = NULL;
  char *text = json_dumps(fields, JSON_COMPACT);
  if (!text) return SCRIBE_ENOMEM;
  pthread_mutex_lock(&r->mu);
  int rc = prepare(r,
                   "UPDATE results SET status=?2, percent=100, error=NULL, doc=?3,"
                   " updated_at_ms=?4, " VERSION_BUMP(5) " WHERE key=?1",
                   &st);
  if (rc) goto out;
  sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, scribe_status_name(SCRIBE_STATUS_COMPLETED), -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 3, text, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 4, scribe_now_ms());
  sqlite3_bind_int64(st, 5, next_version());
  rc = step_done(r, st, "put result");
  if (rc == SCRIBE_OK && sqlite3_changes(r->db) == 0) rc = SCRIBE_ENOTFOUND;
out:
  pthread_mutex_unlock(&r->mu);
  free(text);
  return rc;
}

static int sr_list(scribe_results *base, int status, const char *cursor, int limit,
                   json_t **items, char **next_cursor) {
  sr_results *r = (sr_results *)base;
  sqlite3_stmt *st = NULL;
  json_t *arr = NULL;
  int64_t after_ms = 0;
  char after_key[SCRIBE_STORAGE_KEY_MAX + 1];
  char last_key[SCRIBE_STORAGE_KEY_MAX + 1];
  int64_t last_ms = 0;
  if (cursor && scribe_results_cursor_decode(cursor, &after_ms, after_key) != SCRIBE_OK) return SCRIBE_EINVAL;
  char sql[512];
  snprintf(sql, sizeof(sql),
           "SELECT key, status, percent, created_at_ms, updated_at_ms, patient_id, error,"
           " filename FROM results WHERE 1%s%s"
           " ORDER BY created_at_ms DESC, key DESC LIMIT ?4",
           status >= 0 ? " AND status=?1" : "",
           cursor ? " AND (created_at_ms < ?2 OR (created_at_ms = ?2 AND key < ?3))" : "");
  pthread_mutex_lock(&r->mu);
  int rc = prepare(r, sql, &st);
  if (rc) goto out;
  if (status >= 0)
    sqlite3_bind_text(st, 1, scribe_status_name((scribe_status)status), -1, SQLITE_STATIC);
  if (cursor) {
    sqlite3_bind_int64(st, 2, after_ms);
    sqlite3_bind_text(st, 3, after_key, -1, SQLITE_STATIC);
  }
  sqlite3_bind_int(st, 4, limit + 1); /* one more tells whether a next page exists */
  arr = json_array();
  if (!arr) {
    rc = SCRIBE_ENOMEM;
    goto out;
  }
  int s, count = 0;
  bool more = false;
  while ((s = sqlite3_step(st)) == SQLITE_ROW) {
    if (count == limit) {
      more = true;
      break;
    }
    const char *k = (const char *)sqlite3_column_text(st, 0);
    json_t *it = json_object();
    if (!it || json_array_append_new(arr, it) != 0) {
      rc = SCRIBE_ENOMEM;
      goto out;
    }
    if ((rc = scribe_results_put(it, "audio_key", scribe_results_json_text((const unsigned char *)k))) ||
        (rc = scribe_results_put(it, "status", scribe_results_json_text(sqlite3_column_text(st, 1)))) ||
        (rc = scribe_results_put(it, "stage_percent", json_integer(sqlite3_column_int(st, 2)))) ||
        (rc = scribe_results_put(it, "created_at", scribe_results_json_time(sqlite3_column_int64(st, 3)))) ||
        (rc = scribe_results_put(it, "updated_at", scribe_results_json_time(sqlite3_column_int64(st, 4)))) ||
        (rc = scribe_results_put(it, "patient_id", scribe_results_json_text(sqlite3_column_text(st, 5)))) ||
        (rc = scribe_results_put(it, "error", scribe_results_json_text(sqlite3_column_text(st, 6)))) ||
        (rc = scribe_results_put(it, "filename", scribe_results_json_text(sqlite3_column_text(st, 7)))))
      goto out;
    last_ms = sqlite3_column_int64(st, 3);
    snprintf(last_key, sizeof(last_key), "%s", k ? k : "");
    count++;
  }
  if (!more && s != SQLITE_DONE) {
    rc = fail_sql(r, s, "list");
    goto out;
  }
  if (more) {
    *next_cursor = scribe_results_cursor_encode(last_ms, last_key);
    if (!*next_cursor) {
      rc = SCRIBE_ENOMEM;
      goto out;
    }
  }
  *items = arr;
  arr = NULL;
out:
  sqlite3_finalize(st);
  pthread_mutex_unlock(&r->mu);
  json_decref(arr);
  return rc;
}

static int sr_remove(scribe_results *base, const char *key) {
  sr_results *r = (sr_results *)base;
  sqlite3_stmt *st = NULL;
  pthread_mutex_lock(&r->mu);
  int rc = prepare(r, "DELETE FROM results WHERE key=?1", &st);
  if (rc) goto out;
  sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
  rc = step_done(r, st, "remove");
  if (rc == SCRIBE_OK && sqlite3_changes(r->db) == 0) rc = SCRIBE_ENOTFOUND;
out:
  pthread_mutex_unlock(&r->mu);
  return rc;
}

const scribe_results_backend scribe_results_sqlite = {
    .version = 1,
    .name = "sqlite",
    .create = sr_create,
    .free = sr_free,
    .insert = sr_insert,
    .get = sr_get,
    .set_status = sr_set_status,
    .put_result = sr_put_result,
    .list = sr_list,
    .remove = sr_remove,
    .stamp = sr_stamp,
};
