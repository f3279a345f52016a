/*
 * results_postgres.c - backend "postgres": result documents in PostgreSQL,
 * table scribe_results (postgres_schema.c), one row per audio key, shared
 * by every API server and worker.
 *
 * Same semantics as results_sqlite.c: status, progress, error reason,
 * metadata and timestamps are columns; the result fields are one JSON text
 * (`doc`, text rather than jsonb so documents come back as stored).  get()
 * builds the merged document: the column values first (audio_key, status,
 * stage_percent, created_at, updated_at, error, patient_id, filename), then
 * every document field whose name is not one of those.
 *
 * list() pages newest first by (created_at_ms, key) (key in the "C"
 * collation); the cursor is the base64url text of "<created_at_ms>:<key>"
 * of the last item returned, as in the sqlite backend.
 *
 * Versions (stamp): every write sets version from the sequence
 * scribe_results_version, so a version never repeats for a key, even
 * across delete and re-create, and across processes.  Timestamps are the
 * database server's clock.
 *
 * Strings that are not valid UTF-8 are refused at insert (metadata) or
 * repaired with U+FFFD (error reasons): PostgreSQL stores UTF-8 only.
 *
 * Connections: a pool of four per handle (postgres.h), opened on demand,
 * reconnecting with backoff; every operation is one statement.
 */
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/error.h"
#include "core/log.h"
#include "queue/postgres.h"
#include "results/results.h"
#include "results/results_util.h"
#include "storage/storage.h"

#define LABEL "results postgres"
#define POOL_SIZE 4

/* The server's clock in epoch milliseconds (the statement's start). */
#define NOW_MS "(floor(extract(epoch FROM now()) * 1000))::bigint"
#define NEXT_VERSION "nextval('scribe_results_version')"

typedef struct pr_results {
  scribe_results base;
  scribe_postgres_pool *pool;
} pr_results;

extern const scribe_results_backend scribe_results_postgres;

/* ---- helpers ---------------------------------------------------------- */

static int64_t col_i64(const PGresult *res, int row, int col) {
  return PQgetisnull(res, row, col) ? 0 : strtoll(PQgetvalue(res, row, col), NULL, 10);
}

/* Column text, NULL for SQL NULL. */
static const unsigned char *col_text(const PGresult *res, int row, int col) {
  return PQgetisnull(res, row, col) ? NULL : (const unsigned char *)PQgetvalue(res, row, col);
}

/* Runs one statement on a pooled connection. */
static int run(pr_results *r, const char *op, const char *sql, int n, const char *const *v,
               PGresult **res) {
  scribe_postgres_conn *c = scribe_postgres_pool_acquire(r->pool);
  int rc = scribe_postgres_exec(c, op, sql, n, v, res);
  scribe_postgres_pool_release(r->pool, c);
  return rc;
}

/* Rows an INSERT/UPDATE/DELETE changed. */
static long changed(const PGresult *res) { return strtol(PQcmdTuples((PGresult *)res), NULL, 10); }


/* ---- create / free ---------------------------------------------------- */

static void pr_free(scribe_results *base) {
  pr_results *r = (pr_results *)base;
  scribe_postgres_pool_free(r->pool);
  free(r);
}

static scribe_results *pr_create(const scribe_results_params *p, char *err, size_t errlen) {
  pr_results *r = calloc(1, sizeof(*r));
  if (!r) {
    snprintf(err, errlen, LABEL ": out of memory");
    return NULL;
  }
  r->base.backend = &scribe_results_postgres;
  r->pool = scribe_postgres_pool_create(p->conninfo, LABEL, POOL_SIZE, err, errlen);
  if (!r->pool) {
    free(r);
    return NULL;
  }
  return &r->base;
}

/* ---- operations ------------------------------------------------------- */

static int pr_insert(scribe_results *base, const char *key, const scribe_record_meta *meta) {
  pr_results *r = (pr_results *)base;
  if ((meta->patient_id && !scribe_results_utf8_valid(meta->patient_id)) ||
      (meta->owner && !scribe_results_utf8_valid(meta->owner)) ||
      (meta->filename && !scribe_results_utf8_valid(meta->filename)))
    return SCRIBE_EINVAL;
  const char *v[] = {key, scribe_status_name(SCRIBE_STATUS_UPLOADED), meta->patient_id,
                     meta->owner, meta->filename};
  PGresult *res = NULL;
  int rc = run(r, "insert",
               "INSERT INTO scribe_results(key, status, percent, patient_id, owner, filename,"
               " created_at_ms, updated_at_ms, version) VALUES($1, $2, 0, $3, $4, $5, " NOW_MS
               ", " NOW_MS ", " NEXT_VERSION ") ON CONFLICT (key) DO NOTHING",
               5, v, &res);
  if (rc) return rc;
  if (changed(res) == 0) rc = SCRIBE_EEXISTS;
  PQclear(res);
  return rc;
}

