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
#include "storage/storage.h"

#define LABEL "results postgres"
#define POOL_SIZE 4
#define CURSOR_MAX 2048

/* The server's clock in epoch milliseconds (the statement's start). */
#define NOW_MS "(floor(extract(epoch FROM now()) * 1000))::bigint"
#define NEXT_VERSION "nextval('scribe_results_version')"

typedef struct pr_results {
  scribe_results base;
  scribe_postgres_pool *pool;
} pr_results;

extern const scribe_results_backend scribe_results_postgres;

/* Column-backed names in the merged document, in output order. */
static const char *const column_fields[] = {
    "audio_key", "status", "stage_percent", "created_at", "updated_at",
    "error",     "patient_id", "filename",  NULL,
};

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

/* Length of the well-formed UTF-8 sequence at s (n bytes left), 0 when the
 * bytes there are not one (overlong forms, surrogates and values above
 * U+10FFFF included). */
static size_t utf8_seq(const unsigned char *s, size_t n) {
  unsigned c = s[0];
  if (c < 0x80) return 1;
  size_t len;
  uint32_t cp, min;
  if (c >= 0xC2 && c <= 0xDF) {
    len = 2, cp = c & 0x1F, min = 0x80;
  } else if ((c & 0xF0) == 0xE0) {
    len = 3, cp = c & 0x0F, min = 0x800;
  } else if (c >= 0xF0 && c <= 0xF4) {
    len = 4, cp = c & 0x07, min = 0x10000;
  } else {
    return 0;
  }
  if (n < len) return 0;
  for (size_t i = 1; i < len; i++) {
    if ((s[i] & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (s[i] & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return len;
}

static bool utf8_valid(const char *s) {
  size_t n = strlen(s);
  for (size_t i = 0; i < n;) {
    size_t k = utf8_seq((const unsigned char *)s + i, n - i);
    if (!k) return false;
    i += k;
  }
  return true;
}

/* Copy of s with every byte that is not part of a well-formed sequence
 * replaced by U+FFFD; the caller free()s it.  NULL when out of memory. */
static char *utf8_repair(const char *s) {
  size_t n = strlen(s);
  if (n > (SIZE_MAX - 1) / 3) return NULL;
  char *out = malloc(3 * n + 1);
  if (!out) return NULL;
  size_t o = 0;
  for (size_t i = 0; i < n;) {
    size_t k = utf8_seq((const unsigned char *)s + i, n - i);
    if (k) {
      memcpy(out + o, s + i, k);
      o += k;
      i += k;
    } else {
      memcpy(out + o, "\xEF\xBF\xBD", 3);
      o += 3;
      i++;
    }
  }
  out[o] = '\0';
  return out;
}

/* JSON string for a column value: null for NULL, repaired when needed. */
static json_t *json_text(const unsigned char *s) {
  if (!s) return json_null();
  json_t *j = json_string((const char *)s);
  if (j) return j;
  char *fixed = utf8_repair((const char *)s);
  j = fixed ? json_string(fixed) : NULL;
  free(fixed);
  return j;
}

/* RFC 3339 UTC with milliseconds: 2024-05-01T12:34:56.789Z */
static json_t *json_time(int64_t ms) {
  time_t secs = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
  int milli = (int)(ms - (int64_t)secs * 1000);
  struct tm tm;
  char buf[96]; /* room for any int the compiler can imagine */
  if (!gmtime_r(&secs, &tm)) return json_null();
  snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
           tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, milli);
  return json_string(buf);
}

/* Adds name=value to obj, stealing value; SCRIBE_ENOMEM on failure. */
static int put(json_t *obj, const char *name, json_t *value) {
  if (!value) return SCRIBE_ENOMEM;
  return json_object_set_new(obj, name, value) == 0 ? SCRIBE_OK : SCRIBE_ENOMEM;
}

/* ---- cursors: base64url("<ms>:<key>") ---------------------------------- */

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static char *cursor_encode(int64_t ms, const char *key) {
  char raw[32 + SCRIBE_STORAGE_KEY_MAX];
  int n = snprintf(raw, sizeof(raw), "%lld:%s", (long long)ms, key);
  if (n < 0 || (size_t)n >= sizeof(raw)) return NULL;
  size_t len = (size_t)n;
  char *out = malloc((len + 2) / 3 * 4 + 1);
  if (!out) return NULL;
  size_t o = 0;
  for (size_t i = 0; i < len; i += 3) {
    uint32_t v = (uint32_t)(unsigned char)raw[i] << 16;
    if (i + 1 < len) v |= (uint32_t)(unsigned char)raw[i + 1] << 8;
    if (i + 2 < len) v |= (unsigned char)raw[i + 2];
    out[o++] = b64[(v >> 18) & 63];
    out[o++] = b64[(v >> 12) & 63];
    if (i + 1 < len) out[o++] = b64[(v >> 6) & 63];
    if (i + 2 < len) out[o++] = b64[v & 63];
  }
  out[o] = '\0';
  return out;
}

static int b64_value(char c) {
  const char *p = c ? strchr(b64, c) : NULL;
  return p ? (int)(p - b64) : -1;
}

/* Parses a cursor into ms and key (key has SCRIBE_STORAGE_KEY_MAX+1 bytes).
 * SCRIBE_EINVAL for anything we did not produce. */
static int cursor_decode(const char *cur, int64_t *ms, char *key) {
  size_t n = strnlen(cur, CURSOR_MAX + 1);
  if (n == 0 || n > CURSOR_MAX || n % 4 == 1) return SCRIBE_EINVAL;
  unsigned char raw[CURSOR_MAX];
  size_t len = 0;
  uint32_t acc = 0;
  int bits = 0;
  for (size_t i = 0; i < n; i++) {
    int v = b64_value(cur[i]);
    if (v < 0) return SCRIBE_EINVAL;
    acc = (acc << 6) | (uint32_t)v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      raw[len++] = (unsigned char)(acc >> bits);
      acc &= (1u << bits) - 1;
    }
  }
  if (acc != 0) return SCRIBE_EINVAL; /* non-canonical trailing bits */
  size_t i = 0;
  int64_t v = 0;
  while (i < len && raw[i] >= '0' && raw[i] <= '9') {
    if (i >= 15) return SCRIBE_EINVAL; /* more digits than any epoch ms */
    v = v * 10 + (raw[i] - '0');
    i++;
  }
  if (i == 0 || i >= len || raw[i] != ':') return SCRIBE_EINVAL;
  size_t klen = len - i - 1;
  if (klen == 0 || klen > SCRIBE_STORAGE_KEY_MAX) return SCRIBE_EINVAL;
  memcpy(key, raw + i + 1, klen);
  key[klen] = '\0';
  if (!scribe_storage_key_valid(key)) return SCRIBE_EINVAL;
  *ms = v;
  return SCRIBE_OK;
}

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
  if ((meta->patient_id && !utf8_valid(meta->patient_id)) ||
      (meta->owner && !utf8_valid(meta->owner)) ||
      (meta->filename && !utf8_valid(meta->filename)))
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

static bool is_column_field(const char *name) {
  for (size_t i = 0; column_fields[i]; i++)
    if (strcmp(column_fields[i], name) == 0) return true;
  return false;
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
  json_t *merged = NULL, *fields = NULL;
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
  if ((rc = put(merged, "audio_key", json_string(key))) ||
      (rc = put(merged, "status", json_text(col_text(res, 0, 0)))) ||
      (rc = put(merged, "stage_percent", json_integer(col_i64(res, 0, 1)))) ||
      (rc = put(merged, "created_at", json_time(col_i64(res, 0, 2)))) ||
      (rc = put(merged, "updated_at", json_time(col_i64(res, 0, 3)))) ||
      (rc = put(merged, "error", json_text(col_text(res, 0, 4)))) ||
      (rc = put(merged, "patient_id", json_text(col_text(res, 0, 5)))) ||
      (rc = put(merged, "filename", json_text(col_text(res, 0, 6)))))
    goto out;
  if (!PQgetisnull(res, 0, 7)) {
    json_error_t jerr;
    fields = json_loadb(PQgetvalue(res, 0, 7), (size_t)PQgetlength(res, 0, 7), JSON_ALLOW_NUL,
                        &jerr);
    if (!json_is_object(fields)) {
      /* Never expected: we only store objects.  Serve the columns. */
      LOG_WARN(LABEL ": stored document is not a JSON object (line %d)", jerr.line);
    } else {
      const char *name;
      json_t *value;
      json_object_foreach(fields, name, value) {
        if (is_column_field(name)) continue;
        if (json_object_set(merged, name, value) != 0) {
          rc = SCRIBE_ENOMEM;
          goto out;
        }
      }
    }
  }
  *doc = merged;
  merged = NULL;
out:
  PQclear(res);
  json_decref(fields);
  json_decref(merged);
  return rc;
}

static int pr_set_status(scribe_results *base, const char *key, scribe_status status,
                         int percent, const char *error) {
  pr_results *r = (pr_results *)base;
  char *fixed = NULL;
  if (error && !utf8_valid(error)) {
    fixed = utf8_repair(error);
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
  if (cursor && cursor_decode(cursor, &after_ms, after_key) != SCRIBE_OK) return SCRIBE_EINVAL;
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
    if ((rc = put(it, "audio_key", json_text(col_text(res, i, 0)))) ||
        (rc = put(it, "status", json_text(col_text(res, i, 1)))) ||
        (rc = put(it, "stage_percent", json_integer(col_i64(res, i, 2)))) ||
        (rc = put(it, "created_at", json_time(col_i64(res, i, 3)))) ||
        (rc = put(it, "updated_at", json_time(col_i64(res, i, 4)))) ||
        (rc = put(it, "patient_id", json_text(col_text(res, i, 5)))) ||
        (rc = put(it, "error", json_text(col_text(res, i, 6)))) ||
        (rc = put(it, "filename", json_text(col_text(res, i, 7)))))
      goto out;
  }
  if (rows > limit && count > 0) {
    *next_cursor = cursor_encode(col_i64(res, count - 1, 3), PQgetvalue(res, count - 1, 0));
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