static int pr_stamp(scribe_results *base, const char *key, scribe_status *status,
                    int64_t *version) {
  pr_results *r = (pr_results *)base;
  const char *v[] = {key};
  PGresult *res = NULL;
  int rc = run(r, "stamp", "SELECT status, version FROM scribe_results WHERE key=$1", 1, v, &res);
  if (rc) return rc;
  if (PQntuples(res) == 0) {
    rc = SCRIBE_ENOTFOUND;
  } else {
    int parsed = scribe_status_parse(PQgetvalue(res, 0, 0));
    *status = parsed < 0 ? SCRIBE_STATUS_FAILED : (scribe_status)parsed;
    *version = col_i64(res, 0, 1);
  }
  PQclear(res);
  return rc;
}

static int pr_get(scribe_results *base, const char *key, json_t **doc) {
  pr_results *r = (pr_results *)base;
  json_t *merged = NULL;
  PGresult *res = NULL;
  const char *v[] = {key};
  int rc = run(r, "get",
               "SELECT status, percent, created_at_ms, updated_at_ms, error, patient_id,"
               " filename, doc FROM scribe_results WHERE key=$1",
               1, v, &res);
  if (rc) return rc;
  if (PQntuples(res) == 0) {
    rc = SCRIBE_ENOTFOUND;
    goto out;
  }
  merged = json_object();
  if (!merged) {
    rc = SCRIBE_ENOMEM;
    goto out;
  }
  if ((rc = scribe_results_put(merged, "audio_key", json_string(key))) ||
      (rc = scribe_results_put(merged, "status", scribe_results_json_text(col_text(res, 0, 0)))) ||
      (rc = scribe_results_put(merged, "stage_percent", json_integer(col_i64(res, 0, 1)))) ||
      (rc = scribe_results_put(merged, "created_at", scribe_results_json_time(col_i64(res, 0, 2)))) ||
      (rc = scribe_results_put(merged, "updated_at", scribe_results_json_time(col_i64(res, 0, 3)))) ||
      (rc = scribe_results_put(merged, "error", scribe_results_json_text(col_text(res, 0, 4)))) ||
      (rc = scribe_results_put(merged, "patient_id", scribe_results_json_text(col_text(res, 0, 5)))) ||
      (rc = scribe_results_put(merged, "filename", scribe_results_json_text(col_text(res, 0, 6)))))
    goto out;
  if (!PQgetisnull(res, 0, 7)) {
    rc = scribe_results_merge_stored(merged, PQgetvalue(res, 0, 7),
                                     (size_t)PQgetlength(res, 0, 7), LABEL);
    if (rc) goto out;
  }
  *doc = merged;
  merged = NULL;
out:
  PQclear(res);
  json_decref(merged);
  return rc;
}

static int pr_set_status(scribe_results *base, const char *key, scribe_status status,
                         int percent, const char *error) {
  pr_results *r = (pr_results *)base;
  char *fixed = NULL;
  if (error && !scribe_results_utf8_valid(error)) {
    fixed = scribe_results_utf8_repair(error);
    if (!fixed) return SCRIBE_ENOMEM;
    error = fixed;
  }
  char pct[16];
  snprintf(pct, sizeof(pct), "%d", percent);
  const char *v[] = {key, scribe_status_name(status), pct, error};
  PGresult *res = NULL;
  int rc = run(r, "set status",
               "UPDATE scribe_results SET status=$2,"
               " percent=CASE WHEN $3::integer < 0 THEN percent ELSE $3::integer END,"
               " error=$4, updated_at_ms=" NOW_MS ", version=" NEXT_VERSION " WHERE key=$1",
               4, v, &res);
  free(fixed);
  if (rc) return rc;
  if (changed(res) == 0) rc = SCRIBE_ENOTFOUND;
  PQclear(res);
  return rc;
}

static int pr_put_result(scribe_results *base, const char *key, json_t *fields) {
  pr_results *r = (pr_results *)base;
  char *text = json_dumps(fields, JSON_COMPACT);
  if (!text) return SCRIBE_ENOMEM;
  const char *v[] = {key, scribe_status_name(SCRIBE_STATUS_COMPLETED), text};
  PGresult *res = NULL;
  int rc = run(r, "put result",
               "UPDATE scribe_results SET status=$2, percent=100, error=NULL, doc=$3,"
               " updated_at_ms=" NOW_MS ", version=" NEXT_VERSION " WHERE key=$1",
               3, v, &res);
  free(text);
  if (rc) return rc;
  if (changed(res) == 0) rc = SCRIBE_ENOTFOUND;
  PQclear(res);
  return rc;
}

static int pr_list(scribe_results *base, int status, const char *cursor, int limit,
                   json_t **items, char **next_cursor) {
  pr_results *r = (pr_results *)base;
  json_t *arr = NULL;
  PGresult *res = NULL;
  int64_t after_ms = 0;
  char after_key[SCRIBE_STORAGE_KEY_MAX + 1];
  if (cursor && scribe_results_cursor_decode(cursor, &after_ms, after_key) != SCRIBE_OK) return SCRIBE_EINVAL;
  char ms[24], lim[16];
  snprintf(ms, sizeof(ms), "%lld", (long long)after_ms);
  snprintf(lim, sizeof(lim), "%d", limit + 1); /* one more tells whether a next page exists */
  const char *v[4];
  int n = 0;
  char sql[512], where_status[32] = "", where_cursor[128] = "";
  if (status >= 0) {
    v[n++] = scribe_status_name((scribe_status)status);
    snprintf(where_status, sizeof(where_status), " AND status=$%d", n);
  }
  if (cursor) {
    v[n++] = ms;
    v[n++] = after_key;
    snprintf(where_cursor, sizeof(where_cursor), " AND (created_at_ms, key) < ($%d::bigint, $%d)",
             n - 1, n);
  }
  v[n++] = lim;
  snprintf(sql, sizeof(sql),
           "SELECT key, status, percent, created_at_ms, updated_at_ms, patient_id, error,"
           " filename FROM scribe_results WHERE true%s%s"
           " ORDER BY created_at_ms DESC, key DESC LIMIT $%d::integer",
           where_status, where_cursor, n);
  int rc = run(r, "list", sql, n, v, &res);
  if (rc) return rc;
  arr = json_array();
  if (!arr) {
    rc = SCRIBE_ENOMEM;
    goto out;
  }
  int rows = PQntuples(res), count = rows > limit ? limit : rows;
  for (int i = 0; i < count; i++) {
    json_t *it = json_object();
    if (!it || json_array_append_new(arr, it) != 0) {
      rc = SCRIBE_ENOMEM;
      goto out;
    }
    if ((rc = scribe_results_put(it, "audio_key", scribe_results_json_text(col_text(res, i, 0)))) ||
        (rc = scribe_results_put(it, "status", scribe_results_json_text(col_text(res, i, 1)))) ||
        (rc = scribe_results_put(it, "stage_percent", json_integer(col_i64(res, i, 2)))) ||
        (rc = scribe_results_put(it, "created_at", scribe_results_json_time(col_i64(res, i, 3)))) ||
        (rc = scribe_results_put(it, "updated_at", scribe_results_json_time(col_i64(res, i, 4)))) ||
        (rc = scribe_results_put(it, "patient_id", scribe_results_json_text(col_text(res, i, 5)))) ||
        (rc = scribe_results_put(it, "error", scribe_results_json_text(col_text(res, i, 6)))) ||
        (rc = scribe_results_put(it, "filename", scribe_results_json_text(col_text(res, i, 7)))))
      goto out;
  }
  if (rows > limit && count > 0) {
    *next_cursor = scribe_results_cursor_encode(col_i64(res, count - 1, 3), PQgetvalue(res, count - 1, 0));
    if (!*next_cursor) {
      rc = SCRIBE_ENOMEM;
      goto out;
    }
  }
  *items = arr;
  arr = NULL;
out:
  PQclear(res);
  json_decref(arr);
  return rc;
}

static int pr_remove(scribe_results *base, const char *key) {
  pr_results *r = (pr_results *)base;
  const char *v[] = {key};
  PGresult *res = NULL;
  int rc = run(r, "remove", "DELETE FROM scribe_results WHERE key=$1", 1, v, &res);
  if (rc) return rc;
  if (changed(res) == 0) rc = SCRIBE_ENOTFOUND;
  PQclear(res);
  return rc;
}

const scribe_results_backend scribe_results_postgres = {
    .version = 1,
    .name = "postgres",
    .create = pr_create,
    .free = pr_free,
    .insert = pr_insert,
    .get = pr_get,
    .set_status = pr_set_status,
    .put_result = pr_put_result,
    .list = pr_list,
    .remove = pr_remove,
    .stamp = pr_stamp,
};
